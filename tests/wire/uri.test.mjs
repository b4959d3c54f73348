// wire/uri.ts: URI parsing (RFC 3261 §19.1, RFC 3966 tel, RFC 5118 IPv6) and the RFC 3261 §19.1.4
// comparison, through the probe_uri_* exports of the probe build.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadProbe } from "../lib/core.mjs";

const P = loadProbe();
const { ex } = P;

const Scheme = { None: 0, Sip: 1, Sips: 2, Tel: 3, Other: 4 };
const Host = { None: 0, Name: 1, IPv4: 2, IPv6: 3 };

/** Second slot's bytes go after the first's in RX so both stay live for probe_uri_equals. */
const SLOT_OFF = [0, 32768];

function parse(uri, slot = 0) {
  const b = Buffer.from(uri, "latin1");
  P.mem().set(b, P.rx + SLOT_OFF[slot]);
  return ex.probe_uri_parse(P.rx + SLOT_OFF[slot], b.length, slot) === 1;
}

/** Parsed view of slot `s` as plain JS (spans as strings, null when absent). */
function view(s = 0) {
  const span = (name) => {
    const ptr = ex[`probe_uri_${name}_ptr`](s);
    return ptr === 0 ? null : P.str(ptr, ex[`probe_uri_${name}_len`](s));
  };
  return {
    scheme: ex.probe_uri_scheme(s),
    schemeText: P.str(ex.probe_uri_start(s), ex.probe_uri_scheme_len(s)),
    user: ex.probe_uri_has_user(s) ? span("user") : null,
    password: ex.probe_uri_has_password(s) ? P.str(ex.probe_uri_password_ptr(s), ex.probe_uri_password_len(s)) : null,
    host: span("host"),
    hostKind: ex.probe_uri_host_kind(s),
    port: ex.probe_uri_port(s),
    params: ex.probe_uri_params_len(s) ? span("params") : "",
    headers: ex.probe_uri_headers_len(s) ? span("headers") : "",
    transport: span("transport"),
    maddr: span("maddr"),
    method: span("method"),
    userParam: span("user_param"),
    ttl: ex.probe_uri_ttl(s),
    lr: ex.probe_uri_lr(s) === 1,
  };
}

function parsed(uri) {
  assert.ok(parse(uri), `should parse: ${uri}`);
  return view(0);
}

function equals(a, b) {
  assert.ok(parse(a, 0), `should parse: ${a}`);
  assert.ok(parse(b, 1), `should parse: ${b}`);
  const ab = ex.probe_uri_equals() === 1;
  // the relation is symmetric: check the other order too
  parse(b, 0); parse(a, 1);
  assert.equal(ex.probe_uri_equals() === 1, ab, `asymmetric comparison: ${a} / ${b}`);
  return ab;
}

// ---------------------------------------------------------------- parsing SIP / SIPS

test("parse_sip_uri_with_password_and_params", () => {
  const v = parsed("sip:alice:secret@atlanta.com:5061;transport=TCP;maddr=239.255.255.1;ttl=15;method=INVITE;user=phone;lr?subject=hi&x=y");
  assert.equal(v.scheme, Scheme.Sip);
  assert.equal(v.schemeText, "sip");
  assert.equal(v.user, "alice");
  assert.equal(v.password, "secret");
  assert.equal(v.host, "atlanta.com");
  assert.equal(v.hostKind, Host.Name);
  assert.equal(v.port, 5061);
  assert.equal(v.params, "transport=TCP;maddr=239.255.255.1;ttl=15;method=INVITE;user=phone;lr");
  assert.equal(v.headers, "subject=hi&x=y");
  assert.equal(v.transport, "TCP");
  assert.equal(v.maddr, "239.255.255.1");
  assert.equal(v.ttl, 15);
  assert.equal(v.method, "INVITE");
  assert.equal(v.userParam, "phone");
  assert.equal(v.lr, true);
});

test("parse_minimal_sip_uri_has_defaults", () => {
  const v = parsed("sip:example.com");
  assert.equal(v.user, null);
  assert.equal(v.password, null);
  assert.equal(v.host, "example.com");
  assert.equal(v.port, -1);
  assert.equal(v.ttl, -1);
  assert.equal(v.lr, false);
  assert.equal(v.transport, null);
  assert.equal(v.params, "");
  assert.equal(v.headers, "");
});

test("parse_sips_scheme_case_insensitive", () => {
  assert.equal(parsed("SIPS:bob@Biloxi.COM").scheme, Scheme.Sips);
  assert.equal(parsed("SiP:bob@biloxi.com").scheme, Scheme.Sip);
});

test("parse_host_kinds", () => {
  assert.equal(parsed("sip:a@192.0.2.4").hostKind, Host.IPv4);
  assert.equal(parsed("sip:a@host.example.com.").hostKind, Host.Name);
  assert.equal(parsed("sip:a@x-1.example").hostKind, Host.Name);
  const v = parsed("sip:[2001:db8::10]:5070");
  assert.equal(v.hostKind, Host.IPv6);
  assert.equal(v.host, "[2001:db8::10]");
  assert.equal(v.port, 5070);
});

test("parse_lr_with_value_and_empty_user_password", () => {
  assert.equal(parsed("sip:p.example.com;lr=on").lr, true);
  const v = parsed("sip:user:@h.example");
  assert.equal(v.user, "user");
  assert.equal(v.password, "");
});

test("parse_rfc4475_intmeth_unusual_userinfo", () => {
  const v = parsed("sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com");
  assert.equal(v.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
  assert.equal(v.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
  assert.equal(v.host, "example.com");
  assert.equal(v.params, "");
});

test("parse_rfc4475_semiuri_user_with_semicolon", () => {
  const v = parsed("sip:user;par=u%40example.net@example.com");
  assert.equal(v.user, "user;par=u%40example.net");
  assert.equal(v.host, "example.com");
  assert.equal(v.params, "");
});

test("parse_rfc4475_esc01_escaped_user", () => {
  const v = parsed("sip:sips%3Auser%40example.com@example.net");
  assert.equal(v.user, "sips%3Auser%40example.com");
  assert.equal(v.host, "example.net");
});

test("parse_rfc4475_escnull_user", () => {
  assert.equal(parsed("sip:%00@example.com").user, "%00");
});

test("parse_ipv6_mapped_ipv4_reference", () => {
  const v = parsed("sip:[::ffff:192.0.2.1]");
  assert.equal(v.hostKind, Host.IPv6);
  assert.equal(v.host, "[::ffff:192.0.2.1]");
});

test("parse_ipv6_three_colons_leniently_rfc5118_4_10a", () => {
  const v = parsed("sip:[2001:db8:::192.0.2.1]");
  assert.equal(v.hostKind, Host.IPv6);
  assert.equal(v.port, -1);
});

test("parse_ipv6_port_inside_brackets_is_not_a_port", () => {
  const v = parsed("sip:[2001:db8::10:5070]");
  assert.equal(v.host, "[2001:db8::10:5070]");
  assert.equal(v.port, -1);
  assert.equal(parsed("sip:user@[2001:db8::10]:5070").port, 5070);
});

test("reject_ipv6_without_brackets", () => {
  assert.equal(parse("sip:user@2001:db8::10"), false);
  assert.equal(parse("sip:2001:db8::10"), false);
});

test("parse_escaped_params_and_headers", () => {
  const v = parsed("sip:h.example;%74ransport=udp;x%3Dy=%41?to=sip:bob%40biloxi.com");
  assert.equal(v.transport, "udp");
  assert.equal(v.headers, "to=sip:bob%40biloxi.com");
});

// ---------------------------------------------------------------- tel and other schemes

test("parse_tel_global_and_local_numbers", () => {
  let v = parsed("tel:+1-201-555-0123");
  assert.equal(v.scheme, Scheme.Tel);
  assert.equal(v.user, "+1-201-555-0123");
  assert.equal(v.host, null);
  v = parsed("tel:7042;phone-context=example.com");
  assert.equal(v.user, "7042");
  assert.equal(v.params, "phone-context=example.com");
  assert.equal(parsed("tel:*21#;phone-context=+1").user, "*21#");
  assert.equal(parsed("TEL:+(33).1.23").scheme, Scheme.Tel);
});

test("reject_malformed_tel", () => {
  for (const u of ["tel:", "tel:+", "tel:+-", "tel:+12 34", "tel:+1234?x=y", "tel:+12;", "tel:abc@x"]) {
    assert.equal(parse(u), false, u);
  }
});

test("parse_other_schemes_as_absolute_uri", () => {
  for (const u of ["nobodyknows:anything", "soap.beep://192.0.2.103:3002", "isbn:2983792873",
                   "http://www.example.com", "name:John_Smith", "mailto:a@b.example"]) {
    assert.ok(parse(u), u);
    const v = view(0);
    assert.equal(v.scheme, Scheme.Other, u);
    assert.equal(v.schemeText, u.slice(0, u.indexOf(":")), u);
    assert.equal(v.host, null);
    assert.equal(ex.probe_uri_len(0), u.length);
  }
});

test("reject_malformed_other_schemes", () => {
  for (const u of ["1abc:x", "abc", "abc:", "ab_c:x", "http://a b", "http://a<b", "x:a\"b", "x:a\x01", "x:a\x7f"]) {
    assert.equal(parse(u), false, JSON.stringify(u));
  }
});

// ---------------------------------------------------------------- malformed SIP URIs

test("reject_malformed_sip_uris", () => {
  const bad = [
    "", "sip:", "sip", "sip:@h", "sip:user@", "sip:user@h:", "sip:a@b:70000", "sip:a@b:5060x",
    "sip:a@b;ttl=300", "sip:a@b;ttl=", "sip:a@b;ttl=x", "sip:a@b ", " sip:a@b", "<sip:x>", "sip:%G1@h",
    "sip:%4@h", "sip:a%@h", "sip:a@h;x=%G1", "sip:a@h;x=%4", "sip:a@h;", "sip:a@h;=v", "sip:a@h?",
    "sip:a@h?x", "sip:a@h?=v", "sip:a@h?x=1&", "sip:a@h?x=%zz", "sip:a:b:c@h", "sip:a:%g0@h",
    "sip:a@b@c", "sip:a@256.0.0.1", "sip:a@1.2.3", "sip:a@1.2.3.4.5", "sip:a@1..2.3", "sip:a@123",
    "sip:a@-h.com", "sip:a@h-.com", "sip:a@h..com", "sip:a@.h", "sip:a@h.123", "sip:a@[::1",
    "sip:a@[]", "sip:a@[1:2]x", "sip:a@[::1]:", "sip:a@[12345::1]", "sip:a@[g::1]", "sip:a@[1.2.3.4]",
    "sip:a@h>", "sip:a@h\r\n", "sip:a b@h", "sip:a@h_x.com",
  ];
  for (const u of bad) assert.equal(parse(u), false, JSON.stringify(u));
});

test("reject_too_many_params", () => {
  const many = "sip:h" + ";p".repeat(200);
  assert.equal(parse(many), false);
  assert.ok(parse("sip:h;p;q"));
});

// ---------------------------------------------------------------- RFC 3261 §19.1.4 comparison

test("compare_rfc3261_equal_pairs", () => {
  const eq = [
    ["sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"],
    ["sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"],
    ["sip:carol@chicago.com", "sip:carol@chicago.com;security=on"],
    ["sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"],
    ["sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
     "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com"],
    ["sip:alice@atlanta.com?subject=project%20x&priority=urgent",
     "sip:alice@atlanta.com?priority=urgent&subject=project%20x"],
    // equality is not transitive (§19.1.4): both of these equal the bare URI
    ["sip:carol@chicago.com", "sip:carol@chicago.com;security=off"],
  ];
  for (const [a, b] of eq) assert.equal(equals(a, b), true, `${a} == ${b}`);
});

test("compare_rfc3261_unequal_pairs", () => {
  const ne = [
    ["SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"], // different usernames
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"],                  // can resolve to different ports
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"],         // can resolve to different transports
    ["sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"],    // different port and transports
    ["sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"], // different header component
    ["sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"],            // even if that is what it resolves to
    ["sip:carol@chicago.com;security=on", "sip:carol@chicago.com;security=off"], // not transitive
  ];
  for (const [a, b] of ne) assert.equal(equals(a, b), false, `${a} != ${b}`);
});

test("compare_port_absent_vs_explicit", () => {
  assert.equal(equals("sip:a@b", "sip:a@b:5060"), false);
  assert.equal(equals("sip:a@b:5060", "sip:a@b:5060"), true);
  assert.equal(equals("sip:a@b:5060", "sip:a@b:5061"), false);
});

test("compare_scheme_sip_vs_sips_unequal", () => {
  assert.equal(equals("sip:a@b", "sips:a@b"), false);
  assert.equal(equals("sips:a@b", "SIPS:a@B"), true);
  assert.equal(equals("sip:+1234@b", "tel:+1234"), false);
});

test("compare_userinfo_case_sensitive_after_unescaping", () => {
  assert.equal(equals("sip:alice@h", "sip:Alice@h"), false);
  assert.equal(equals("sip:%61lice@h", "sip:alice@h"), true);
  assert.equal(equals("sip:%4a@h", "sip:%4A@h"), true);
  assert.equal(equals("sip:%4a@h", "sip:J@h"), true);
  assert.equal(equals("sip:%4a@h", "sip:j@h"), false);
  assert.equal(equals("sip:a:pw@h", "sip:a:PW@h"), false);
  assert.equal(equals("sip:a:p%77@h", "sip:a:pw@h"), true);
  assert.equal(equals("sip:a:pw@h", "sip:a@h"), false);
  assert.equal(equals("sip:a@h", "sip:h"), false);
});

test("compare_escapes_not_unescaped_recursively", () => {
  // %2561 is "%61" once unescaped, which must not become "a"
  assert.equal(equals("sip:%2561@h", "sip:a@h"), false);
  assert.equal(equals("sip:%2561@h", "sip:%25%36%31@h"), true);
});

test("compare_escaped_null_rfc4475_escnull", () => {
  assert.equal(equals("sip:%00@h", "sip:%00%00@h"), false);
  assert.equal(equals("sip:%00@h", "sip:%00@h"), true);
  assert.equal(equals("sip:a%00b@h", "sip:a%00c@h"), false);
});

test("compare_host_case_insensitive", () => {
  assert.equal(equals("sip:a@EXAMPLE.com", "sip:a@example.COM"), true);
  assert.equal(equals("sip:a@[2001:DB8::1]", "sip:a@[2001:db8::1]"), true);
  assert.equal(equals("sip:a@example.com", "sip:a@example.org"), false);
});

test("compare_significant_params_must_be_in_both", () => {
  for (const p of ["user=phone", "ttl=1", "method=INVITE", "maddr=239.1.1.1", "transport=udp"]) {
    assert.equal(equals("sip:a@h", `sip:a@h;${p}`), false, p);
    assert.equal(equals(`sip:a@h;${p}`, `sip:a@h;${p.toUpperCase()}`), true, p);
  }
  assert.equal(equals("sip:a@h;maddr=239.1.1.1", "sip:a@h;maddr=239.1.1.2"), false);
  assert.equal(equals("sip:a@h;transport=%55DP", "sip:a@h;TRANSPORT=udp"), true);
});

test("compare_other_params_only_when_in_both", () => {
  assert.equal(equals("sip:a@h;x=1", "sip:a@h;y=2"), true);
  assert.equal(equals("sip:a@h;x=1;y=2", "sip:a@h;y=2;x=1"), true);
  assert.equal(equals("sip:a@h;x=1", "sip:a@h;X=1;z"), true);
  assert.equal(equals("sip:a@h;x=1", "sip:a@h;x=2"), false);
  assert.equal(equals("sip:a@h;lr", "sip:a@h;lr=on"), true);
});

test("compare_headers_as_unordered_set", () => {
  assert.equal(equals("sip:a@h?A=1&b=2", "sip:a@h?b=2&a=1"), true);
  assert.equal(equals("sip:a@h?a=x", "sip:a@h?a=X"), false);   // values case-sensitive
  assert.equal(equals("sip:a@h?a=%41", "sip:a@h?A=A"), true);  // unescaped
  assert.equal(equals("sip:a@h?a=1", "sip:a@h?a=1&a=1"), false);
  assert.equal(equals("sip:a@h?a=1&a=1&b=2", "sip:a@h?a=1&b=2&b=2"), false);
  assert.equal(equals("sip:a@h?a=1", "sip:a@h"), false);
});

test("compare_tel_ignores_visual_separators", () => {
  assert.equal(equals("tel:+1-201-555-0123", "tel:+1.201.(555)0123"), true);
  assert.equal(equals("tel:+12015550123", "tel:+12015550124"), false);
  assert.equal(equals("tel:7042;phone-context=example.com", "tel:7042;PHONE-CONTEXT=Example.com"), true);
  assert.equal(equals("tel:7042;phone-context=a.example", "tel:7042;phone-context=b.example"), false);
  assert.equal(equals("tel:12ab", "TEL:12AB"), true);
});

test("compare_other_schemes_bytewise_with_scheme_case_insensitive", () => {
  assert.equal(equals("http://www.example.com", "HTTP://www.example.com"), true);
  assert.equal(equals("http://www.example.com", "http://WWW.example.com"), false);
  assert.equal(equals("isbn:2983792873", "isbn:2983792873"), true);
  assert.equal(equals("isbn:2983792873", "issn:2983792873"), false);
  assert.equal(equals("name:x", "name:xy"), false);
});

test("compare_malformed_uri_equals_nothing", () => {
  parse("sip:a@h", 0);
  parse("sip:", 1);
  assert.equal(ex.probe_uri_equals(), 0);
});

// ---------------------------------------------------------------- robustness

const SAMPLES = [
  "sip:alice:secret@atlanta.com:5061;transport=TCP;maddr=239.255.255.1;ttl=15;lr?subject=hi&x=y",
  "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
  "sip:user;par=u%40example.net@example.com",
  "sip:sips%3Auser%40example.com@example.net",
  "sip:%00@h",
  "sip:[::ffff:192.0.2.1]:5060;transport=udp",
  "sip:[2001:db8:::192.0.2.1]",
  "sip:[2001:db8::10:5070]",
  "sips:bob@biloxi.com:6000;transport=tcp",
  "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
  "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
  "sip:a@192.0.2.4;user=phone;ttl=255",
  "sip:host.example.com.;lr=on",
  "tel:+1-201-555-0123;ext=1234",
  "tel:*21#;phone-context=+1",
  "soap.beep://192.0.2.103:3002",
  "http://www.example.com",
  "nobodyknows:anything",
  "sip:a@h;%74ransport=%55dp?%41=%42",
  "sip:user@2001:db8::10",
];

/** Parses `bytes` placed flush against the end of linear memory, so any load past the end of the
 *  range traps (the wasm stand-in for a guard page), then compares with slot 1. */
function noTrap(bytes) {
  const mem = P.mem();
  const at = mem.length - bytes.length;
  mem.set(bytes, at);
  try {
    ex.probe_uri_parse(at, bytes.length, 0);
    ex.probe_uri_equals();
  } catch (e) {
    assert.fail(`trap on ${JSON.stringify(Buffer.from(bytes).toString("latin1"))}: ${e}`);
  }
}

test("every_prefix_of_sample_uris_returns_without_trap", () => {
  parse(SAMPLES[1], 1);
  for (const s of SAMPLES) {
    const b = Buffer.from(s, "latin1");
    for (let n = 0; n <= b.length; n++) noTrap(b.subarray(0, n));
  }
});

test("random_mutations_return_without_trap", () => {
  parse(SAMPLES[0], 1);
  let seed = 0x5eed1234;
  const rnd = () => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed; };
  const specials = Buffer.from("%:@;?=&[].<> \x00\xff+-", "latin1");
  for (let i = 0; i < 20000; i++) {
    const b = Buffer.from(SAMPLES[rnd() % SAMPLES.length], "latin1");
    const edits = 1 + (rnd() % 4);
    let len = b.length;
    for (let k = 0; k < edits; k++) {
      const at = rnd() % b.length;
      switch (rnd() % 4) {
        case 0: b[at] = rnd() & 0xff; break;
        case 1: b[at] = specials[rnd() % specials.length]; break;
        case 2: len = Math.min(len, at); break;
        default: b[at] = b[rnd() % b.length];
      }
    }
    // alternately parse into slot 0 and compare against a fixed slot 1, and the reverse
    const m = b.subarray(0, len);
    if (i & 1) {
      P.mem().set(m, P.rx + SLOT_OFF[1]);
      try { ex.probe_uri_parse(P.rx + SLOT_OFF[1], m.length, 1); ex.probe_uri_equals(); }
      catch (e) { assert.fail(`trap on ${JSON.stringify(m.toString("latin1"))}: ${e}`); }
      parse(SAMPLES[i % SAMPLES.length], 0);
    } else noTrap(m);
  }
});
