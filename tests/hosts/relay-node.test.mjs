// The Node host's media relay (host/node/relay.ts, compiled here with esbuild) driven alone, with the
// core's records built here (docs/ABI.md "Media relay") and real UDP sockets on loopback standing for the
// parties: the latching rule, the same as the native engine's (tests/hosts/relay-c.test.mjs): a stranger
// who sends first from another address than the SDP's is dropped; an SDP address that is not known,
// unspecified or private latches to the first source; a latch to the SDP's address at another port is
// replaced by the SDP's exact port; a latch to the exact port is strict; a phone behind NAT whose SDP
// names its private address (in a network namespace of its own that has that address: unshare -rn,
// skipped where refused). IPv4 and IPv6; each wait is bounded (1 s for a datagram that must arrive,
// 100..300 ms for one that must not).
import { test, before, after } from "node:test";
import { spawn, spawnSync } from "node:child_process";
import assert from "node:assert/strict";
import dgram from "node:dgram";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isIPv4 } from "node:net";
import { build } from "esbuild";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
let dir, mod;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "sipling-relay-node-"));
  const out = join(dir, "relay.mjs");
  await build({ entryPoints: [join(root, "host", "node", "relay.ts")], outfile: out, bundle: true, format: "esm",
    platform: "node", target: "node20", logLevel: "warning" });
  mod = await import(pathToFileURL(out).href);
});
after(() => rmSync(dir, { recursive: true, force: true }));

// In a network namespace of its own (SIPLING_RELAY_NETNS=1, started by the "nat" tests below) lo also has
// a phone's private address and, for IPv6, 2001:db8::1 for the relay and the parties (from ::1 a packet
// does not reach another address); only the "nat" tests run there.
const IN_NETNS = process.env.SIPLING_RELAY_NETNS === "1";
const LOOP = { 4: "127.0.0.1", 6: IN_NETNS ? "2001:db8::1" : "::1" };
const NETNS = "ip link set lo up && ip addr add 192.168.1.10/32 dev lo && ip addr add fd00::10/128 dev lo nodad && ip addr add 2001:db8::1/128 dev lo nodad";

const OPEN = 1;
const CLOSE = 2;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The 16 record bytes of an address (IPv4 in the first 4), as the core writes them. */
function addrBytes(text) {
  const b = new Uint8Array(16);
  if (isIPv4(text)) {
    text.split(".").forEach((x, i) => (b[i] = Number(x)));
    return b;
  }
  // IPv6, possibly with a trailing dotted quad
  let t = text;
  const tail = [];
  const m = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
  if (m) {
    const q = m[1].split(".").map(Number);
    tail.push((q[0] << 8) | q[1], (q[2] << 8) | q[3]);
    t = t.slice(0, -m[1].length) + "0:0";
  }
  const [l, r] = t.includes("::") ? t.split("::") : [t, null];
  const left = l ? l.split(":").filter((x) => x !== "") : [];
  const right = r ? r.split(":").filter((x) => x !== "") : [];
  const words = [...left, ...Array(8 - left.length - right.length).fill("0"), ...right].map((x) => parseInt(x, 16));
  if (m) words.splice(6, 2, ...tail);
  words.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

/** A relay with the hooks recorded; its records applied through apply() as the host does. */
function makeRelay(fam) {
  const usage = [];
  const reports = [];
  const relay = new mod.Relay([fam === 6 ? { 6: LOOP[6] } : { 4: LOOP[4] }], {
    now: () => Date.now(),
    report: (leg, what) => reports.push({ leg, what }),
    log: () => {},
    usage: (r) => usage.push(r),
  });
  const R = mod.RELAY;
  const mem = new Uint8Array(64 + 16);
  const dv = new DataView(mem.buffer);
  const loop = LOOP[fam];
  return {
    relay,
    usage,
    reports,
    /** Open leg: peer {family (0: not known), addr text, port, rtcp}. Resolves once its sockets are bound. */
    async open(leg, partner, port, peer, flags = 0) {
      mem.fill(0);
      dv.setUint32(R.op, OPEN, true);
      dv.setUint32(R.leg, leg, true);
      dv.setUint32(R.partner, partner, true);
      dv.setUint16(R.port, port, true);
      dv.setUint16(R.flags, flags, true);
      mem[R.family] = peer.family ?? fam;
      mem[R.local] = fam;
      dv.setUint16(R.peerPort, peer.port ?? 0, true);
      dv.setUint16(R.rtcpPort, peer.rtcp ?? (peer.port ? peer.port + 1 : 0), true);
      dv.setUint16(R.idle, 0, true);
      mem.set(addrBytes(peer.addr ?? loop), R.addr);
      dv.setUint32(R.call, 7, true);
      const id = Buffer.from("call-7@test", "latin1");
      dv.setUint16(R.callIdLen, id.length, true);
      mem.set(id, R.callId);
      relay.apply(OPEN, mem, dv, 0);
      // bound by the time apply() returns (the host sends the SDP naming the port after it): a party's
      // first packet never finds it unbound
      const l = relay.legs.get(leg);
      assert.ok(l, `leg ${leg} not opened`);
      for (const s of [l.rtp, l.rtcp]) {
        if (!s) continue;
        assert.equal(s.sock.address().port, s === l.rtp ? port : port + 1, `leg ${leg}'s socket bound within apply()`);
      }
    },
    /** Close leg: resolves with its usage record. */
    close(leg) {
      mem.fill(0);
      dv.setUint32(R.op, CLOSE, true);
      dv.setUint32(R.leg, leg, true);
      relay.apply(CLOSE, mem, dv, 0);
      const u = usage.find((x) => x.leg === leg);
      assert.ok(u, `no usage record for leg ${leg}`);
      usage.splice(usage.indexOf(u), 1);
      return u;
    },
  };
}

/** A party's socket at addr (default loopback) on any port, with a queue of what arrives. */
async function party(fam, addr) {
  const sock = dgram.createSocket(fam === 6 ? { type: "udp6", ipv6Only: true } : "udp4");
  const queue = [];
  let waiter = null;
  sock.on("message", (msg, r) => {
    queue.push({ msg, port: r.port });
    if (waiter) waiter();
  });
  await new Promise((res, rej) => {
    sock.once("error", rej);
    sock.bind(0, addr ?? LOOP[fam], res);
  });
  const p = {
    sock,
    port: sock.address().port,
    send(port, buf) {
      return new Promise((res, rej) => sock.send(buf, port, LOOP[fam], (e) => (e ? rej(e) : res())));
    },
    /** The next datagram within ms, or null. */
    async next(ms) {
      if (queue.length) return queue.shift();
      await new Promise((res) => {
        const t = setTimeout(() => {
          waiter = null;
          res();
        }, ms);
        waiter = () => {
          clearTimeout(t);
          waiter = null;
          res();
        };
      });
      return queue.shift() ?? null;
    },
    async expect(from, buf, what) {
      const got = await p.next(1000);
      assert.ok(got, `${what}: nothing arrived within 1 s`);
      assert.deepEqual(got.msg, buf, `${what}: a different datagram arrived`);
      assert.equal(got.port, from, `${what}: came from port ${got.port}, want the relay's ${from}`);
    },
    async expectNone(ms, what) {
      const got = await p.next(ms);
      assert.ok(got === null, `${what}: a datagram of ${got?.msg.length} bytes arrived`);
    },
    close: () => sock.close(),
  };
  return p;
}

/** An RTP packet: 12-byte header (V=2, PT 0), payload of n bytes holding mark. */
function rtp(seq, mark, n = 160) {
  const b = Buffer.alloc(12 + n, mark);
  b.fill(0, 0, 12);
  b[0] = 0x80;
  b.writeUInt16BE(seq & 0xffff, 2);
  b[11] = 0x42;
  return b;
}

/** An RTCP receiver report (PT 201), 8 bytes, its SSRC's last byte mark. */
function rtcp(mark) {
  const b = Buffer.alloc(8);
  b[0] = 0x80;
  b[1] = 201;
  b[3] = 1;
  b[7] = mark;
  return b;
}

/** Four free consecutive ports (even first) on loopback of fam, from a range the native test does not use. */
async function freeBase(fam) {
  for (let tries = 0; tries < 100; tries++) {
    const base = 40000 + 2 * Math.floor(Math.random() * 4000);
    const socks = [];
    let ok = true;
    for (let k = 0; k < 4 && ok; k++) {
      const s = dgram.createSocket(fam === 6 ? { type: "udp6", ipv6Only: true } : "udp4");
      socks.push(s);
      ok = await new Promise((res) => {
        s.once("error", () => res(false));
        s.bind(base + k, LOOP[fam], () => res(true));
      });
    }
    await Promise.all(socks.map((s) => new Promise((res) => { try { s.close(res); } catch { res(); } })));
    if (ok) return base;
  }
  throw new Error("no four free ports found");
}

/** Runs body with a relay of fam, its base port and a cleanup of everything opened. */
async function withRelay(fam, body) {
  const r = makeRelay(fam);
  const base = await freeBase(fam);
  const parties = [];
  const mk = async (addr) => {
    const p = await party(fam, addr);
    parties.push(p);
    return p;
  };
  try {
    await body(r, base, mk);
  } finally {
    r.relay.stop();
    for (const p of parties) {
      try {
        p.close();
      } catch {
        // closed already
      }
    }
  }
}

/** Runs this file's "nat" test of fam in a network namespace of its own (unshare -rn): {code, out}. */
function runInNetns(fam) {
  return new Promise((resolve, reject) => {
    const argv = ["unshare", "-rn", "sh", "-c", `${NETNS} && exec "$0" "$@"`, process.execPath, "--test-reporter=tap",
      `--test-name-pattern=^relay.ts IPv${fam} nat`, fileURLToPath(import.meta.url)];
    const env = { ...process.env, SIPLING_RELAY_NETNS: "1" };
    delete env.NODE_TEST_CONTEXT; // a test runner of its own, reporting TAP (not to this one's pipe)
    const p = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"], env });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const timer = setTimeout(() => p.kill("SIGKILL"), 40_000);
    p.on("error", reject);
    p.on("exit", (code, sig) => {
      clearTimeout(timer);
      resolve({ code: sig ? `signal ${sig}` : code, out });
    });
  });
}

const netns = IN_NETNS ? null : spawnSync("unshare", ["-rn", "sh", "-c", NETNS], { encoding: "utf8", timeout: 10_000 });
const netnsSkip = IN_NETNS || netns.status === 0 ? false : `no network namespace (unshare -rn): ${(netns.stderr || netns.error?.message || "").trim()}`;

for (const fam of [4, 6]) {
  const nat = `relay.ts IPv${fam} nat: a phone behind NAT (its SDP private): the NAT latches, the SDP's address at another port replaces it, the SDP's port replaces that`;
  if (IN_NETNS) {
    // the phone's SDP names P (private), its NAT's public address is the relay's and B's
    test(nat, { timeout: 20_000 }, () =>
      withRelay(fam, async (r, base, mk) => {
        const P = fam === 6 ? "fd00::10" : "192.168.1.10";
        const pSdp = await mk(P), pc = await mk(P), pOther = await mk(P), natSock = await mk(), b = await mk(), bc = await mk();
        await r.open(0, 1, base, { addr: P, port: pSdp.port, rtcp: pc.port });
        await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
        let p = rtp(1, 0xa1);
        await natSock.send(base, p);
        await b.expect(base + 2, p, "the NAT (another address, SDP private) -> B: latches");
        p = rtp(1, 0xb1);
        await b.send(base + 2, p);
        await natSock.expect(base, p, "B -> the NAT");
        p = rtp(2, 0xa2);
        await pOther.send(base, p);
        await b.expect(base + 2, p, "P at another port -> B: replaces the NAT's latch");
        p = rtp(2, 0xb2);
        await b.send(base + 2, p);
        await pOther.expect(base, p, "B -> P at the other port");
        await natSock.expectNone(100, "B -> the NAT after the replacement");
        await natSock.send(base, rtp(3, 0xee));
        await b.expectNone(200, "the NAT after P at another port latched");
        p = rtp(4, 0xa4);
        await pSdp.send(base, p);
        await b.expect(base + 2, p, "P at its SDP port -> B: replaces the latch");
        p = rtp(3, 0xb3);
        await b.send(base + 2, p);
        await pSdp.expect(base, p, "B -> P's SDP port");
        await pOther.expectNone(100, "B -> P's other port after the exact latch");
        await pOther.send(base, rtp(5, 0xee));
        await natSock.send(base, rtp(5, 0xee));
        await b.expectNone(200, "P's other port and the NAT after the exact latch");
        const u = r.close(0);
        assert.equal(u.packets, 3);
        assert.equal(u.dropped, 3);
      }));
    continue;
  }
  test(nat + " (in a network namespace of its own)", { timeout: 60_000, skip: netnsSkip }, async () => {
    const r = await runInNetns(fam);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /^# pass 1$/m, r.out);
  });
  test(`relay.ts IPv${fam} stranger: a stranger who sends first from another address than the SDP's is dropped; the party then latches`, { timeout: 20_000 }, () =>
    withRelay(fam, async (r, base, mk) => {
      // IPv4: the stranger at 127.0.0.7, A's SDP 127.0.0.1; IPv6 has one loopback address: A's SDP first
      // names 2001:db8::7 (concrete), the stranger at ::1 is dropped, then a re-Open names A at ::1
      const a = await mk(), ac = await mk(), b = await mk(), bc = await mk();
      const stranger = await mk(fam === 4 ? "127.0.0.7" : undefined);
      await r.open(0, 1, base, fam === 6 ? { addr: "2001:db8::7", port: a.port, rtcp: ac.port } : { port: a.port, rtcp: ac.port });
      await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
      await stranger.send(base, rtp(900, 0xee));
      await b.expectNone(300, "a stranger's first packet (before the party sent)");
      if (fam === 6) await r.open(0, 1, base, { port: a.port, rtcp: ac.port });
      let p = rtp(1, 0xa1);
      await a.send(base, p);
      await b.expect(base + 2, p, "A -> B after the stranger was dropped");
      p = rtp(1, 0xb1);
      await b.send(base + 2, p);
      await a.expect(base, p, "B -> A (its SDP address) after the stranger was dropped");
      await stranger.expectNone(100, "B -> the stranger");
      await stranger.send(base, rtp(901, 0xee));
      await b.expectNone(300, "the stranger's packet after A latched");
      const u0 = r.close(0);
      assert.equal(u0.packets, 1);
      assert.equal(u0.dropped, 2);
      const u1 = r.close(1);
      assert.equal(u1.packets, 1);
      assert.equal(u1.dropped, 0);
    }));

  test(`relay.ts IPv${fam} private: an SDP address that is not known, unspecified or private latches to the first source; a concrete one does not`, { timeout: 30_000 }, () =>
    withRelay(fam, async (r, base, mk) => {
      const open = fam === 6
        ? ["fd00::10", "fc00::1", "fe80::1", "febf::1", "::", "::ffff:192.168.1.10", "::ffff:100.64.0.1"]
        : ["192.168.1.10", "10.1.2.3", "172.16.0.1", "172.31.255.254", "100.64.0.1", "100.127.255.254", "169.254.1.1", "0.0.0.0"];
      const shut = fam === 6
        ? ["2001:db8::10", "fec0::1", "fe00::1", "::ffff:8.8.8.8", "::ffff:172.32.0.1"]
        : ["172.32.0.1", "100.128.0.1", "11.0.0.1", "192.169.0.1", "8.8.8.8"];
      const b = await mk(), bc = await mk();
      await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
      let packets = 0;
      let dropped = 0;
      for (const addr of [null, ...open]) {
        const what = addr ?? "SDP not known";
        const a = await mk(), second = await mk();
        await r.open(0, 1, base, addr === null ? { family: 0, port: 0, rtcp: 0 } : { addr, port: 5004, rtcp: 5005 });
        let p = rtp(10 + packets, 0xa1);
        await a.send(base, p);
        await b.expect(base + 2, p, `${what}: A -> B`);
        packets++;
        p = rtp(20 + packets, 0xb1);
        await b.send(base + 2, p);
        await a.expect(base, p, `${what}: B -> A's latched source`);
        await second.send(base, rtp(30, 0xee));
        await b.expectNone(150, `${what}: a second source after A latched to its first`);
        dropped++;
      }
      for (const addr of shut) {
        const stranger = await mk();
        await r.open(0, 1, base, { addr, port: 5004, rtcp: 5005 });
        await stranger.send(base, rtp(40, 0xee));
        await b.expectNone(150, `${addr}: a packet from loopback`);
        dropped++;
      }
      const u = r.close(0);
      assert.equal(u.packets, packets);
      assert.equal(u.dropped, dropped);
    }));

  test(`relay.ts IPv${fam} replace: a latch to the SDP's address at another port is replaced by the SDP's exact port (RTP and RTCP)`, { timeout: 20_000 }, () =>
    withRelay(fam, async (r, base, mk) => {
      const a = await mk(), ac = await mk(), aNat = await mk(), acNat = await mk(), b = await mk(), bc = await mk();
      await r.open(0, 1, base, { port: a.port, rtcp: ac.port });
      await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
      let p = rtp(1, 0xa1);
      await aNat.send(base, p);
      await b.expect(base + 2, p, "A (same address, other port) -> B");
      p = rtp(1, 0xb1);
      await b.send(base + 2, p);
      await aNat.expect(base, p, "B -> A's other port (latched)");
      p = rtcp(1);
      await acNat.send(base + 1, p);
      await bc.expect(base + 3, p, "A's RTCP (other port) -> B");
      p = rtp(2, 0xa2);
      await a.send(base, p);
      await b.expect(base + 2, p, "A (the SDP's port) -> B: replaces the latch");
      p = rtp(2, 0xb2);
      await b.send(base + 2, p);
      await a.expect(base, p, "B -> A's SDP port after the replacement");
      await aNat.expectNone(100, "B -> A's old source after the replacement");
      p = rtcp(2);
      await ac.send(base + 1, p);
      await bc.expect(base + 3, p, "A's RTCP (the SDP's RTCP port) -> B: replaces the latch");
      p = rtcp(3);
      await bc.send(base + 3, p);
      await ac.expect(base + 1, p, "B's RTCP -> A's SDP RTCP port");
      await acNat.expectNone(100, "B's RTCP -> A's old RTCP source");
      await aNat.send(base, rtp(3, 0xa3));
      await acNat.send(base + 1, rtcp(4));
      await b.expectNone(200, "A's old RTP source after the replacement");
      await bc.expectNone(100, "A's old RTCP source after the replacement");
      const u = r.close(0);
      assert.equal(u.packets, 4);
      assert.equal(u.dropped, 2);
    }));

  test(`relay.ts IPv${fam} strict: a latch to the SDP's exact port is not replaced by the same address at another port`, { timeout: 20_000 }, () =>
    withRelay(fam, async (r, base, mk) => {
      const a = await mk(), ac = await mk(), aNat = await mk(), b = await mk(), bc = await mk();
      await r.open(0, 1, base, { port: a.port, rtcp: ac.port });
      await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
      let p = rtp(1, 0xa1);
      await a.send(base, p);
      await b.expect(base + 2, p, "A (the SDP's port) -> B");
      await aNat.send(base, rtp(2, 0xa2));
      await b.expectNone(300, "the SDP's address at another port after an exact latch");
      p = rtp(1, 0xb1);
      await b.send(base + 2, p);
      await a.expect(base, p, "B -> A's SDP port (still latched)");
      await aNat.expectNone(100, "B -> the other port");
      p = rtp(3, 0xa3);
      await a.send(base, p);
      await b.expect(base + 2, p, "A (the SDP's port) -> B again");
      const u = r.close(0);
      assert.equal(u.packets, 2);
      assert.equal(u.dropped, 1);
    }));

  test(`relay.ts IPv${fam} relatch: a new peer in a later record unlatches; the old source is then dropped`, { timeout: 20_000 }, () =>
    withRelay(fam, async (r, base, mk) => {
      const a1 = await mk(), a2 = await mk(), ac = await mk(), b = await mk(), bc = await mk();
      await r.open(0, 1, base, { port: a1.port, rtcp: ac.port });
      await r.open(1, 0, base + 2, { port: b.port, rtcp: bc.port });
      let p = rtp(1, 0xa1);
      await a1.send(base, p);
      await b.expect(base + 2, p, "A1 -> B");
      await r.open(0, 1, base, { port: a2.port, rtcp: ac.port });
      p = rtp(2, 0xb1);
      await b.send(base + 2, p);
      await a2.expect(base, p, "B -> A's new peer before it latched");
      p = rtp(3, 0xa2);
      await a2.send(base, p);
      await b.expect(base + 2, p, "A2 -> B (relatched)");
      await a1.send(base, rtp(4, 0xa3));
      await b.expectNone(300, "the old source after relatching");
      const u = r.close(0);
      assert.equal(u.packets, 2);
      assert.equal(u.dropped, 1);
    }));
}
