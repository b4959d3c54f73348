// PROTOS c07-sip against the RUNNING server: the runner shared by tools/torture.mjs (all 4,527
// cases) and tests/torture/protos.test.mjs (a deterministic sample).
//
// Set-up and why: bob@127.0.0.1 is registered, from a small UAS of ours (the registrar records the
// source, RFC 3581), so a case's INVITE that passes validation takes the full proxy path: server
// transaction, registrar lookup, forwarding (client transaction), then the teardown CANCEL is
// matched, answered and forwarded, the UAS answers 487, and the proxy ACKs it and passes the 487
// up. Without a registration every valid case would end in a stateless 480 and the transaction,
// CANCEL and response code would never run. The UAS answers INVITE with 180 and CANCEL with 200 +
// 487; it is deliberately simple (copies Via/From/To/Call-ID/CSeq lines).
//
// Each case: placeholders filled with fillProtos (To = bob@127.0.0.1:P, Local-Port = our socket,
// Call-ID unique per case), INVITE sent (one UDP datagram; over TCP when larger than 65,507 bytes,
// and then only that connection is used), then the teardown (CANCEL). Answers are attributed to the
// case by the Via branch (z9hG4bK00000<case+1>), else by Call-ID, else to the case in flight. Every
// `healthEvery` cases an OPTIONS to the proxy itself must be answered 200 within 1 s.
// At the end bob is de-registered and the stats export (SIGUSR2) is polled until the transactions,
// (client INVITE transactions stay Completed for Timer D = max(64*T1, 32 s) over UDP: ~33 s),
// message-pool blocks and dialogs in use are back to 0 (or `drainMs` passes).
import { readFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { startServer } from "../integration/harness.mjs";
import { protosCases, fillProtos, PROTOS_VALUES, protosDir } from "../lib/corpus.mjs";
import { udpClient, probe, statsWhen, sleep, registerMsg, readSip } from "./lib.mjs";

export const UDP_MAX = 65507;

/** The groups of groups.tsv: [{ group, first, last }]. */
export function protosGroups() {
  return readFileSync(join(protosDir, "groups.tsv"), "utf8").trim().split("\n").slice(1).map((l) => {
    const [group, first, count, last] = l.split("\t");
    return { group, first: Number(first), count: Number(count), last: Number(last) };
  });
}

/** A response to `req` (raw latin1 text) copying its Via/From/To/Call-ID/CSeq lines. */
function answer(req, status, reason, toTag) {
  const lines = req.split("\r\n");
  const end = lines.indexOf("");
  const head = lines.slice(1, end < 0 ? lines.length : end);
  const out = [`SIP/2.0 ${status} ${reason}`];
  for (const l of head) {
    if (/^(via|v)[ \t]*:/i.test(l) || /^(from|f|call-id|i|cseq)[ \t]*:/i.test(l)) out.push(l);
    else if (/^(to|t)[ \t]*:/i.test(l)) out.push(/;[ \t]*tag=/i.test(l) ? l : `${l};tag=${toTag}`);
  }
  out.push("Content-Length: 0", "", "");
  return Buffer.from(out.join("\r\n"), "latin1");
}

/** The proxy's branch on the top Via of a raw request. */
function topBranch(req) {
  const m = /\r\n(?:via|v)[ \t]*:[^\r\n]*?branch=([^;,\s]+)/i.exec(req);
  return m ? m[1] : null;
}

/** The UAS behind bob: 180 to INVITE, 200 + 487 on CANCEL, ACK absorbed. */
async function startUas() {
  const uas = await udpClient();
  const invites = new Map(); // proxy branch -> raw INVITE
  let n = 0;
  uas.sock.on("message", (b, rinfo) => {
    const t = b.toString("latin1");
    const method = t.slice(0, t.indexOf(" "));
    const send = (buf) => uas.sock.send(buf, rinfo.port, rinfo.address);
    if (method === "INVITE") {
      const br = topBranch(t);
      if (br && !invites.has(br)) {
        invites.set(br, t);
        if (invites.size > 5000) invites.delete(invites.keys().next().value);
        send(answer(t, 180, "Ringing", `uas${++n}`));
      }
    } else if (method === "CANCEL") {
      send(answer(t, 200, "OK", "uasc"));
      const inv = invites.get(topBranch(t));
      if (inv) send(answer(inv, 487, "Request Terminated", `uas${++n}`));
    } else if (method !== "ACK" && /^[A-Z]+$/.test(method)) {
      send(answer(t, 200, "OK", "uaso"));
    }
  });
  return uas;
}

/**
 * Runs the cases `numbers` (case numbers, sorted). Options: budgetMs (stop sending after that,
 * bounded run), healthEvery, onProgress(done, total), tcpLarge (send the > 65,507-byte cases over
 * TCP; else they are skipped and counted as skipped), drainMs.
 * Returns { rows (per group), totals, health: {ok, failed}, stats, finalStats, durationMs, truncated, port }.
 */
export async function runProtos(numbers, { budgetMs = 9 * 60_000, healthEvery = 20, onProgress, tcpLarge = true, drainMs = 45_000, log = () => {} } = {}) {
  const t0 = Date.now();
  const all = protosCases();
  const uas = await startUas();
  const client = await udpClient();
  const srv = await startServer({
    trace: false, logLevel: "info",
    config: { timers: { t1: 50, timerC: 5000 } },
  });
  const P = srv.port;
  Object.assign(PROTOS_VALUES, {
    "<To>": `bob@127.0.0.1:${P}`, "<From>": "alice@127.0.0.1", "<From-Address>": "127.0.0.1",
    "<From-IP>": "127.0.0.1", "<Local-Port>": String(client.port),
  });
  const result = { rows: [], totals: null, health: { ok: 0, failed: 0, failures: [] }, truncated: false, port: P, cases: [] };
  try {
    // bob's binding, from the UAS socket
    await uas.send(registerMsg({ client: uas, aor: "sip:bob@127.0.0.1", ruri: "sip:127.0.0.1", contact: `<sip:bob@127.0.0.1:${uas.port}>`,
      expires: 3600, callId: "protos-bob-reg", branch: "protosbobreg" }), P);
    const reg = await uas.waitFor((m) => m.sip.h("call-id") === "protos-bob-reg" && m.sip.status >= 200, 2000);
    if (reg?.sip.status !== 200) throw new Error(`registering bob failed: ${reg?.sip.first ?? "no answer"}`);

    // per-case record, filled by the socket listener
    const recs = new Map();
    let current = null;
    const brRe = /branch=z9hG4bK00000(\d+)/i;
    client.sock.on("message", (b) => {
      const sip = readSip(b);
      if (sip.isRequest) return;
      if (/^health-/.test(sip.h("call-id") ?? "")) return;
      let n = null;
      const via = sip.h("via") ?? "";
      const m = brRe.exec(via);
      if (m && recs.has(Number(m[1]) - 1)) n = Number(m[1]) - 1;
      if (n === null) {
        const c = /^protos-(\d+)@/.exec(sip.h("call-id") ?? "");
        if (c && recs.has(Number(c[1]))) n = Number(c[1]);
      }
      if (n === null) n = current;
      const r = recs.get(n);
      if (!r) return;
      noteResponse(r, sip);
    });
    function noteResponse(r, sip) {
      const isCancel = sip.cseqMethod() === "CANCEL";
      if (isCancel) { r.cancel ??= sip.status; return; }
      if (sip.status < 200) { r.prov = true; return; }
      if (r.final == null) r.final = sip.status;
      r.finals++;
    }

    const total = numbers.length;
    let done = 0;
    for (const n of numbers) {
      if (Date.now() - t0 > budgetMs) { result.truncated = true; break; }
      const c = all[n];
      PROTOS_VALUES["<Call-ID>"] = `protos-${n}`;
      const { invite, teardown } = fillProtos(readFileSync(c.path), String(n + 1));
      const r = { n, size: invite.length, final: null, finals: 0, prov: false, cancel: null, tcp: false, closed: false, skipped: false };
      recs.set(n, r);
      current = n;
      if (invite.length > UDP_MAX) {
        if (!tcpLarge) { r.skipped = true; result.cases.push(r); done++; continue; }
        r.tcp = true;
        await tcpCase(P, invite, teardown, r, noteResponse);
      } else {
        await client.send(invite, P);
        await waitUntil(() => r.final != null || r.prov, 120);
        await client.send(teardown, P);
        await waitUntil(() => r.final != null && (r.cancel != null || r.prov === false), r.prov ? 400 : 60);
      }
      result.cases.push(r);
      done++;
      if (recs.size > 200) recs.delete(recs.keys().next().value);
      if (done % healthEvery === 0 || done === total) {
        let st = await probe(client, P, 1000);
        if (st !== 200) { await sleep(500); st = await probe(client, P, 1000); }
        if (st === 200) result.health.ok++;
        else {
          result.health.failed++;
          result.health.failures.push({ after: n, status: st, exit: srv.child.exitCode });
          log(`health check failed after case ${n} (status ${st})`);
          if (srv.child.exitCode !== null || srv.child.signalCode !== null) { result.truncated = true; break; }
        }
      }
      onProgress?.(done, total);
    }
    current = null;
    result.sendMs = Date.now() - t0;
    // back to idle: bob de-registered, then every transaction must expire
    await uas.send(registerMsg({ client: uas, aor: "sip:bob@127.0.0.1", ruri: "sip:127.0.0.1", contact: "*",
      expires: 0, callId: "protos-bob-unreg", branch: "protosbobunreg" }), P);
    const unreg = await uas.waitFor((m) => m.sip.h("call-id") === "protos-bob-unreg" && m.sip.status >= 200, 2000);
    result.unregStatus = unreg?.sip.status ?? 0;
    result.finalStats = await statsWhen(srv, (s) => s.txnInUse === 0 && s.msgPoolInUse === 0 && s.dialogsInUse === 0, drainMs, 500);
    result.finalHealth = await probe(client, P, 1000);
  } finally {
    result.serverExit = srv.child.exitCode;
    result.stderr = srv.stderr;
    result.warnings = srv.logs.filter((o) => o.level === "warn" || o.level === "error").slice(0, 50);
    await srv.stop();
    client.close();
    uas.close();
  }
  result.durationMs = Date.now() - t0;
  tabulate(result);
  return result;
}

async function waitUntil(pred, ms) {
  const end = Date.now() + ms;
  while (!pred() && Date.now() < end) await sleep(2);
}

/** A case too large for a datagram: INVITE then CANCEL on one TCP connection. */
async function tcpCase(port, invite, teardown, r, noteResponse) {
  const sock = connect(port, "127.0.0.1");
  let buf = "";
  sock.on("error", () => {});
  sock.on("close", () => { r.closed = true; });
  sock.on("data", (d) => {
    buf += d.toString("latin1");
    let i;
    while ((i = buf.indexOf("\r\n\r\n")) >= 0) { // responses carry Content-Length: 0
      noteResponse(r, readSip(buf.slice(0, i + 4)));
      buf = buf.slice(i + 4);
    }
  });
  const ok = await new Promise((res) => { sock.once("connect", () => res(true)); sock.once("error", () => res(false)); });
  if (!ok) { r.closed = true; return; }
  sock.write(invite);
  await waitUntil(() => r.final != null || r.prov || r.closed, 500);
  if (!r.closed) {
    sock.write(teardown);
    await waitUntil(() => r.final != null || r.closed, 500);
  }
  sock.destroy();
}

const CLASSES = ["1xx-only", "2xx", "3xx", "4xx", "5xx", "6xx", "none"];

function classOf(r) {
  if (r.final != null) return `${Math.floor(r.final / 100)}xx`;
  return r.prov ? "1xx-only" : "none";
}

/** Fills result.rows / result.totals: per group, counts per answer class, codes seen, health. */
function tabulate(result) {
  const groups = protosGroups();
  const rows = groups.map((g) => ({ group: g.group, first: g.first, last: g.last, sent: 0, tcp: 0, skipped: 0, closed: 0, cancel: 0, codes: {}, ...Object.fromEntries(CLASSES.map((c) => [c, 0])) }));
  for (const r of result.cases) {
    const row = rows.find((x) => r.n >= x.first && r.n <= x.last);
    if (r.skipped) { row.skipped++; continue; }
    row.sent++;
    if (r.tcp) row.tcp++;
    if (r.tcp && r.closed) row.closed++;
    if (r.cancel != null) row.cancel++;
    row[classOf(r)]++;
    if (r.final != null) row.codes[r.final] = (row.codes[r.final] ?? 0) + 1;
  }
  const totals = { group: "TOTAL", sent: 0, tcp: 0, skipped: 0, closed: 0, cancel: 0, codes: {}, ...Object.fromEntries(CLASSES.map((c) => [c, 0])) };
  for (const row of rows) {
    for (const k of ["sent", "tcp", "skipped", "closed", "cancel", ...CLASSES]) totals[k] += row[k];
    for (const [c, v] of Object.entries(row.codes)) totals.codes[c] = (totals.codes[c] ?? 0) + v;
  }
  result.rows = rows.filter((r) => r.sent || r.skipped);
  result.totals = totals;
}

/** The table as TSV (header + one line per group + TOTAL). */
export function toTsv(result) {
  const cols = ["group", "sent", ...CLASSES, "cancelAnswered", "tcp", "tcpClosed", "skipped", "codes"];
  const line = (r) => [r.group, r.sent, ...CLASSES.map((c) => r[c]), r.cancel, r.tcp, r.closed, r.skipped,
    Object.entries(r.codes).sort((a, b) => b[1] - a[1]).map(([c, v]) => `${c}:${v}`).join(" ")].join("\t");
  return [cols.join("\t"), ...result.rows.map(line), line(result.totals)].join("\n") + "\n";
}
