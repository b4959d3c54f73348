// The Prometheus endpoint ("metrics.listen", issue 15 item 4) on both hosts of the harness: after a
// REGISTER and an OPTIONS through the server, GET /metrics answers 200 in the text exposition format
// 0.0.4 with the values that must follow (one binding, one reg-add event, at least two messages in and
// out), every family with # HELP and # TYPE, the same values as the stats line logged right after, no -1;
// `promtool check metrics` (Debian's prometheus package; this test fails, never skips, without it)
// accepts the body; another path is 404. Clients that send garbage, an oversized head or nothing at all
// (more of them than the endpoint keeps) do not stop SIP service: OPTIONS is still answered at once and
// a scrape still works; silent clients are closed after the endpoint's timeout. Both hosts serve the
// same families with the same help and type; a stat the core answers -1 for (not in its build) is left out.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { connect, createServer } from "node:net";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { withServer, freePort, settle, scratch, root, HOSTS } from "../integration/harness.mjs";

const HOST_ARGV = { node: [process.execPath, join(root, "host/node/cli.mjs")], native: [join(root, "build/server/sipling")] };
import { Ua, request, response, status, firstLine, hdrs } from "../lib/sipua.mjs";

const ABI = JSON.parse(readFileSync(join(root, "host/shared/abi.json"), "utf8"));
const TIMEOUT_MS = 5000; // host/c/metrics.h METRICS_TIMEOUT_MS, host/node/metrics.ts TIMEOUT_MS
const MAX_CLIENTS = 8;

/**
 * Parses a text exposition (format 0.0.4) into Map(family -> { help, type, samples: [{ name, labels, value }] }),
 * failing on any line it does not understand or a sample of an undeclared family.
 */
function parse(text) {
  const fams = new Map();
  const fam = (name) => {
    if (!fams.has(name)) fams.set(name, { help: undefined, type: undefined, samples: [] });
    return fams.get(name);
  };
  assert.ok(text.endsWith("\n"), "the body ends with a newline");
  for (const line of text.slice(0, -1).split("\n")) {
    let m;
    if ((m = /^# HELP (\S+) (.+)$/.exec(line))) fam(m[1]).help = m[2];
    else if ((m = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(line))) fam(m[1]).type = m[2];
    else if ((m = /^([a-z_][a-z0-9_]*)(?:\{(.*)\})? (-?[0-9.e+]+)$/.exec(line))) {
      // a histogram's samples are its name with _bucket, _sum or _count
      const h = /^(.*)_(bucket|sum|count)$/.exec(m[1]);
      const family = fams.has(m[1]) ? m[1] : h && fams.get(h[1])?.type === "histogram" ? h[1] : null;
      assert.ok(family, `sample of an undeclared family: ${line}`);
      const labels = {};
      for (const [, k, v] of (m[2] ?? "").matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)) labels[k] = v;
      fams.get(family).samples.push({ name: m[1], labels, value: Number(m[3]) });
    } else assert.fail(`unexpected line in the exposition: ${JSON.stringify(line)}`);
  }
  return fams;
}

/** The value of one sample; fails (never 0) when the family or the labelled sample is absent. */
function value(fams, name, labels = {}) {
  const f = fams.get(name);
  assert.ok(f, `family ${name} is served`);
  const s = f.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(s, `${name}${JSON.stringify(labels)} is served`);
  return s.value;
}

/** A raw TCP exchange with the endpoint: sends `data` (if any), resolves with what came back and whether the server closed. */
function raw(port, data, { waitMs = 2000 } = {}) {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    let done = false;
    const finish = (closed) => { if (done) return; done = true; clearTimeout(t); s.destroy(); resolve({ got, closed }); };
    const t = setTimeout(() => finish(false), waitMs);
    s.on("connect", () => { if (data !== undefined) s.write(data); });
    s.on("data", (d) => { got += d.toString("latin1"); });
    s.on("close", () => finish(true));
    s.on("error", () => finish(true));
  });
}

/** Opens a connection that sends nothing; resolves when connected with { sock, closed: Promise<ms after open> }. */
function silent(port) {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const s = connect(port, "127.0.0.1");
    const closed = new Promise((r) => s.on("close", () => r(Date.now() - t0)));
    s.on("error", () => {});
    s.once("connect", () => resolve({ sock: s, closed }));
    s.once("error", reject);
  });
}

function promtool(body) {
  const r = spawnSync("promtool", ["check", "metrics"], { input: body, encoding: "utf8", timeout: 30_000 });
  if (r.error) assert.fail(`promtool: ${r.error.message} (tools/setup.mjs installs Debian's prometheus package)`);
  return r;
}

const options = (ua) => request(ua, { method: "OPTIONS", ruri: "sip:127.0.0.1", from: "sip:monitor@127.0.0.1", contact: null });
const bodies = {};

for (const host of HOSTS) {
  test(`${host}: /metrics after a REGISTER and an OPTIONS: exact values, HELP and TYPE for every family, the stats line's values, promtool accepts it; another path is 404`, async () => {
    const mport = await freePort();
    const config = { metrics: { listen: `127.0.0.1:${mport}` }, usageLog: scratch("usage.jsonl", "") };
    await withServer({ host, config, trace: false, logLevel: "info" }, async (srv) => {
      const url = `http://127.0.0.1:${mport}/metrics`;
      assert.ok(srv.logs.some((o) => o.msg === "metrics listening" && o.url === url), "the endpoint is logged with its URL");
      const ua = await Ua.open();
      try {
        const reg = await ua.request(srv, request(ua, { method: "REGISTER", ruri: "sip:127.0.0.1", from: "sip:alice@127.0.0.1", to: "sip:alice@127.0.0.1",
          contact: `<sip:alice@127.0.0.1:${ua.port}>`, extra: ["Expires: 600"] }));
        assert.equal(status(reg), 200, `REGISTER: ${firstLine(reg)}`);
        const opt = await ua.request(srv, options(ua));
        assert.equal(status(opt), 200, `OPTIONS: ${firstLine(opt)}`);
        // a MESSAGE to alice, forwarded to her (this ua), answered 200: one "other" response timed
        const msg = request(ua, { method: "MESSAGE", ruri: "sip:alice@127.0.0.1", from: "sip:bob@127.0.0.1", contact: null, body: "hi", extra: ["Content-Type: text/plain"] });
        const fwd = ua.waitFor((m) => m.startsWith("MESSAGE "), 3000);
        ua.send(msg, srv.port);
        const got = await fwd;
        assert.ok(got, "the MESSAGE is forwarded to alice");
        const back = ua.waitFor((m) => status(m) === 200 && /MESSAGE/.test(hdrs(m, "CSeq")[0] ?? ""), 3000);
        ua.send(response(got, 200, "OK", { toTag: "a1" }), srv.port);
        assert.ok(await back, "its 200 comes back upstream");
      } finally { ua.close(); }

      const res = await fetch(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
      const body = await res.text();
      bodies[host] = body;
      const fams = parse(body);
      for (const [name, f] of fams) {
        assert.ok(f.help, `${name} has # HELP`);
        assert.ok(f.type, `${name} has # TYPE`);
        assert.ok(f.samples.length > 0, `${name} has samples`);
        assert.match(name, /^sipling_[a-z0-9_]+$/);
        assert.equal(f.type === "counter", name.endsWith("_total"), `${name}: counters (only) end _total`);
        for (const s of f.samples) assert.ok(s.value >= 0, `${name}${JSON.stringify(s.labels)} = ${s.value}: never negative (-1 is left out)`);
      }
      assert.equal(value(fams, "sipling_bindings_in_use"), 1);
      assert.equal(value(fams, "sipling_aors_in_use"), 1);
      assert.ok(value(fams, "sipling_messages_received_total") >= 2, "received counts the REGISTER and the OPTIONS");
      assert.ok(value(fams, "sipling_messages_sent_total") >= 2, "sent counts both answers");
      assert.equal(value(fams, "sipling_events_total", { kind: "reg-add" }), 1);
      assert.equal(value(fams, "sipling_events_total", { kind: "call-attempt" }), 0);
      assert.equal(value(fams, "sipling_transactions_capacity") > 0, true);
      assert.equal(value(fams, "sipling_build_info", { host, board: "server", version: JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version }), 1);
      // the response-time histogram: the MESSAGE in "other", nothing in "invite"; buckets cumulative, +Inf = _count
      const hist = fams.get("sipling_proxied_response_seconds");
      assert.equal(hist?.type, "histogram");
      const series = (method) => hist.samples.filter((x) => x.labels.method === method);
      for (const method of ["invite", "other"]) {
        const buckets = series(method).filter((x) => x.name.endsWith("_bucket"));
        assert.equal(buckets.length, 13, `${method}: 12 bounds and +Inf`);
        for (let i = 1; i < buckets.length; i++) assert.ok(buckets[i].value >= buckets[i - 1].value, "cumulative");
        assert.equal(buckets.at(-1).labels.le, "+Inf");
        assert.equal(series(method).find((x) => x.name.endsWith("_count")).value, buckets.at(-1).value);
      }
      assert.equal(series("other").find((x) => x.name.endsWith("_count")).value, 1, "the MESSAGE");
      assert.equal(series("invite").find((x) => x.name.endsWith("_count")).value, 0);
      assert.ok(series("other").find((x) => x.name.endsWith("_sum")).value < 5, "answered at once over loopback");
      const up = value(fams, "sipling_uptime_seconds");
      assert.ok(up > 0 && up < 600, `uptime ${up}`);

      // the stats line logged now has the same values (no SIP traffic in between), every field with a family is served
      await settle(srv);
      const line = srv.logs.findLast((o) => o.msg === "stats");
      for (const stat of ABI.stats) assert.ok(stat in line, `the server core's stats line has ${stat}`);
      let compared = 0;
      for (const f of ABI.metrics.families.filter((x) => x.from)) {
        const from = typeof f.from === "string" ? { "": f.from } : f.from;
        for (const [lv, field] of Object.entries(from)) {
          if (!(field in line)) continue;
          assert.equal(value(fams, f.name, lv ? { [f.label]: lv } : {}), line[field], `${f.name} ${lv} = stats line ${field}`);
          compared++;
        }
      }
      assert.ok(compared >= ABI.stats.length + 20, `${compared} samples compared with the stats line (the core's and the host's)`);

      const pt = promtool(body);
      assert.equal(pt.status, 0, `promtool check metrics:\n${pt.stdout}${pt.stderr}`);
      assert.equal(`${pt.stdout}${pt.stderr}`.trim(), "", "promtool has no lint remark");

      const nf = await fetch(`http://127.0.0.1:${mport}/other`);
      assert.equal(nf.status, 404);
      assert.equal(await nf.text(), "not found\n");
      const post = await fetch(url, { method: "POST", body: "x" });
      assert.equal(post.status, 404, "only GET (and HEAD) of /metrics");
      await post.text();
      const head = await fetch(url, { method: "HEAD" });
      assert.equal(head.status, 200);
      const once = await raw(mport, "GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: keep-alive\r\n\r\n");
      assert.match(once.got, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(once.got, /\r\nConnection: close\r\n/i);
      assert.ok(once.closed, "the server closes the connection after one answer, even when asked to keep it");
    });
  });

  test(`${host}: garbage, an oversized head and silent clients (more than the endpoint keeps) do not stop SIP service; silent clients are closed after the timeout`, async () => {
    const mport = await freePort();
    await withServer({ host, config: { metrics: { listen: `127.0.0.1:${mport}` } }, trace: false, logLevel: "info" }, async (srv) => {
      const ua = await Ua.open();
      try {
        const quiet = [];
        for (let i = 0; i < MAX_CLIENTS + 2; i++) quiet.push(await silent(mport));
        const garbage = await raw(mport, "\x00\xff garbage \r\n\r\n");
        assert.match(garbage.got, /^HTTP\/1\.1 400 /, "garbage: 400");
        assert.ok(garbage.closed, "garbage: closed after the answer");
        const big = await raw(mport, `GET /metrics HTTP/1.1\r\nX-Pad: ${"a".repeat(8000)}\r\n\r\n`);
        assert.match(big.got, /^HTTP\/1\.1 400 /, "an oversized head: 400");
        const half = await raw(mport, "GET /metr", { waitMs: 300 }); // a client that stops mid-line: kept, no answer yet
        assert.equal(half.got, "");

        const t0 = Date.now();
        const opt = await ua.request(srv, options(ua), { timeoutMs: 2000, retransmitMs: 1000 });
        assert.equal(status(opt), 200, `OPTIONS while clients hold the endpoint: ${firstLine(opt)}`);
        assert.ok(Date.now() - t0 < 1000, `answered at once (${Date.now() - t0} ms)`);

        const res = await fetch(`http://127.0.0.1:${mport}/metrics`); // the oldest silent client makes room
        assert.equal(res.status, 200);
        const fams = parse(await res.text());
        assert.ok(value(fams, "sipling_messages_received_total") >= 1);

        const closedAfter = await Promise.race([Promise.all(quiet.map((q) => q.closed)),
          new Promise((r) => setTimeout(() => r(null), TIMEOUT_MS + 3000))]);
        assert.ok(closedAfter, `every silent client is closed within ${TIMEOUT_MS + 3000} ms`);
        for (const ms of closedAfter) assert.ok(ms <= TIMEOUT_MS + 2000, `closed after ${ms} ms`);
        for (const q of quiet) q.sock.destroy();

        const again = await ua.request(srv, options(ua));
        assert.equal(status(again), 200, "still serving SIP");
        assert.equal(srv.child.exitCode, null, "the server runs");
      } finally { ua.close(); }
    });
  });

  test(`${host}: a stat the core does not have (-1: the micro board has no media relay) is left out, never served as -1`, async () => {
    const mport = await freePort();
    await withServer({ host, config: { board: "micro", metrics: { listen: `127.0.0.1:${mport}` } }, trace: false, logLevel: "info" }, async () => {
      const body = await (await fetch(`http://127.0.0.1:${mport}/metrics`)).text();
      const fams = parse(body);
      assert.equal(value(fams, "sipling_build_info", { host, board: "micro" }), 1);
      for (const name of ["sipling_relay_legs_in_use", "sipling_relay_legs_capacity", "sipling_proxied_response_seconds"]) assert.equal(fams.has(name), false, `${name} is not served`);
      assert.doesNotMatch(body, / -1$/m);
      assert.ok(value(fams, "sipling_transactions_capacity") > 0);
      const pt = promtool(body);
      assert.equal(pt.status, 0, `promtool check metrics:\n${pt.stdout}${pt.stderr}`);
    });
  });

  test(`${host}: an address it cannot bind stops the start with one error line naming the key (exit 1)`, async () => {
    const taken = createServer();
    await new Promise((r) => taken.listen(0, "127.0.0.1", r));
    const port = taken.address().port;
    try {
      const cfg = scratch("busy.json", JSON.stringify({ listen: ["udp:127.0.0.1:0"], metrics: { listen: `127.0.0.1:${port}` } }));
      const [exe, ...args] = HOST_ARGV[host];
      const r = await new Promise((resolve) => {
        const c = spawn(exe, [...args, "--config", cfg], { env: { ...process.env, SIPLING_NO_BUILD: "1" } });
        let out = "";
        c.stdout.on("data", (d) => { out += d; });
        const t = setTimeout(() => c.kill("SIGKILL"), 15_000);
        c.on("exit", (code) => { clearTimeout(t); resolve({ code, out }); });
      });
      assert.equal(r.code, 1, r.out);
      const errors = r.out.split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((o) => o.level === "error");
      assert.deepEqual(errors.map((o) => o.msg), [`cannot listen on metrics.listen 127.0.0.1:${port}: EADDRINUSE`]);
    } finally { taken.close(); }
  });
}

test("both hosts serve the same families, with the same help and type", () => {
  if (HOSTS.some((h) => !bodies[h])) return assert.fail("a host's scrape failed above");
  const [a, b] = HOSTS.map((h) => parse(bodies[h]));
  assert.deepEqual([...a.keys()], [...b.keys()]);
  for (const [name, f] of a) {
    assert.equal(b.get(name).help, f.help, name);
    assert.equal(b.get(name).type, f.type, name);
    assert.deepEqual(b.get(name).samples.map((s) => JSON.stringify(s.labels)).filter((l) => !l.includes('"host"')),
      f.samples.map((s) => JSON.stringify(s.labels)).filter((l) => !l.includes('"host"')), `${name}: the same label sets`);
  }
});
