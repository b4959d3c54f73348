// The location service as text lines (registrar/location.ts; sip_loc, LocOp in host/shared/abi.json):
// what the hosts use to share registrations between instances (Redis, host/node/location.ts) and to list
// and remove them (the management API). Proven here between two server cores in the simulator, with the
// glue a host does by hand: a phone registered at A is called through B, by the route token
// <sip:rbXXXXXXXX@A;lr> that A publishes for its binding; A honours the token only for that binding's
// contact; lines read, put and removed round-trip exactly; the small boards have no location service.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sim, CoreNode } from "./net.mjs";
import { Ua } from "./ua.mjs";

const { LocOp, Proto } = await import("../../host/firmware/abi.mjs");
const A = "127.0.0.1:5060";
const B = "127.0.0.2:5060";

/** sip_loc(op, now, arg) with `text` written at the line buffer first (when given). */
function loc(node, op, arg, text) {
  const ptr = node.ex.sip_loc_ptr() >>> 0;
  if (text !== undefined) {
    const b = Buffer.from(text, "latin1");
    node.mem().set(b, ptr);
    arg = b.length;
  }
  const r = node.ex.sip_loc(op, node.sim.now, arg);
  node.drain();
  return r;
}

function read(node, b) {
  const n = loc(node, LocOp.Read, b);
  assert.ok(n > 0, `binding ${b} reads (${n})`);
  const ptr = node.ex.sip_loc_ptr() >>> 0;
  return node.mem().subarray(ptr, ptr + n).toString("latin1");
}

/** Every binding of the AOR whose key is `aor`, as [index, line]. */
function bindingsOf(node, aor) {
  const out = [];
  for (let b = loc(node, LocOp.First, 0, aor); b >= 0; b = loc(node, LocOp.Sibling, b)) out.push([b, read(node, b)]);
  return out;
}

/** Every binding of the table, as lines. */
function all(node) {
  const out = [];
  for (let b = loc(node, LocOp.Next, 0); b >= 0; b = loc(node, LocOp.Next, b + 1)) out.push(read(node, b));
  return out;
}

/** The line's fields: AOR CONTACT EXPIRES Q ORIGIN SOURCE PATH (the path is the rest). */
function fields(line) {
  const f = line.split(" ");
  return { aor: f[0], contact: f[1], expires: Number(f[2]), q: Number(f[3]), origin: f[4], source: f[5], path: f.slice(6).join(" ") };
}

/** What a host does when its registrar changes: the AOR's bindings, shared with `to` through our route token. */
function share(from, fromAddr, to, aor) {
  for (const [b, line] of bindingsOf(from, aor)) {
    const f = fields(line);
    const shared = [f.aor, f.contact, f.expires, f.q, "shared", f.source, `<sip:rb${b.toString(16).padStart(8, "0")}@${fromAddr};lr>`].join(" ");
    assert.ok(loc(to, LocOp.Put, 0, shared) >= 0, `put ${shared}`);
  }
}

test("a phone registered at A is called through B: B's shared binding routes by A's token, A delivers to its binding", () => {
  const sim = new Sim({ seed: 31, latency: [2, 5] });
  const a = new CoreNode(sim, A, { board: "server" });
  const b = new CoreNode(sim, B, { board: "server" });
  const bob = new Ua(sim, "127.0.1.1:5060", "bob", { proxy: A, ring: 50, answer: 200 });
  const alice = new Ua(sim, "127.0.2.1:5060", "alice", { proxy: B });
  bob.register(300);
  sim.run(sim.now + 500);
  assert.equal(bob.registered, 200);
  const lines = bindingsOf(a, "bob");
  assert.equal(lines.length, 1);
  const f = fields(lines[0][1]);
  assert.deepEqual([f.aor, f.contact, f.q, f.origin, f.source, f.path], ["bob", "sip:bob@127.0.1.1:5060", -1, "local", "udp:127.0.1.1:5060", "-"]);
  assert.ok(f.expires > 298 && f.expires <= 300, `expires ${f.expires}`);

  // before B knows bob: 480
  const early = alice.invite("bob");
  sim.run(sim.now + 2000);
  assert.deepEqual(alice.calls.get(early).finals, [480]);

  share(a, A, b, "bob");
  const [[, atB]] = bindingsOf(b, "bob");
  assert.equal(fields(atB).origin, "shared");
  assert.equal(fields(atB).path, `<sip:rb${lines[0][0].toString(16).padStart(8, "0")}@${A};lr>`);
  const id = alice.invite("bob", { hangupAfter: 300 });
  sim.run(sim.now + 3000);
  const c = alice.calls.get(id);
  assert.deepEqual(c.finals, [200], "answered by bob through B and A");
  assert.equal(bob.calls.size, 1, "bob got the INVITE");
  const got = [...bob.calls.values()][0].st.msg;
  assert.equal(got.ruri, "sip:bob@127.0.1.1:5060", "the Request-URI is bob's contact");
  assert.equal(got.all("record-route").length, 2, `B and A record-routed: ${got.all("record-route")}`);
  assert.deepEqual(got.all("route"), [], "A's token was consumed");
  assert.ok((a.events["call-attempt"] ?? 0) >= 1 && (b.events["call-attempt"] ?? 0) >= 1, "both proxies routed it");
});

test("A honours its route token only for that binding's contact: another Request-URI or a binding gone gets 480, never a relay", () => {
  const sim = new Sim({ seed: 32, latency: [2, 5] });
  const a = new CoreNode(sim, A, { board: "server" });
  const bob = new Ua(sim, "127.0.1.1:5060", "bob", { proxy: A });
  bob.register(300);
  sim.run(sim.now + 500);
  const [[idx]] = bindingsOf(a, "bob");
  const stranger = new Ua(sim, "127.0.9.9:5060", "eve", { proxy: A, domain: "127.0.0.9" });
  const tok = (i) => `Route: <sip:rb${i.toString(16).padStart(8, "0")}@${A};lr>`;
  // the token of bob's binding, but a Request-URI that is not its contact (somebody else's address)
  const r1 = stranger.invite("carol", { headers: [tok(idx)] });
  // a token naming a binding that does not exist
  const r2 = stranger.invite("bob", { headers: [tok(idx + 7)] });
  sim.run(sim.now + 3000);
  assert.deepEqual(stranger.calls.get(r1).finals, [480]);
  assert.deepEqual(stranger.calls.get(r2).finals, [480]);
  assert.equal(bob.calls.size, 0, "nothing reached bob");
  // once bob is gone, his token is worth nothing either
  bob.register(0);
  sim.run(sim.now + 500);
  assert.equal(loc(a, LocOp.First, 0, "bob"), -1);
});

test("a token for a binding whose WebSocket has closed gets 480, as a lookup does: nothing is sent toward its .invalid contact", () => {
  const sim = new Sim({ seed: 37, latency: [2, 5] });
  const a = new CoreNode(sim, A, { board: "server" });
  const ws = Buffer.from("127.0.0.1:8080", "latin1");
  a.mem().set(ws, a.ptr.cfg);
  assert.equal(a.ex.sip_transport_add(2, Proto.WS, ws.length), 0);
  // restored after a restart: registered over a WebSocket (its connection is gone: conn 0)
  const idx = loc(a, LocOp.Put, 0, "web sip:x7@df7jal23ls0d.invalid;transport=ws 300 -1 local ws:127.0.2.9:51000 -");
  assert.ok(idx >= 0);
  assert.match(read(a, idx), / local ws:127\.0\.2\.9:51000 -$/);
  // another instance's INVITE: the Request-URI is the binding's contact (the Ua writes sip:USER@DOMAIN)
  const b = new Ua(sim, "127.0.0.2:5060", "b", { proxy: A, domain: "df7jal23ls0d.invalid;transport=ws" });
  const id = b.invite("x7", { headers: [`Route: <sip:rb${idx.toString(16).padStart(8, "0")}@${A};lr>`] });
  const c = b.calls.get(id);
  assert.equal(c.invite.ruri, "sip:x7@df7jal23ls0d.invalid;transport=ws");
  sim.run(sim.now + 3000);
  assert.deepEqual(c.finals, [480]);
});

test("lines round-trip: read, put elsewhere as local, read again; escaped AOR keys; q; malformed lines -1; Next walks the table", () => {
  const sim = new Sim({ seed: 33 });
  const c = new CoreNode(sim, "127.0.0.3:5060", { board: "server" });
  const lines = [
    "bob sip:bob@127.0.1.1:5060 120 500 local udp:127.0.1.1:5060 -",
    "a%20b%25c sip:x@[2001:db8::1]:5070;transport=tcp 60 -1 shared - <sip:rb0000002a@127.0.0.1:5060;lr>",
    "carol sip:carol@192.0.2.7 3600 1000 local - <sip:edge.example.com;lr>,\"Edge 2\" <sip:10.0.0.1;lr>",
  ];
  for (const l of lines) assert.ok(loc(c, LocOp.Put, 0, l) >= 0, l);
  assert.deepEqual(all(c).sort(), [...lines].sort(), "every line reads back as it was put");
  const [[, esc]] = bindingsOf(c, "a b%c"); // looked up by the unescaped key
  assert.equal(esc, lines[1]);
  // a put for the same contact refreshes it (one binding), here with another q and origin
  assert.ok(loc(c, LocOp.Put, 0, "bob sip:bob@127.0.1.1:5060 30 100 shared - -") >= 0);
  assert.deepEqual(bindingsOf(c, "bob").map(([, l]) => l), ["bob sip:bob@127.0.1.1:5060 30 100 shared - -"]);
  for (const bad of [
    "", "bob", "bob sip:bob@h 60 -1 local -", "bob notauri 60 -1 local - -", "bob sip:b@h 0 -1 local - -",
    "bob sip:b@h 86401 -1 local - -", "bob sip:b@h 60 1001 local - -", "bob sip:b@h 60 -1 mine - -",
    "bob sip:b@h 60 -1 local udp:nohost - -", "bob sip:b@h 60 -1 local xyz:1.2.3.4:5 -", "b%zz sip:b@h 60 -1 local - -",
  ]) assert.equal(loc(c, LocOp.Put, 0, bad), -1, JSON.stringify(bad));
  assert.equal(all(c).length, 3, "nothing changed by the refused lines");
  // expiry: the 30 s one goes
  sim.run(sim.now + 31_000);
  assert.equal(bindingsOf(c, "bob").length, 0);
  assert.equal(c.eventLog.filter((e) => e.name === "reg-expire").map((e) => [e.texts[0], e.code]).join(), "bob,1", "expiry of a shared binding: code 1");
});

test("remove: one contact or the whole AOR, reg-remove events (code 1 for shared); a REGISTER makes a shared binding local", () => {
  const sim = new Sim({ seed: 34, latency: [2, 5] });
  const b = new CoreNode(sim, B, { board: "server" });
  for (const l of ["bob sip:bob@127.0.1.1:5060 300 -1 shared - <sip:rb00000000@127.0.0.1:5060;lr>",
    "bob sip:bob@127.0.1.2:5060 300 -1 local udp:127.0.1.2:5060 -", "dan sip:dan@127.0.1.4:5060 300 -1 local - -"]) {
    assert.ok(loc(b, LocOp.Put, 0, l) >= 0);
  }
  assert.equal(loc(b, LocOp.Remove, 0, "bob sip:bob@127.0.1.1:5060"), 1);
  assert.equal(loc(b, LocOp.Remove, 0, "bob sip:bob@127.0.1.9:5060"), 0, "no such contact");
  assert.equal(loc(b, LocOp.Remove, 0, "nobody"), 0);
  assert.equal(loc(b, LocOp.Remove, 0, "%g"), -1);
  assert.equal(loc(b, LocOp.Remove, 0, "dan"), 1);
  assert.deepEqual(b.eventLog.filter((e) => e.name === "reg-remove").map((e) => `${e.texts[0]} ${e.texts[1]} ${e.code}`),
    ["bob sip:bob@127.0.1.1:5060 1", "dan sip:dan@127.0.1.4:5060 0"]);
  // bob's phone at 127.0.1.3 was shared from A, then registers here: local
  assert.ok(loc(b, LocOp.Put, 0, "bob sip:bob@127.0.1.3:5060 300 -1 shared - <sip:rb00000001@127.0.0.1:5060;lr>") >= 0);
  const phone = new Ua(sim, "127.0.1.3:5060", "bob", { proxy: B });
  phone.register(120);
  sim.run(sim.now + 500);
  assert.equal(phone.registered, 200);
  const mine = bindingsOf(b, "bob").map(([, l]) => fields(l)).find((f) => f.contact === "sip:bob@127.0.1.3:5060");
  assert.deepEqual([mine.origin, mine.source, mine.path], ["local", "udp:127.0.1.3:5060", "-"]);
  assert.equal(bindingsOf(b, "bob").length, 2, "the other local binding stays");
});

test("no room: a put beyond the configured capacity is -2 and changes nothing", () => {
  const sim = new Sim({ seed: 35 });
  const c = new CoreNode(sim, "127.0.0.3:5060", { board: "server", set: { MaxBindings: 2 } });
  assert.ok(loc(c, LocOp.Put, 0, "u1 sip:u1@192.0.2.1 60 -1 local - -") >= 0);
  assert.ok(loc(c, LocOp.Put, 0, "u2 sip:u2@192.0.2.2 60 -1 local - -") >= 0);
  assert.equal(loc(c, LocOp.Put, 0, "u3 sip:u3@192.0.2.3 60 -1 local - -"), -2);
  assert.equal(all(c).length, 2);
  assert.ok(loc(c, LocOp.Put, 0, "u2 sip:u2@192.0.2.2 90 -1 local - -") >= 0, "a refresh needs no room");
});

test("the small boards have no location service: sip_loc_ptr 0, sip_loc -1", () => {
  const sim = new Sim({ seed: 36 });
  for (const board of ["micro", "gateway"]) {
    const n = new CoreNode(sim, board === "micro" ? "127.0.0.4:5060" : "127.0.0.5:5060", { board });
    assert.equal(n.ex.sip_loc_ptr(), 0, board);
    assert.equal(n.ex.sip_loc(LocOp.Capacity, 0, 0), -1, board);
  }
  const s = new CoreNode(sim, "127.0.0.6:5060", { board: "server" });
  assert.equal(s.ex.sip_loc(LocOp.Capacity, 0, 0), 1664);
});
