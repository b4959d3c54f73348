// Client digest (assembly/auth/client.ts): the core answering a provider's 401/407, as a B2BUA leg or a
// registrant will. Checked against the published examples (RFC 2617 §3.5 MD5 with qop, RFC 7616 §3.9.1
// SHA-256), against node:crypto, against our own server side (a challenge we wrote, answered by the
// client, accepted by authCheck), and for what it must refuse. Through the probe_auth_* exports.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { loadProbe } from "../lib/core.mjs";

const P = loadProbe();
const { ex } = P;
const H = (alg, s) => createHash(alg === "SHA-256" ? "sha256" : "md5").update(s, "latin1").digest("hex");

const put = (...strs) => P.scratch(...strs);

/**
 * Parses challenge `value` and answers it for method/uri as user/password; returns
 * { ok, alg, qop, stale, ha1, value } (value: the credentials the core wrote).
 */
function answer(value, { method = "REGISTER", uri = "sip:example.com", user = "alice", password = "wonderland", cnonce = "0a4f113b", nc = 1 } = {}) {
  const [ch, m, u, us, pw, cn] = put(value, method, uri, user, password, cnonce);
  const ok = ex.probe_auth_parse_challenge(...ch) === 1;
  if (!ok) return { ok };
  const hl = ex.probe_auth_client_ha1(...us, ...pw);
  const ha1 = P.str(ex.probe_auth_out_ptr(), hl);
  // the HA1 hex goes to the scratch area behind the strings (the challenge's spans must stay put)
  const [h] = [[cn[0] + cn[1] + 1, hl]];
  P.mem().set(Buffer.from(ha1, "latin1"), h[0]);
  const n = ex.probe_auth_answer(...m, ...u, ...us, h[0], ...cn, nc, 4096);
  return {
    ok, ha1, alg: ex.probe_auth_challenge_alg(), qop: ex.probe_auth_challenge_qop() === 1,
    stale: ex.probe_auth_challenge_stale() === 1, value: n ? P.str(ex.probe_tx_ptr(), n) : "",
  };
}
const field = (v, k) => new RegExp(`${k}="?([^",]*)"?`).exec(v)?.[1];

test("RFC 2617 §3.5: MD5 with qop=auth gives the published response", () => {
  const r = answer('Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    { method: "GET", uri: "/dir/index.html", user: "Mufasa", password: "Circle Of Life", cnonce: "0a4f113b", nc: 1 });
  assert.ok(r.ok);
  assert.equal(r.alg, 1);
  assert.equal(r.qop, true);
  assert.equal(field(r.value, "response"), "6629fae49393a05397450978507c4ef1");
  assert.equal(r.value, 'Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", ' +
    'uri="/dir/index.html", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001, ' +
    'opaque="5ccc069c403ebaf9f0171e9517f40e41"');
});

test("RFC 7616 §3.9.1: SHA-256 with qop=auth gives the published response", () => {
  const r = answer('Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"',
    { method: "GET", uri: "/dir/index.html", user: "Mufasa", password: "Circle of Life", cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", nc: 1 });
  assert.ok(r.ok);
  assert.equal(r.alg, 2);
  assert.equal(field(r.value, "response"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
  assert.match(r.value, /, algorithm=SHA-256, cnonce="f2\/wE4q74E6zIJEtWaHKaf5wv\/H5QzzpXusqGemxURZJ", qop=auth, nc=00000001, opaque="FQhe\/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"$/);
});

test("without qop (RFC 2069 form) and without algorithm (MD5): response = H(HA1:nonce:HA2), no cnonce or nc", () => {
  const r = answer('Digest realm="sip.provider.test", nonce="abc123"', { method: "INVITE", uri: "sip:+15551234@sip.provider.test", user: "trunk1", password: "s3cret" });
  assert.ok(r.ok);
  const ha1 = H("MD5", "trunk1:sip.provider.test:s3cret");
  assert.equal(r.ha1, ha1);
  assert.equal(field(r.value, "response"), H("MD5", `${ha1}:abc123:${H("MD5", "INVITE:sip:+15551234@sip.provider.test")}`));
  assert.doesNotMatch(r.value, /cnonce|qop|nc=|opaque/);
});

test("nc is written and hashed as 8 hex digits; stale=true is reported; a quoted-pair in the realm is unquoted for the hash and kept in the answer", () => {
  const r = answer('Digest realm="a\\"b", nonce="n1", qop=auth, stale=TRUE', { nc: 0x1a2b, cnonce: "c0ffee" });
  assert.ok(r.ok);
  assert.equal(r.stale, true);
  assert.match(r.value, /, nc=00001a2b$/);
  assert.match(r.value, /realm="a\\"b"/);
  const ha1 = H("MD5", 'alice:a"b:wonderland');
  assert.equal(r.ha1, ha1);
  assert.equal(field(r.value, "response"), H("MD5", `${ha1}:n1:00001a2b:c0ffee:auth:${H("MD5", "REGISTER:sip:example.com")}`));
  assert.equal(answer('Digest realm="r", nonce="n", stale=false').stale, false);
});

test("refused: not Digest, no realm or nonce, an algorithm we do not have, qop without auth, broken syntax", () => {
  for (const bad of [
    'Basic realm="r"',
    'Digest nonce="n"',
    'Digest realm="r"',
    'Digest realm="r", nonce="n", algorithm=MD5-sess',
    'Digest realm="r", nonce="n", algorithm=SHA-512-256',
    'Digest realm="r", nonce="n", qop="auth-int"',
    'Digest realm="r", nonce="n", realm="s"',
    'Digest realm="r, nonce="n"',
    "Digest",
    "",
  ]) assert.equal(answer(bad).ok, false, bad);
});

test("round trip: a challenge our server writes, answered by the client, is accepted by the server (MD5 and SHA-256)", () => {
  const T0 = 1_700_000_000_000;
  ex.probe_auth_reset();
  assert.equal(ex.probe_auth_set_algorithms(9), 1); // MD5 then SHA-256
  assert.equal(ex.probe_auth_set_realm(...put("example.com")[0]), 0);
  assert.equal(ex.probe_auth_set_secret(...put("0123456789abcdef0123456789abcdef")[0]), 0);
  assert.equal(ex.probe_auth_user_add(...put("alice:password=wonderland")[0]), 0);
  const n = ex.probe_auth_challenge(false, false, T0, 4096);
  const lines = P.str(ex.probe_tx_ptr(), n).split("\r\n").filter(Boolean);
  assert.equal(lines.length, 2);
  for (const [i, line] of lines.entries()) {
    // both lines carry one nonce: the second answer counts on (nc 2), or the server sees a replay
    const r = answer(line.slice(line.indexOf(":") + 1).trim(), { cnonce: `cn${i}`, nc: i + 1 });
    assert.ok(r.ok, line);
    const msg = [
      "REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds", "Max-Forwards: 70",
      "To: <sip:alice@example.com>", "From: <sip:alice@example.com>;tag=1928301774", "Call-ID: a84b4c76e66710", "CSeq: 1 REGISTER",
      "Contact: <sip:alice@192.0.2.1>", `Authorization: ${r.value}`, "Content-Length: 0", "", "",
    ].join("\r\n");
    assert.ok(ex.probe_parse(P.put(msg), 0) > 0);
    assert.equal(ex.probe_auth_check(false, T0 + 1), 0, `${r.alg === 2 ? "SHA-256" : "MD5"}: the server accepts the client's answer`);
    assert.equal(ex.probe_auth_check(false, T0 + 2), 5, "the same answer again is a replay");
  }
});

test("a seeded mutation loop over challenges never traps and never writes past the buffer it is given", () => {
  let s = 12345;
  const rnd = (n) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % n);
  const base = 'Digest realm="r\\\\x", nonce="abc", qop="auth,auth-int", algorithm=SHA-256, opaque="", stale=true';
  for (let i = 0; i < 5000; i++) {
    const b = Buffer.from(base, "latin1");
    for (let k = rnd(4) + 1; k > 0; k--) b[rnd(b.length)] = rnd(256);
    const cut = b.subarray(0, rnd(b.length + 1)).toString("latin1");
    const r = answer(cut, { nc: rnd(1 << 30) });
    if (r.ok) assert.ok(r.value.startsWith('Digest username="alice", realm="'), r.value);
  }
  // a buffer too small for the answer: nothing written (0), never a partial value
  const [ch, m, u, us, , cn] = put('Digest realm="r", nonce="n"', "REGISTER", "sip:x", "alice", "pw", "cn");
  assert.equal(ex.probe_auth_parse_challenge(...ch), 1);
  assert.equal(ex.probe_auth_answer(...m, ...u, ...us, ch[0], ...cn, 1, 40), 0);
});
