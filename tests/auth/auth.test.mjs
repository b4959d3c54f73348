// auth/ and crypto/: hash vectors (RFC 1321 §A.5, FIPS 180-4 / NIST examples), digest challenge /
// response round trips for MD5 and SHA-256 computed with node:crypto, nonce expiry, forgery and
// nc replay, config lines, malformed credentials, a seeded no-trap mutation loop and the
// no-allocation oracle, through the probe_auth_* exports of the probe build.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { loadProbe } from "../lib/core.mjs";

const P = loadProbe();
const { ex } = P;
const V = { Ok: 0, NoCredentials: 1, UnknownUser: 2, BadResponse: 3, Stale: 4, Replay: 5, Malformed: 6, WrongRealm: 7 };
const VName = Object.fromEntries(Object.entries(V).map(([k, v]) => [v, k]));
const REALM = "example.com";
const T0 = 1_700_000_000_000; // ms
const SCRATCH = ex.probe_scratch_ptr();

/** Write bytes into the scratch area; returns [ptr, len]. */
function scratch(s, p = P) {
  const b = typeof s === "string" ? Buffer.from(s, "latin1") : s;
  p.mem().set(b, p.ex.probe_scratch_ptr());
  return [p.ex.probe_scratch_ptr(), b.length];
}
const out = (n, p = P) => p.str(p.ex.probe_auth_out_ptr(), n);
const md5 = (s) => { const [ptr, len] = scratch(s); return out(ex.probe_auth_md5(ptr, len)); };
const sha = (s) => { const [ptr, len] = scratch(s); return out(ex.probe_auth_sha256(ptr, len)); };
const H = (alg, s) => createHash(alg === "SHA-256" ? "sha256" : "md5").update(s, "latin1").digest("hex");

/** Both algorithms offered (MD5 first): most tests exercise both; the default (MD5 only) has its own. */
function setup(p = P, users = ["alice:password=wonderland"]) {
  p.ex.probe_auth_reset();
  assert.equal(p.ex.probe_auth_set_algorithms(9), 1);
  assert.equal(p.ex.probe_auth_set_realm(...scratch(REALM, p)), 0);
  assert.equal(p.ex.probe_auth_set_secret(...scratch(Buffer.from("0123456789abcdef0123456789abcdef"), p)), 0);
  for (const u of users) assert.equal(p.ex.probe_auth_user_add(...scratch(u, p)), 0, u);
}

/** Challenge lines for `now`: [{ header, nonce, alg, stale }]. */
function challenge(now, proxy = false, stale = false, p = P) {
  const n = p.ex.probe_auth_challenge(proxy, stale, now, 4096);
  assert.ok(n > 0);
  const text = p.str(p.ex.probe_tx_ptr(), n);
  return text.split("\r\n").filter(Boolean).map((l) => ({
    line: l,
    header: l.slice(0, l.indexOf(":")),
    nonce: /nonce="([^"]*)"/.exec(l)[1],
    alg: /algorithm=([^,]*)/.exec(l)[1],
    stale: /stale=true/.test(l),
  }));
}

/** Authorization value computed in JS. */
function authz(o) {
  const { user = "alice", realm = REALM, pass = "wonderland", nonce, uri = "sip:example.com", alg = "MD5",
    qop = true, nc = "00000001", cnonce = "0a4f113b", method = "REGISTER", ha1 } = o;
  const h1 = ha1 ?? H(alg, `${user}:${realm}:${pass}`);
  const h2 = H(alg, `${method}:${uri}`);
  const resp = qop ? H(alg, `${h1}:${nonce}:${nc}:${cnonce}:auth:${h2}`) : H(alg, `${h1}:${nonce}:${h2}`);
  let v = `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", response="${resp}"`;
  if (o.algParam !== false) v += `, algorithm=${alg}`;
  if (qop) v += `, qop=auth, nc=${nc}, cnonce="${cnonce}"`;
  return v;
}

function request(authLines, { method = "REGISTER", proxy = false } = {}) {
  const name = proxy ? "Proxy-Authorization" : "Authorization";
  const lines = [
    `${method} sip:example.com SIP/2.0`,
    "Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds",
    "Max-Forwards: 70",
    "To: <sip:alice@example.com>",
    "From: <sip:alice@example.com>;tag=1928301774",
    "Call-ID: a84b4c76e66710",
    `CSeq: 1 ${method}`,
    "Contact: <sip:alice@192.0.2.1>",
    ...[].concat(authLines).map((a) => `${name}: ${a}`),
    "Content-Length: 0", "", "",
  ];
  return lines.join("\r\n");
}

/** Parse the message into view 0 and check; returns the verdict name (or "unparsed"). */
function check(msg, now, proxy = false, p = P) {
  const r = p.ex.probe_parse(p.put(msg), 0);
  if (r <= 0) return "unparsed";
  return VName[p.ex.probe_auth_check(proxy, now)];
}

beforeEach(() => setup());

// --- hashes ---------------------------------------------------------------------------------------

test("md5_rfc1321_a5_vectors", () => {
  const v = {
    "": "d41d8cd98f00b204e9800998ecf8427e",
    a: "0cc175b9c0f1b6a831c399e269772661",
    abc: "900150983cd24fb0d6963f7d28e17f72",
    "message digest": "f96b697d7cb7938d525a2f31aaf161d0",
    abcdefghijklmnopqrstuvwxyz: "c3fcd3d76192e4007dfb496cca67e13b",
    ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789: "d174ab98d277d9f5a5611c2c9f419d9f",
    ["1234567890".repeat(8)]: "57edf4a22be3c955ac49da2e2107b67a",
  };
  for (const [k, h] of Object.entries(v)) assert.equal(md5(k), h, JSON.stringify(k));
});

test("sha256_fips180_vectors", () => {
  assert.equal(sha(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  assert.equal(sha("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  assert.equal(sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  assert.equal(sha("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
});

test("hashes_one_million_a_by_update_loop", () => {
  const [ptr] = scratch("a".repeat(1000));
  for (const [alg, want] of [[1, "7707d6ae4e027c70eea2a935c2296f21"],
    [2, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"]]) {
    ex.probe_auth_h_init(alg);
    for (let i = 0; i < 1000; i++) ex.probe_auth_h_update(alg, ptr, 1000);
    assert.equal(out(ex.probe_auth_h_final(alg)), want);
  }
});

test("hashes_match_node_crypto_at_every_length_and_chunking", () => {
  let seed = 7;
  const rnd = (n) => { seed = (seed * 1103515245 + 12345) >>> 0; return seed % n; };
  for (let len = 0; len < 300; len++) {
    const b = Buffer.alloc(len);
    for (let i = 0; i < len; i++) b[i] = rnd(256);
    const [ptr] = scratch(b);
    for (const [alg, name] of [[1, "md5"], [2, "sha256"]]) {
      ex.probe_auth_h_init(alg);
      for (let off = 0; off < len;) {
        const n = Math.min(len - off, rnd(130));
        ex.probe_auth_h_update(alg, ptr + off, n);
        off += n;
      }
      assert.equal(out(ex.probe_auth_h_final(alg)), createHash(name).update(b).digest("hex"), `${name} len ${len}`);
    }
  }
});

// --- challenge / response -------------------------------------------------------------------------

test("challenge_is_md5_only_by_default", () => {
  // SIPp 3.6 answers only the first challenge line and baresip 1.0 refuses a challenge with any
  // non-MD5 line (tests/peers/baresip-digest.test.mjs): MD5 only unless config key 22 says otherwise
  ex.probe_auth_reset();
  assert.equal(ex.probe_auth_set_realm(...scratch(REALM)), 0);
  assert.equal(ex.probe_auth_set_secret(...scratch(Buffer.from("0123456789abcdef0123456789abcdef"))), 0);
  assert.deepEqual(challenge(T0).map((x) => x.alg), ["MD5"]);
});

test("challenge_lines_follow_the_configured_order", () => {
  const c = challenge(T0);
  assert.equal(c.length, 2);
  assert.deepEqual(c.map((x) => x.alg), ["MD5", "SHA-256"]);
  for (const x of c) {
    assert.equal(x.header, "WWW-Authenticate");
    assert.match(x.line, /^WWW-Authenticate: Digest realm="example\.com", nonce="[0-9a-f]{48}", algorithm=(SHA-256|MD5), qop="auth"$/);
  }
  // the nonce's first 8 hex digits are its issue second, counted from a random base (no uptime leak)
  const t = (now) => parseInt(challenge(now)[0].nonce.slice(0, 8), 16);
  assert.equal(t(T0 + 5000) - t(T0), 5, "seconds apart");
  const s = challenge(T0, true, true);
  assert.deepEqual(s.map((x) => [x.header, x.stale]), [["Proxy-Authenticate", true], ["Proxy-Authenticate", true]]);
  assert.equal(ex.probe_auth_challenge(false, false, T0, 100), 0, "a challenge that does not fit writes nothing");
});

test("algorithms_offered_follow_config_key_22_and_others_are_challenged_afresh", () => {
  // base-4 digits of algorithm ids (1 MD5, 2 SHA-256), least significant first
  const orders = { 9: ["MD5", "SHA-256"], 6: ["SHA-256", "MD5"], 1: ["MD5"], 2: ["SHA-256"] };
  for (const [code, algs] of Object.entries(orders)) {
    assert.equal(ex.probe_auth_set_algorithms(+code), 1, `code ${code}`);
    assert.deepEqual(challenge(T0).map((x) => x.alg), algs, `code ${code}`);
  }
  for (const bad of [0, 3, 5, 10, 17, 25, 0xffffffff]) assert.equal(ex.probe_auth_set_algorithms(bad), 0, `code ${bad} refused`);
  // MD5 only: a correct SHA-256 answer is no credentials at all (challenged afresh, not a failure)
  assert.equal(ex.probe_auth_set_algorithms(1), 1);
  const nonce = challenge(T0)[0].nonce;
  assert.equal(check(request(authz({ nonce, alg: "SHA-256" })), T0), "NoCredentials");
  assert.equal(check(request(authz({ nonce, alg: "MD5" })), T0), "Ok");
  // SHA-256 only: the same for MD5 (and for a response without an algorithm parameter, which means MD5)
  assert.equal(ex.probe_auth_set_algorithms(2), 1);
  const n2 = challenge(T0 + 1000)[0].nonce;
  assert.equal(check(request(authz({ nonce: n2, alg: "MD5" })), T0 + 1000), "NoCredentials");
  assert.equal(check(request(authz({ nonce: n2, alg: "MD5", algParam: false })), T0 + 1000), "NoCredentials");
  assert.equal(check(request(authz({ nonce: n2, alg: "SHA-256" })), T0 + 1000), "Ok");
  // a reset goes back to the default (MD5 only)
  ex.probe_auth_reset();
  assert.equal(ex.probe_auth_set_realm(...scratch(REALM)), 0);
  assert.equal(ex.probe_auth_set_secret(...scratch(Buffer.from("0123456789abcdef0123456789abcdef"))), 0);
  assert.deepEqual(challenge(T0).map((x) => x.alg), ["MD5"]);
});

test("nonce_is_unique_per_challenge_and_bound_to_secret", () => {
  // every challenge has its own nonce, even within one second (two clients challenged together must
  // not share a nonce-count record); both lines of one challenge share it
  const c = challenge(T0);
  assert.equal(c[0].nonce, c[1].nonce);
  const a = c[0].nonce;
  const b = challenge(T0)[0].nonce;
  assert.notEqual(b, a);
  assert.equal(b.slice(0, 8), a.slice(0, 8), "same issue second");
  // both verify (a correct response with each is accepted)
  for (const nonce of [a, b]) {
    const msg = request(authz({ nonce, alg: "MD5" }));
    assert.equal(check(msg, T0 + 100), "Ok");
  }
  // a nonce MAC'd under another secret does not verify
  ex.probe_auth_set_secret(...scratch("another secret"));
  assert.equal(check(request(authz({ nonce: a, alg: "MD5" })), T0 + 200), "BadResponse");
});

for (const alg of ["MD5", "SHA-256"]) {
  test(`round_trip_${alg}_register_ok`, () => {
    const c = challenge(T0).find((x) => x.alg === alg);
    const msg = request(authz({ nonce: c.nonce, alg }));
    assert.equal(check(msg, T0 + 2000), "Ok");
    assert.equal(P.str(ex.probe_auth_user_ptr(), ex.probe_auth_user_len()), "alice");
    assert.equal(ex.probe_auth_user_index(), 0);
    assert.equal(ex.probe_auth_alg(), alg === "MD5" ? 1 : 2);
  });

  test(`round_trip_${alg}_proxy_authorization_invite`, () => {
    const c = challenge(T0, true).find((x) => x.alg === alg);
    const msg = request(authz({ nonce: c.nonce, alg, method: "INVITE", uri: "sip:bob@example.com" }), { method: "INVITE", proxy: true });
    assert.equal(check(msg, T0, true), "Ok");
    assert.equal(check(msg, T0 + 1, false), "NoCredentials", "Authorization is not Proxy-Authorization");
  });

  test(`wrong_password_${alg}_bad_response`, () => {
    const { nonce } = challenge(T0)[0];
    assert.equal(check(request(authz({ nonce, alg, pass: "wrong" })), T0), "BadResponse");
  });

  test(`qop_absent_rfc2069_${alg}_accepted`, () => {
    const { nonce } = challenge(T0)[0];
    assert.equal(check(request(authz({ nonce, alg, qop: false })), T0), "Ok");
    assert.equal(check(request(authz({ nonce, alg, qop: false, pass: "x" })), T0), "BadResponse");
  });

  test(`ha1_config_lines_${alg}_equivalent_to_password`, () => {
    setup(P, [
      `carol:ha1=${H("MD5", `carol:${REALM}:secret`)}`,
      `carol:ha1sha256=${H("SHA-256", `carol:${REALM}:secret`).toUpperCase()}`,
    ]);
    assert.equal(ex.probe_auth_user_count(), 1);
    const { nonce } = challenge(T0)[0];
    assert.equal(check(request(authz({ nonce, alg, user: "carol", pass: "secret" })), T0), "Ok");
    assert.equal(check(request(authz({ nonce, alg, user: "carol", pass: "Secret", nc: "00000002" })), T0), "BadResponse");
  });
}

test("algorithm_absent_means_md5", () => {
  const { nonce } = challenge(T0)[0];
  assert.equal(check(request(authz({ nonce, alg: "MD5", algParam: false })), T0), "Ok");
});

test("only_one_ha1_configured_other_algorithm_is_unknown_user", () => {
  setup(P, [`dave:ha1=${H("MD5", `dave:${REALM}:pw`)}`]);
  const { nonce } = challenge(T0)[0];
  assert.equal(check(request(authz({ nonce, alg: "SHA-256", user: "dave", pass: "pw" })), T0), "UnknownUser");
  assert.equal(check(request(authz({ nonce, alg: "MD5", user: "dave", pass: "pw" })), T0), "Ok");
});

test("unknown_user", () => {
  const { nonce } = challenge(T0)[0];
  assert.equal(check(request(authz({ nonce, user: "mallory" })), T0), "UnknownUser");
  assert.equal(P.str(ex.probe_auth_user_ptr(), ex.probe_auth_user_len()), "mallory");
  assert.equal(ex.probe_auth_user_index(), -1);
  assert.equal(check(request(authz({ nonce, user: "Alice" })), T0), "UnknownUser", "usernames are case-sensitive");
});

test("no_credentials_and_wrong_realm", () => {
  const { nonce } = challenge(T0)[0];
  assert.equal(check(request([]), T0), "NoCredentials");
  assert.equal(check(request(["Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="]), T0), "NoCredentials");
  assert.equal(check(request(authz({ nonce, realm: "other.org" })), T0), "WrongRealm");
  // several lines: the one for our realm is checked, wherever it is
  assert.equal(check(request([authz({ nonce, realm: "other.org" }), authz({ nonce })]), T0), "Ok");
  assert.equal(ex.probe_auth_entry() >= 0, true);
});

test("stale_nonce_valid_mac_after_expiry", () => {
  const { nonce } = challenge(T0)[0];
  const msg = request(authz({ nonce }));
  assert.equal(check(msg, T0 + 301_000), "Stale");
  assert.equal(check(request(authz({ nonce, pass: "bad" })), T0 + 301_000), "BadResponse", "stale only with a valid response");
  ex.probe_auth_set_expiry(30);
  assert.equal(check(request(authz({ nonce, nc: "00000002" })), T0 + 31_000), "Stale");
  assert.equal(check(request(authz({ nonce, nc: "00000003" })), T0 + 30_000), "Ok");
  assert.equal(check(request(authz({ nonce, nc: "00000004" })), T0 - 1000), "Stale", "nonce from the future");
});

test("forged_nonce_rejected", () => {
  const { nonce } = challenge(T0)[0];
  const flip = (s, i) => s.slice(0, i) + (s[i] === "0" ? "1" : "0") + s.slice(i + 1);
  // a later timestamp with the old MAC, a flipped MAC bit, a foreign format
  const later = ((parseInt(nonce.slice(0, 8), 16) + 1000) >>> 0).toString(16).padStart(8, "0") + nonce.slice(8);
  for (const n of [flip(nonce, 20), flip(nonce, 39), later, "abc", nonce + "00", nonce.slice(0, 39) + "g"]) {
    const v = check(request(authz({ nonce: n })), T0);
    assert.ok(v === "BadResponse" || v === "Malformed", `${n}: ${v}`);
  }
  // another server's secret
  const Q = loadProbe();
  setup(Q);
  Q.ex.probe_auth_set_secret(...scratch("different", Q));
  const foreign = challenge(T0, false, false, Q)[0].nonce;
  assert.equal(check(request(authz({ nonce: foreign })), T0), "BadResponse");
});

test("no_secret_set_every_nonce_invalid", () => {
  const { nonce } = challenge(T0)[0];
  ex.probe_auth_reset();
  ex.probe_auth_set_realm(...scratch(REALM));
  ex.probe_auth_user_add(...scratch("alice:password=wonderland"));
  assert.equal(check(request(authz({ nonce })), T0), "BadResponse");
});

test("nc_replay_rejected_increasing_nc_ok", () => {
  const { nonce } = challenge(T0)[0];
  const m1 = request(authz({ nonce, nc: "00000001" }));
  assert.equal(check(m1, T0), "Ok");
  assert.equal(check(m1, T0), "Replay");
  assert.equal(check(request(authz({ nonce, nc: "00000002" })), T0), "Ok");
  assert.equal(check(request(authz({ nonce, nc: "0000000A", cnonce: "x" })), T0), "Ok");
  assert.equal(check(request(authz({ nonce, nc: "00000009", cnonce: "y" })), T0), "Replay");
  assert.equal(check(request(authz({ nonce, nc: "0000000a", cnonce: "z" })), T0), "Replay");
  // a wrong response does not advance the count
  assert.equal(check(request(authz({ nonce, nc: "ffffffff", pass: "bad" })), T0), "BadResponse");
  assert.equal(check(request(authz({ nonce, nc: "0000000b" })), T0), "Ok");
  // another nonce has its own count
  const n2 = challenge(T0 + 1000)[0].nonce;
  assert.equal(check(request(authz({ nonce: n2, nc: "00000001" })), T0 + 1000), "Ok");
});

test("nc_table_eviction_never_accepts_a_replay", (t) => {
  // fill far beyond 256 entries with distinct nonces (one per second), then replay the first ones
  const first = [];
  for (let i = 0; i < 2000; i++) {
    const now = T0 + i * 1000;
    const { nonce } = challenge(now)[0];
    if (i < 50) first.push(nonce);
    assert.equal(check(request(authz({ nonce })), now), "Ok");
  }
  ex.probe_auth_set_expiry(1_000_000);
  const seen = { Stale: 0, Replay: 0 };
  for (const nonce of first) {
    const v = check(request(authz({ nonce })), T0 + 2000_000);
    assert.ok(v === "Stale" || v === "Replay", v);
    seen[v]++;
  }
  t.diagnostic(JSON.stringify(seen));
  assert.ok(seen.Stale > 0, "some of the first nonces were evicted");
});

test("config_lines", () => {
  ex.probe_auth_reset();
  const add = (s) => ex.probe_auth_user_add(...scratch(s));
  assert.equal(add("bob:password=x"), -2, "password before realm");
  ex.probe_auth_set_realm(...scratch(REALM));
  assert.equal(add("bob:password=x\r\n"), 0);
  for (const bad of ["bob", ":password=x", "bob:password=", "bob:ha1=123", "bob:ha1=" + "g".repeat(32),
    "bob:ha1sha256=" + "0".repeat(63), "bob:pass=x", "b b:password=x"]) assert.equal(add(bad), -1, bad);
  assert.equal(add("u".repeat(61) + ":password=x"), -3);
  // the secret is wiped from the caller's line
  const line = "erin:password=topsecret";
  const [ptr, len] = scratch(line);
  assert.equal(ex.probe_auth_user_add(ptr, len), 0);
  assert.equal(P.str(ptr, len), "erin:password=" + "\0".repeat(9));
  // table full
  for (let i = ex.probe_auth_user_count(); i < ex.probe_auth_max_users(); i++) assert.equal(add(`user${i}:ha1=${"0".repeat(32)}`), 0);
  assert.equal(add(`extra:ha1=${"0".repeat(32)}`), -4);
  assert.equal(add(`bob:ha1=${"1".repeat(32)}`), 0, "updating an existing user needs no room");
  // realm rules; a realm change forgets users
  assert.equal(ex.probe_auth_set_realm(...scratch('bad"realm')), -1);
  assert.equal(ex.probe_auth_set_realm(...scratch("")), -1);
  assert.equal(ex.probe_auth_set_realm(...scratch(REALM)), 0);
  assert.equal(ex.probe_auth_user_count(), ex.probe_auth_max_users());
  assert.equal(ex.probe_auth_set_realm(...scratch("other")), 0);
  assert.equal(ex.probe_auth_user_count(), 0);
});

test("lws_folding_escapes_and_case_accepted", () => {
  const { nonce } = challenge(T0)[0];
  const h1 = H("MD5", `alice:${REALM}:wonderland`);
  const h2 = H("MD5", "REGISTER:sip:example.com");
  const resp = H("MD5", `${h1}:${nonce}:00000001:c1:auth:${h2}`).toUpperCase();
  const v = `DIGEST  username = "al\\ice" ,realm="example.com",,\r\n  nonce="${nonce}", uri="sip:example.com",` +
    ` response="${resp}", qop="auth", nc=00000001, cnonce="c1", opaque="xyz", foo=bar, algorithm=md5`;
  assert.equal(check(request(v), T0), "Ok");
});

test("malformed_credentials", () => {
  const { nonce } = challenge(T0)[0];
  const good = authz({ nonce });
  const cases = [
    good.replace(/response="[0-9a-f]+"/, ""),                 // missing response
    good.replace(/nonce="[0-9a-f]+", /, ""),                  // missing nonce
    good.replace(/uri="[^"]*", /, ""),                        // missing uri
    good.replace(/username="alice", /, ""),                   // missing username
    good.replace(/, nc=00000001/, ""),                        // qop without nc
    good.replace(/, cnonce="[^"]*"/, ""),                     // qop without cnonce
    good.replace("nc=00000001", "nc=1"),
    good.replace("nc=00000001", "nc=00000000"),
    good.replace("qop=auth", "qop=auth-int"),
    good.replace("algorithm=MD5", "algorithm=MD5-sess"),
    good.replace(/response="([0-9a-f]+)"/, 'response="$1a"'),
    good + ', nonce="' + nonce + '"',                        // duplicate param
    good.replace('uri="sip:example.com"', 'uri="sip:example.com'), // unterminated quote
    good.slice(0, -1),                                         // unterminated quote at the end
    "Digest",
    "Digest ",
    "Digest username",
    "Digest username=",
    'Digest username="alice" realm="example.com"',             // missing comma
    "Digest realm=example.com, =x",
    "\"Digest\"",
    "@@@ garbage ###",
    "Digest realm=example.com, username=alice\\x",
  ];
  for (const c of cases) assert.equal(check(request(c), T0), "Malformed", c);
  // a token glued to the params is another scheme's name: not Digest credentials at all
  assert.equal(check(request('Digestusername="alice"'), T0), "NoCredentials");
  assert.equal(check(request(good), T0), "Ok", "the base case is good");
});

test("mutation_loop_never_traps", (t) => {
  const { nonce } = challenge(T0)[0];
  const base = Buffer.from(authz({ nonce }), "latin1");
  const pre = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\nMax-Forwards: 70\r\n" +
    "To: <sip:alice@example.com>\r\nFrom: <sip:alice@example.com>;tag=1\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nAuthorization: ";
  const post = "\r\nContent-Length: 0\r\n\r\n";
  let seed = 0x5eed;
  const rnd = (n) => { seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0; return seed % n; };
  const dict = [0x22, 0x2c, 0x5c, 0x3d, 0x20, 0x09, 0x00, 0xff, 0x0d, 0x0a];
  const counts = {};
  let nc = 1;
  for (let i = 0; i < 10000; i++) {
    let b = Buffer.from(base);
    const k = 1 + rnd(4);
    for (let j = 0; j < k; j++) {
      const at = rnd(b.length + 1);
      switch (rnd(5)) {
        case 0: if (b.length) b[Math.min(at, b.length - 1)] = rnd(256); break;
        case 1: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + rnd(8)))]); break;
        case 2: b = Buffer.concat([b.subarray(0, at), Buffer.from([dict[rnd(dict.length)]]), b.subarray(at)]); break;
        case 3: b = b.subarray(0, at); break;
        case 4: b = Buffer.concat([b.subarray(0, at), b.subarray(rnd(b.length), rnd(b.length + 1)), b.subarray(at)]); break;
      }
    }
    const msg = Buffer.concat([Buffer.from(pre, "latin1"), b, Buffer.from(post, "latin1")]);
    const r = ex.probe_parse(P.put(msg), 0);
    if (r <= 0) { counts.unparsed = (counts.unparsed ?? 0) + 1; continue; }
    const v = ex.probe_auth_check(false, T0 + (nc++));
    assert.ok(v >= 0 && v <= 7, `verdict ${v}`);
    counts[VName[v]] = (counts[VName[v]] ?? 0) + 1;
  }
  t.diagnostic(JSON.stringify(counts));
  assert.ok((counts.Malformed ?? 0) > 1000, JSON.stringify(counts));
  assert.ok(10000 - (counts.unparsed ?? 0) > 5000, JSON.stringify(counts));
});

test("no_allocation_over_10000_checks_and_challenges", () => {
  const { nonce } = challenge(T0)[0];
  const msgs = [
    request(authz({ nonce, alg: "MD5" })),
    request(authz({ nonce, alg: "SHA-256", nc: "00000002" })),
    request(authz({ nonce, pass: "x" })),
    request("Digest garbage"),
  ];
  const lens = msgs.map((m) => Buffer.byteLength(m, "latin1"));
  const m0 = ex.probe_heap_mark();
  const m1 = ex.probe_heap_mark();
  for (let i = 0; i < 10000; i++) {
    P.put(msgs[i & 3]);
    ex.probe_parse(lens[i & 3], 0);
    ex.probe_auth_check(false, T0 + i);
    if ((i & 63) === 0) ex.probe_auth_challenge(i & 1, (i & 2) !== 0, T0 + i * 1000, 4096);
  }
  const m2 = ex.probe_heap_mark();
  assert.equal(m2 - m1, m1 - m0);
});

test("micro_board_probe_has_the_same_behaviour", () => {
  const M = loadProbe("micro");
  setup(M);
  const c = challenge(T0, false, false, M).find((x) => x.alg === "SHA-256");
  assert.equal(check(request(authz({ nonce: c.nonce, alg: "SHA-256" })), T0, false, M), "Ok");
});
