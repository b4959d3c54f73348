// Header decoders (assembly/wire/headers/): Via, name-addr (From/To/Contact/Route), CSeq, Call-ID,
// Max-Forwards, Expires, Content-Length, Content-Type, option-tag. Values come byte-exact from the
// RFC 4475 / RFC 5118 torture messages (folding kept, as the message view hands them over).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadProbe, root } from "../lib/core.mjs";

const corpus = join(root, "tests", "corpus");
const P = loadProbe();
const ex = P.ex;

// ---- corpus helpers ----

/** Header values named `names` (lower-case, compact forms included) of a corpus file, folding kept. */
function values(file, ...names) {
  const raw = readFileSync(join(corpus, file)).toString("latin1");
  const head = raw.slice(0, raw.indexOf("\r\n\r\n"));
  const lines = head.split(/\r\n(?![ \t])/).slice(1); // drop the start line; keep folded CRLFs
  const out = [];
  for (const line of lines) {
    const i = line.indexOf(":");
    const name = line.slice(0, i).replace(/[ \t]+$/, "").toLowerCase();
    if (names.includes(name)) out.push(line.slice(i + 1).replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ""));
  }
  assert.ok(out.length > 0, `${file}: no ${names}`);
  return out;
}
/** Split a list value on commas outside quotes and <> (what the message view does), trimming LWS. */
function split(v) {
  const out = [];
  let cur = "", q = false, a = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (q && c === "\\") { cur += c + (v[++i] ?? ""); continue; }
    if (c === '"') q = !q;
    else if (!q && c === "<") a = true;
    else if (!q && c === ">") a = false;
    if (c === "," && !q && !a) { out.push(cur); cur = ""; continue; }
    cur += c;
  }
  out.push(cur);
  return out.map((s) => s.replace(/^[ \t\r\n]+|[ \t\r\n]+$/g, ""));
}
const r4475 = (n) => `rfc4475/${n}.sip`;
const r5118 = (n) => `rfc5118/${n}.sip`;

// ---- probe helpers ----
const span = (name) => P.str(ex[`probe_hdr_${name}_ptr`](), ex[`probe_hdr_${name}_len`]());
function via(v) { return ex.probe_hdr_via(P.rx, P.put(v)) === 1; }
function na(v, kind) { return ex.probe_hdr_na(P.rx, P.put(v), kind) === 1; }
const FROMTO = 0, CONTACT = 1, ROUTE = 2;
const T = { UDP: 1, TCP: 2, TLS: 3, SCTP: 4, WS: 5, WSS: 6, Other: 7 };
const H = { None: 0, Name: 1, IPv4: 2, IPv6: 3 };
function cseq(v) { return ex.probe_hdr_cseq(P.rx, P.put(v)) === 1; }
const num = (fn) => (v) => ex[fn](P.rx, P.put(v));

// ==== Via ====

test("via_lws_around_slashes", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "via");
  assert.equal(v, "SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw");
  assert.ok(via(v));
  assert.equal(span("via_proto"), "SIP");
  assert.equal(span("via_version"), "2.0");
  assert.equal(ex.probe_hdr_via_is_sip20(), 1);
  assert.equal(span("via_transport"), "UDP");
  assert.equal(ex.probe_hdr_via_transport_kind(), T.UDP);
  assert.equal(span("via_host"), "192.0.2.2");
  assert.equal(ex.probe_hdr_via_host_kind(), H.IPv4);
  assert.equal(ex.probe_hdr_via_port(), -1);
  assert.equal(span("via_params"), "branch=390skdjuw");
  assert.equal(span("via_branch"), "390skdjuw");
  assert.equal(ex.probe_hdr_via_branch_rfc3261(), 0);
  assert.equal(ex.probe_hdr_via_rport(), -2);
  assert.equal(ex.probe_hdr_via_ttl(), -1);
});

test("via_compact_folded_list_elements", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "v");
  const [a, b] = split(v);
  assert.ok(via(a));
  assert.equal(ex.probe_hdr_via_transport_kind(), T.TCP);
  assert.equal(span("via_host"), "spindle.example.com");
  assert.equal(ex.probe_hdr_via_host_kind(), H.Name);
  assert.equal(span("via_branch"), "z9hG4bK9ikj8");
  assert.equal(ex.probe_hdr_via_branch_rfc3261(), 1);
  assert.ok(via(b));
  assert.equal(span("via_host"), "192.168.255.111");
  assert.equal(span("via_branch"), "z9hG4bK30239");
  assert.equal(span("via_params"), " branch=\r\n z9hG4bK30239");
});

test("via_unknown_transport_valid", () => {
  const vs = values(r4475("3.1.1.10_transports"), "via");
  const kinds = [T.UDP, T.SCTP, T.TLS, T.Other, T.TCP];
  const names = ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"];
  vs.forEach((v, i) => {
    assert.ok(via(v), v);
    assert.equal(ex.probe_hdr_via_transport_kind(), kinds[i]);
    assert.equal(span("via_transport"), names[i]);
    assert.equal(span("via_host"), `t${i + 1}.example.com`);
    assert.equal(ex.probe_hdr_via_branch_rfc3261(), 1);
  });
  for (const [t, k] of [["ws", T.WS], ["WSS", T.WSS], ["tls", T.TLS]]) {
    assert.ok(via(`SIP/2.0/${t} h.example.com`));
    assert.equal(ex.probe_hdr_via_transport_kind(), k);
  }
});

test("via_badbranch_cookie_only_not_rfc3261", () => {
  const [v] = values(r4475("3.2.1_badbranch"), "via");
  assert.ok(via(v));
  assert.equal(ex.probe_hdr_via_has_branch(), 1);
  assert.equal(span("via_branch"), "z9hG4bK");
  assert.equal(ex.probe_hdr_via_branch_rfc3261(), 0);
  assert.ok(via("SIP/2.0/UDP h.example.com;branch=Z9HG4BKabc"));
  assert.equal(ex.probe_hdr_via_branch_rfc3261(), 0, "cookie is case-sensitive");
  assert.ok(via("SIP/2.0/UDP h.example.com;branch=z9hG4bKa"));
  assert.equal(ex.probe_hdr_via_branch_rfc3261(), 1);
});

test("via_empty_params_rejected", () => {
  const [v] = values(r4475("3.1.2.1_badinv01"), "via");
  assert.equal(v, "SIP/2.0/UDP 192.0.2.15;;,;,,");
  for (const e of split(v)) assert.equal(via(e), false, JSON.stringify(e));
  assert.equal(via("SIP/2.0/UDP 192.0.2.15;"), false);
  assert.equal(via("SIP/2.0/UDP 192.0.2.15;branch=z9hG4bK1;"), false);
  assert.equal(via("SIP/2.0/UDP 192.0.2.15;branch="), false);
});

test("via_received_ipv6_with_brackets_accepted", () => {
  const [v] = values(r5118("4.5a_via-received-param-with-delim"), "via");
  assert.ok(via(v));
  assert.equal(span("via_host"), "[2001:db8::9:1]");
  assert.equal(ex.probe_hdr_via_host_kind(), H.IPv6);
  assert.equal(span("via_received"), "[2001:db8::9:255]");
  assert.equal(ex.probe_hdr_via_received_kind(), H.IPv6);
  assert.equal(span("via_branch"), "z9hG4bKas3-111");
});

test("via_received_ipv6_without_brackets_accepted", () => {
  const [v] = values(r5118("4.5b_via-received-param-no-delim"), "via");
  assert.ok(via(v));
  assert.equal(span("via_received"), "2001:db8::9:255");
  assert.equal(ex.probe_hdr_via_received_kind(), H.IPv6);
  assert.equal(span("via_branch"), "z9hG4bKas3");
});

test("via_list_ipv6_and_ipv4_hosts", () => {
  const vs = values(r5118("4.7_mult-ip-in-header"), "via");
  assert.ok(via(vs[0]));
  assert.equal(span("via_host"), "[2001:db8::9:1]");
  assert.equal(ex.probe_hdr_via_host_kind(), H.IPv6);
  assert.equal(ex.probe_hdr_via_port(), 6050);
  assert.ok(via(vs[1]));
  assert.equal(span("via_host"), "192.0.2.1");
  assert.equal(ex.probe_hdr_via_host_kind(), H.IPv4);
  assert.equal(ex.probe_hdr_via_port(), -1);
  assert.ok(via(vs[2]));
  assert.equal(span("via_host"), "[2001:db8::9:255]");
  assert.equal(ex.probe_hdr_via_transport_kind(), T.TCP);
  assert.equal(span("via_received"), "192.0.2.200");
  assert.equal(ex.probe_hdr_via_received_kind(), H.IPv4);
  assert.equal(span("via_branch"), "z9hG4bK451jj");
});

test("via_ipv4_mapped_ipv6_host", () => {
  const vs = values(r5118("4.9_ipv4-mapped-ipv6"), "via");
  assert.ok(via(vs[0]));
  assert.equal(span("via_host"), "[::ffff:192.0.2.10]");
  assert.equal(ex.probe_hdr_via_host_kind(), H.IPv6);
  assert.equal(ex.probe_hdr_via_port(), 19823);
  assert.ok(via(vs[1]));
  assert.equal(span("via_host"), "[::ffff:192.0.2.2]");
  assert.equal(ex.probe_hdr_via_port(), -1);
});

test("via_rport_maddr_ttl_and_unknown_params", () => {
  assert.ok(via('SIP/2.0/UDP h.example.com : 5070 ;rport;maddr=224.2.0.1;ttl=16;x="a;b";branch=z9hG4bKx'));
  assert.equal(ex.probe_hdr_via_port(), 5070);
  assert.equal(ex.probe_hdr_via_rport(), -1);
  assert.equal(span("via_maddr"), "224.2.0.1");
  assert.equal(ex.probe_hdr_via_ttl(), 16);
  assert.equal(span("via_branch"), "z9hG4bKx");
  assert.ok(via("SIP/2.0/UDP h.example.com;rport=5061;received=192.0.2.1"));
  assert.equal(ex.probe_hdr_via_rport(), 5061);
  assert.ok(via("SIP/2.0/UDP h.example.com;RPORT=0;Branch=abc"));
  assert.equal(ex.probe_hdr_via_rport(), 0);
  assert.equal(span("via_branch"), "abc");
  for (const bad of [";ttl=256", ";ttl=", ";ttl=1a", ";rport=65536", ";rport=x", ";received=host.example.com",
    ";received=1.2.3.4.5", ";maddr=[::1", ";branch=a;branch=b", ";branch", ';branch="q"', ";=x", "; ;a"]) {
    assert.equal(via(`SIP/2.0/UDP h.example.com${bad}`), false, bad);
  }
});

test("via_malformed_sent_protocol_or_sent_by_rejected", () => {
  assert.ok(via("SIP/2.0/UDP [::1]:5060"));
  assert.ok(via("sip/3.0/udp host."));
  assert.equal(ex.probe_hdr_via_is_sip20(), 0);
  for (const bad of ["", "SIP", "SIP/2.0", "SIP/2.0/UDP", "SIP/2.0/UDP ", "SIP/2.0/UDPhost", "SIP//UDP h",
    "SIP/2.0/UDP 1.2.3.999", "SIP/2.0/UDP [::1", "SIP/2.0/UDP [1::2::3]", "SIP/2.0/UDP [12345::1]",
    "SIP/2.0/UDP host:99999", "SIP/2.0/UDP host:", "SIP/2.0/UDP -host", "SIP/2.0/UDP ho_st",
    "SIP/2.0/UDP host junk", "SIP/2.0/UDP a..b", "SIP/2.0/UDP host,", "SIP/2.0/UDP [1:2:3:4:5:6:7]"]) {
    assert.equal(via(bad), false, JSON.stringify(bad));
  }
});

// ==== name-addr ====

test("nameaddr_addr_spec_with_lws_around_tag", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "to");
  assert.equal(v, "sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n");
  assert.ok(na(v, FROMTO));
  assert.equal(ex.probe_hdr_na_bracketed(), 0);
  assert.equal(ex.probe_hdr_na_has_display(), 0);
  assert.equal(span("na_uri"), "sip:vivekg@chair-dnrc.example.com");
  assert.equal(span("na_tag"), "1918181833n");
});

test("nameaddr_quoted_display_with_escapes_and_folded_params", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "from");
  assert.ok(na(v, FROMTO));
  assert.equal(span("na_display"), '"J Rosenberg \\\\\\""');
  assert.equal(ex.probe_hdr_na_display_quoted(), 1);
  assert.equal(span("na_uri"), "sip:jdrosen@example.com");
  assert.equal(span("na_tag"), "98asjd8");
  assert.equal(span("na_params"), "\r\n  tag = 98asjd8");
});

test("contact_wsinv_folded_params_and_q", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "m");
  assert.ok(na(v, CONTACT));
  assert.equal(span("na_display"), '"Quoted string \\"\\""');
  assert.equal(span("na_uri"), "sip:jdrosen@example.com");
  assert.equal(ex.probe_hdr_na_q(), 330);
  assert.equal(ex.probe_hdr_na_has_tag(), 0);
});

test("route_wsinv_uri_params_inside_brackets", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "route");
  assert.ok(na(v, ROUTE));
  assert.equal(span("na_uri_params"), "lr;unknownwith=value;unknown-no-value");
  assert.equal(ex.probe_hdr_na_params_len(), 0);
});

test("nameaddr_intmeth_token_display_and_tag", () => {
  const [from] = values(r4475("3.1.1.2_intmeth"), "from");
  assert.ok(na(from, FROMTO));
  assert.equal(span("na_display"), "token1~` token2'+_ token3*%!.-");
  assert.equal(ex.probe_hdr_na_display_quoted(), 0);
  assert.equal(span("na_uri"), "sip:mundane@example.com");
  assert.equal(span("na_tag"), "_token~1'+`*%!-.");
  const [to] = values(r4475("3.1.1.2_intmeth"), "to");
  assert.ok(na(to, FROMTO));
  assert.equal(span("na_display"), '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"');
  assert.equal(span("na_uri"), "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com");
});

test("nameaddr_lwsdisp_accepted", () => {
  const [v] = values(r4475("3.1.1.6_lwsdisp"), "from");
  assert.equal(v, "caller<sip:caller@example.com>;tag=323");
  assert.ok(na(v, FROMTO));
  assert.equal(span("na_display"), "caller");
  assert.equal(span("na_uri"), "sip:caller@example.com");
  assert.equal(span("na_tag"), "323");
});

test("nameaddr_quotbal_rejected", () => {
  const [v] = values(r4475("3.1.2.6_quotbal"), "to");
  assert.equal(na(v, FROMTO), false);
});

test("nameaddr_baddn_rejected", () => {
  for (const v of values(r4475("3.1.2.15_baddn"), "from", "to")) assert.equal(na(v, FROMTO), false, v);
  // the same names quoted are fine (RFC 4475 badaspec's From)
  const [ok] = values(r4475("3.1.2.14_badaspec"), "from");
  assert.ok(na(ok, FROMTO));
  assert.equal(span("na_display"), '"Bell, Alexander"');
});

test("nameaddr_badaspec_lws_inside_brackets_rejected", () => {
  const [v] = values(r4475("3.1.2.14_badaspec"), "to");
  assert.equal(v, '"Watson, Thomas" < sip:t.watson@example.org >');
  assert.equal(na(v, FROMTO), false);
  assert.equal(na("<sip:a@example.org >", FROMTO), false);
});

test("contact_regbadct_addr_spec_with_headers_rejected", () => {
  const [v] = values(r4475("3.1.2.13_regbadct"), "contact");
  assert.equal(na(v, CONTACT), false);
  assert.equal(na("sip:a@example.com,b", CONTACT), false);
});

test("contact_regescrt_headers_inside_brackets_accepted", () => {
  const [v] = values(r4475("3.3.14_regescrt"), "m");
  assert.ok(na(v, CONTACT));
  assert.equal(span("na_uri"), "sip:user@example.com?Route=%3Csip:sip.example.com%3E");
});

test("contact_cparam01_addr_spec_param_is_header_param", () => {
  const [v] = values(r4475("3.3.12_cparam01"), "contact");
  assert.ok(na(v, CONTACT));
  assert.equal(span("na_uri"), "sip:+19725552222@gw1.example.net");
  assert.equal(ex.probe_hdr_na_uri_params_len(), 0);
  assert.equal(span("na_params"), "unknownparam");
});

test("contact_cparam02_bracketed_param_is_uri_param", () => {
  const [v] = values(r4475("3.3.13_cparam02"), "contact");
  assert.ok(na(v, CONTACT));
  assert.equal(span("na_uri_params"), "unknownparam");
  assert.equal(ex.probe_hdr_na_params_len(), 0);
});

test("contact_badinv01_empty_params_rejected", () => {
  const [v] = values(r4475("3.1.2.1_badinv01"), "contact");
  assert.equal(na(v, CONTACT), false);
});

test("contact_scalar02_folded_expires_clamped", () => {
  const [v] = values(r4475("3.1.2.4_scalar02"), "contact");
  assert.ok(na(v, CONTACT));
  assert.equal(ex.probe_hdr_na_expires(), 4294967295);
});

test("contact_q_and_expires", () => {
  const cases = [["0.33", 330], ["1", 1000], ["1.0", 1000], ["1.000", 1000], ["1.", 1000], ["0", 0],
    ["0.5", 500], ["0.001", 1], ["0.999", 999]];
  for (const [q, want] of cases) {
    assert.ok(na(`<sip:a@example.com>;q=${q};expires=3600`, CONTACT), q);
    assert.equal(ex.probe_hdr_na_q(), want, q);
    assert.equal(ex.probe_hdr_na_expires(), 3600);
  }
  for (const q of ["1.5", "2", "0.1234", ".5", "", "0.a", '"0.5"', "1.001"]) {
    assert.equal(na(`<sip:a@example.com>;q=${q}`, CONTACT), false, q);
  }
  assert.equal(na("<sip:a@example.com>;expires=x", CONTACT), false);
  assert.equal(na("<sip:a@example.com>;q=0.5;q=0.6", CONTACT), false);
  assert.ok(na("<sip:a@example.com>", CONTACT));
  assert.equal(ex.probe_hdr_na_q(), -1);
  assert.equal(ex.probe_hdr_na_expires(), -1);
  // q / expires are generic parameters outside Contact
  assert.ok(na("<sip:a@example.com>;q=zz;tag=1", FROMTO));
  assert.equal(ex.probe_hdr_na_q(), -1);
});

test("contact_star_only_for_contact", () => {
  assert.ok(na("*", CONTACT));
  assert.equal(ex.probe_hdr_na_star(), 1);
  assert.equal(na("*", FROMTO), false);
  assert.equal(na("*", ROUTE), false);
  assert.equal(na("*;q=1", CONTACT), false);
  assert.ok(na("<sip:a@b.example>", CONTACT));
  assert.equal(ex.probe_hdr_na_star(), 0);
});

test("route_requires_brackets", () => {
  assert.equal(na("sip:proxy.example.com;lr", ROUTE), false);
  assert.ok(na("<sip:proxy.example.com;lr>", ROUTE));
  assert.ok(na('"p" <sip:proxy.example.com;lr>;foo=bar', ROUTE));
  assert.equal(span("na_params"), "foo=bar");
});

test("nameaddr_unksm2_any_scheme", () => {
  const f = r4475("3.3.4_unksm2");
  const [to] = values(f, "to");
  assert.ok(na(to, FROMTO));
  assert.equal(span("na_uri"), "isbn:2983792873");
  const [from] = values(f, "from");
  assert.ok(na(from, FROMTO));
  assert.equal(span("na_uri"), "http://www.example.com");
  assert.equal(span("na_tag"), "3234233");
  const [c] = values(f, "contact");
  assert.ok(na(c, CONTACT));
  assert.equal(span("na_uri"), "name:John_Smith");
});

test("nameaddr_ipv6_uri_hosts", () => {
  for (const [file, host] of [["4.5b_via-received-param-no-delim", "[2001:db8::9:1]"],
    ["4.9_ipv4-mapped-ipv6", "[::ffff:192.0.2.2]"], ["4.1_ipv6-good", "[2001:db8::1]"]]) {
    const [c] = values(r5118(file), "contact");
    assert.ok(na(c, CONTACT), c);
    assert.equal(span("na_uri_host"), host);
  }
});

test("nameaddr_trailing_garbage_rejected", () => {
  for (const bad of ["<sip:a@b.example> x", "<sip:a@b.example", "<sip:a@b.example>>", '"x" sip:a@b.example',
    "display <sip:a@b.example> ;", "<>", "", "<sip:a@b.example>;tag", "<sip:a@b.example>;tag=a;tag=b",
    "sip:a@b.example x", "a b", '"unterminated <sip:a@b.example>']) {
    assert.equal(na(bad, FROMTO), false, JSON.stringify(bad));
  }
});

// ==== scalars ====

test("cseq_folded_leading_zeros", () => {
  const [v] = values(r4475("3.1.1.1_wsinv"), "cseq");
  assert.equal(v, "0009\r\n  INVITE");
  assert.ok(cseq(v));
  assert.equal(ex.probe_hdr_cseq_seq(), 9);
  assert.equal(span("cseq_method"), "INVITE");
  assert.equal(ex.probe_hdr_cseq_method_id(), 1);
});

test("cseq_unknown_method_kept", () => {
  const [v] = values(r4475("3.1.1.2_intmeth"), "cseq");
  assert.ok(cseq(v));
  assert.equal(ex.probe_hdr_cseq_seq(), 139122385);
  assert.equal(span("cseq_method"), "!interesting-Method0123456789_*+`.%indeed'~");
  assert.equal(ex.probe_hdr_cseq_method_id(), 0);
});

test("cseq_overlarge_rejected", () => {
  const [v] = values(r4475("3.1.2.4_scalar02"), "cseq");
  assert.equal(v, "36893488147419103232 REGISTER");
  assert.equal(cseq(v), false);
  assert.equal(cseq("4294967296 REGISTER"), false);
  assert.ok(cseq("4294967295 REGISTER"));
  assert.equal(ex.probe_hdr_cseq_seq(), 4294967295);
  assert.equal(ex.probe_hdr_cseq_method_id(), 5);
  for (const bad of ["", "1", "1 ", "INVITE", "1INVITE", "-1 INVITE", "1 INVITE x", "1 INV,ITE", " 1 INVITE"]) {
    assert.equal(cseq(bad), false, JSON.stringify(bad));
  }
});

test("callid_word_chars", () => {
  const callid = num("probe_hdr_callid");
  const [v] = values(r4475("3.1.1.2_intmeth"), "call-id");
  assert.equal(v, "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{");
  assert.equal(callid(v), 1);
  assert.equal(callid(values(r4475("3.1.1.1_wsinv"), "call-id")[0]), 1);
  assert.equal(callid("abc"), 1);
  for (const bad of ["", "a@", "@b", "a b", "a@b@c", "a;b", "a,b", "a=b", "a\r\n b"]) {
    assert.equal(callid(bad), 0, JSON.stringify(bad));
  }
});

test("max_forwards_leading_zeros_and_range", () => {
  const mf = num("probe_hdr_max_forwards");
  assert.equal(mf(values(r4475("3.1.1.1_wsinv"), "max-forwards")[0]), 68);
  assert.equal(mf(values(r4475("3.1.2.4_scalar02"), "max-forwards")[0]), -1);
  assert.equal(mf("255"), 255);
  assert.equal(mf("0"), 0);
  for (const bad of ["", "256", "-1", "7a", "1 0"]) assert.equal(mf(bad), -1, bad);
});

test("expires_overlarge_clamped", () => {
  const ds = num("probe_hdr_delta_seconds");
  assert.equal(ds(values(r4475("3.1.2.4_scalar02"), "expires")[0]), 4294967295);
  assert.equal(ds("4294967295"), 4294967295);
  assert.equal(ds("4294967296"), 4294967295);
  assert.equal(ds("0"), 0);
  assert.equal(ds("3600"), 3600);
  for (const bad of ["", "-1", "1h", "99999999999999999999x"]) assert.equal(ds(bad), -1, bad);
});

test("content_length_negative_and_overlarge_invalid", () => {
  const cl = num("probe_hdr_content_length");
  assert.equal(cl(values(r4475("3.1.2.3_ncl"), "content-length")[0]), -1);
  assert.equal(cl(values(r4475("3.1.1.1_wsinv"), "content-length")[0]), 150);
  assert.equal(cl("0"), 0);
  assert.equal(cl("2147483647"), 2147483647);
  assert.equal(cl("2147483648"), -1);
  assert.equal(cl(""), -1);
  assert.equal(cl("1 2"), -1);
});

test("content_type_type_subtype_params", () => {
  const ct = num("probe_hdr_ctype");
  assert.equal(ct(values(r4475("3.1.1.1_wsinv"), "content-type")[0]), 1);
  assert.equal(span("ctype_type"), "application");
  assert.equal(span("ctype_subtype"), "sdp");
  assert.equal(ex.probe_hdr_ctype_params_len(), 0);
  assert.equal(ct(values(r4475("3.1.1.11_mpart01"), "content-type")[0]), 1);
  assert.equal(span("ctype_type"), "multipart");
  assert.equal(span("ctype_subtype"), "mixed");
  assert.equal(span("ctype_params"), "boundary=7a9cbec02ceef655");
  assert.equal(ct('text \r\n / plain ; charset = "utf-8" ;format=flowed'), 1);
  assert.equal(span("ctype_subtype"), "plain");
  for (const bad of ["", "application", "application/", "/sdp", "application/sdp;", "application/sdp;x",
    "application/sdp x", "app lication/sdp", "application/sdp;;a=b"]) {
    assert.equal(ct(bad), 0, JSON.stringify(bad));
  }
});

test("option_tag_single_token", () => {
  const ot = num("probe_hdr_option_tag");
  const [req] = values(r4475("3.3.5_bext01"), "require");
  for (const e of split(req)) assert.equal(ot(e), 1, e);
  assert.equal(ot("100rel"), 1);
  for (const bad of ["", "a b", "a,b", "a;b"]) assert.equal(ot(bad), 0, bad);
});

// ==== robustness ====

function samples() {
  const out = [];
  const add = (file, ...names) => { for (const v of values(file, ...names)) out.push(...split(v), v); };
  add(r4475("3.1.1.1_wsinv"), "via", "v", "to", "from", "m", "route", "cseq", "call-id", "max-forwards",
    "content-type", "content-length");
  add(r4475("3.1.1.2_intmeth"), "via", "to", "from", "call-id", "cseq");
  add(r4475("3.1.1.6_lwsdisp"), "from");
  add(r4475("3.1.1.10_transports"), "via");
  add(r4475("3.1.2.1_badinv01"), "via", "contact");
  add(r4475("3.1.2.4_scalar02"), "cseq", "contact", "expires", "max-forwards");
  add(r4475("3.1.2.6_quotbal"), "to");
  add(r4475("3.1.2.13_regbadct"), "contact");
  add(r4475("3.1.2.14_badaspec"), "from", "to");
  add(r4475("3.1.2.15_baddn"), "from", "to");
  add(r4475("3.3.12_cparam01"), "contact");
  add(r4475("3.3.13_cparam02"), "contact");
  add(r4475("3.3.14_regescrt"), "m");
  add(r4475("3.1.1.11_mpart01"), "content-type");
  add(r5118("4.5a_via-received-param-with-delim"), "via");
  add(r5118("4.5b_via-received-param-no-delim"), "via", "contact");
  add(r5118("4.7_mult-ip-in-header"), "via");
  add(r5118("4.9_ipv4-mapped-ipv6"), "via", "contact");
  out.push('SIP/2.0/UDP h.example.com : 5070 ;rport;maddr=224.2.0.1;ttl=16;x="a;b";branch=z9hG4bKx', "*",
    "<sip:a@example.com>;q=0.5;expires=60", 'text / plain ; charset = "utf-8"');
  return out.map((s) => Buffer.from(s, "latin1"));
}

function decodeAll(buf) {
  const len = P.put(buf);
  const r = [ex.probe_hdr_via(P.rx, len), ex.probe_hdr_na(P.rx, len, 0), ex.probe_hdr_na(P.rx, len, 1),
    ex.probe_hdr_na(P.rx, len, 2), ex.probe_hdr_cseq(P.rx, len), ex.probe_hdr_callid(P.rx, len),
    ex.probe_hdr_max_forwards(P.rx, len), ex.probe_hdr_delta_seconds(P.rx, len),
    ex.probe_hdr_content_length(P.rx, len), ex.probe_hdr_ctype(P.rx, len), ex.probe_hdr_option_tag(P.rx, len)];
  return r.join(",");
}

test("no_trap_on_every_prefix", () => {
  for (const s of samples()) for (let n = 0; n <= s.length; n++) decodeAll(s.subarray(0, n));
});

test("bytes_after_value_never_read", () => {
  // Poison the bytes after the value: the results must not change (picohttpparser guard-page stand-in).
  for (const s of samples()) {
    for (let n = 0; n <= s.length; n++) {
      const pre = s.subarray(0, n);
      P.mem().fill(0x00, P.rx + n, P.rx + n + 64);
      const a = decodeAll(pre);
      for (const poison of [0xa5, 0x3e, 0x22, 0x3b, 0x5d]) {
        P.mem().fill(poison, P.rx + n, P.rx + n + 64);
        assert.equal(decodeAll(pre), a, `${JSON.stringify(pre.toString("latin1"))} poison ${poison}`);
      }
    }
  }
});

test("no_trap_on_seeded_random_mutations", () => {
  const base = samples();
  let seed = 0x5eed1234 >>> 0;
  const rnd = (n) => { seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0; return seed % n; };
  const special = Buffer.from(' \t\r\n;:,<>"\\[]/@=*?.0129zZ%\x00\xff');
  for (let i = 0; i < 20000; i++) {
    const arr = Array.from(base[rnd(base.length)]);
    const edits = 1 + rnd(4);
    for (let e = 0; e < edits; e++) {
      const pos = rnd(arr.length + 1);
      const byte = rnd(2) ? special[rnd(special.length)] : rnd(256);
      switch (rnd(3)) {
        case 0: if (pos < arr.length) arr[pos] = byte; break;
        case 1: arr.splice(pos, 0, byte); break;
        default: arr.splice(pos, 1 + rnd(3)); break;
      }
    }
    decodeAll(Buffer.from(arr));
  }
});
