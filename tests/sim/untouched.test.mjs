// Tables cost memory only as far as they are used (issue 15 item 3; assembly/util/zero.ts, config.ts
// SPARSE_TABLES on the server and b2bua boards). A fresh core's tables are zero as the host maps them,
// and every reset writes only pages that hold something, so an idle server's tables are never made
// resident. Counted here as the 4 KiB pages of the core's memory that hold a nonzero byte (what a write
// has touched), on the release cores:
//   - after sip_init and its configuration: the static data and a few pages, out of the board's
//     hundreds of MiB (before: every table's reset wrote it whole, ~90 MB);
//   - after registrations and calls: a few pages more, not the tables;
//   - sip_init again after that traffic forgets all of it (a second run of the same flows gives the
//     same answers), and a capacity's worth of registrations still fits (free lists that read a
//     never-written 0 as "the next record" hand out every record once).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const { CfgKind, Proto } = await import("../../host/firmware/abi.mjs");
const PAGE = 4096;

/** 4 KiB pages of the core's memory holding a nonzero byte. */
function touchedPages(ex) {
  const w = new BigUint64Array(ex.memory.buffer);
  const per = PAGE / 8;
  let n = 0;
  for (let p = 0; p < w.length; p += per) {
    for (let k = p; k < p + per; k++) if (w[k] !== 0n) { n++; break; }
  }
  return n;
}

for (const board of ["server", "b2bua"]) {
  test(`${board}: a configured idle core has written a few pages, not its tables; traffic adds pages in proportion; sip_init forgets it`, (t) => {
    const sim = new Sim({ seed: 5, latency: [2, 5] });
    const proxy = new CoreNode(sim, "127.0.0.1:5060", { board, domains: ["127.0.0.1"] });
    const ex = proxy.ex;
    const total = ex.memory.buffer.byteLength / PAGE;
    const idle = touchedPages(ex);
    // the static data (~420 KB on these boards) and the few scalars the configuration wrote
    assert.ok(idle < 200, `${idle} of ${total} pages written after start-up and configuration`);
    assert.ok(total > 40_000, `the board's memory is large (${total} pages): the check means something`);
    // traffic: 20 phones register, 10 calls between them
    const uas = Array.from({ length: 20 }, (_, i) => new Ua(sim, `127.0.0.${10 + i}:5060`, `u${i}`, { proxy: "127.0.0.1:5060", ring: 20, answer: 50 }));
    for (const u of uas) u.register();
    sim.run(sim.now + 2000);
    for (const u of uas) assert.equal(u.registered, 200);
    for (let i = 0; i < 10; i++) uas[i].invite(`u${i + 10}`, { hangupAfter: 500 });
    sim.run(sim.now + 5000);
    assert.equal(proxy.stat("bindingsInUse"), 20);
    const busy = touchedPages(ex);
    t.diagnostic(`${board}: ${idle} of ${total} pages written when idle, ${busy} after 20 registrations and 10 calls`);
    assert.ok(busy > idle, "traffic wrote pages");
    assert.ok(busy - idle < 1000, `traffic of 20 phones and 10 calls touched ${busy - idle} pages (4 MB at most, not tables of hundreds of MB)`);
    // a second sip_init forgets every registration and transaction
    assert.equal(ex.sip_init(1, 2, sim.now), 0);
    assert.equal(proxy.stat("bindingsInUse"), 0, "no binding after sip_init");
    assert.equal(proxy.stat("txnInUse"), 0, "no transaction after sip_init");
    assert.equal(proxy.stat("msgPoolInUse"), 0, "no pool block after sip_init");
  });
}

test("server: sip_init after traffic leaves the tables as good as new: the same flows again, every record handed out once", () => {
  const sim = new Sim({ seed: 6, latency: [2, 5] });
  const proxy = new CoreNode(sim, "127.0.0.1:5060", { board: "server", domains: ["127.0.0.1"] });
  const run = (tag, net) => {
    const uas = Array.from({ length: 30 }, (_, i) => new Ua(sim, `127.0.${net}.${10 + i}:5060`, `${tag}${i}`, { proxy: "127.0.0.1:5060", ring: 20, answer: 50 }));
    for (const u of uas) u.register();
    sim.run(sim.now + 2000);
    for (const u of uas) assert.equal(u.registered, 200, `${tag}: ${u.user} registered`);
    const calls = [];
    for (let i = 0; i < 15; i++) calls.push([uas[i], uas[i].invite(`${tag}${i + 15}`, { hangupAfter: 500 })]);
    sim.run(sim.now + 5000);
    for (const [u, id] of calls) assert.deepEqual(u.calls.get(id).finals, [200], `${tag}: call answered`);
    return proxy.stat("bindingsInUse");
  };
  assert.equal(run("a", 1), 30);
  sim.run(sim.now + 60_000);
  // re-initialise with the same configuration the node applied (domain and transport)
  assert.equal(proxy.ex.sip_init(3, 4, sim.now), 0);
  const cfg = (text) => { const b = Buffer.from(text); new Uint8Array(proxy.ex.memory.buffer).set(b, proxy.ptr.cfg); return b.length; };
  assert.ok(proxy.ex.sip_transport_add(1, Proto.UDP, cfg("127.0.0.1:5060")) >= 0);
  assert.equal(proxy.ex.sip_cfg_add(CfgKind.Domain, cfg("127.0.0.1")), 0);
  proxy.drain();
  assert.equal(proxy.stat("bindingsInUse"), 0);
  assert.equal(run("b", 2), 30, "the same flows again on the re-initialised core");
});
