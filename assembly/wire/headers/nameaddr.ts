// name-addr / addr-spec header decoder: From, To, Contact, Route, Record-Route, Path
// (RFC 3261 §20.10, §20.20, §20.30, §20.34, §20.39; RFC 3327; ABNF §25.1).
//
//   value        = ( name-addr / addr-spec ) *( SEMI param )
//   name-addr    = [ display-name ] LAQUOT addr-spec RAQUOT
//   display-name = *( token LWS ) / quoted-string
//
// Input contract: [p, end) is ONE header value element (the view splits Contact / Route /
// Record-Route / Path on commas, never From / To), trimmed of surrounding LWS; inner LWS may hold
// folded CRLFs. Reads stay in [p, end), nothing allocates, nothing traps.
//
// Strictness, chosen once here:
//   - display-name tokens may be followed directly by '<' (RFC 4475 lwsdisp `caller<sip:...>`);
//     a byte that is neither token nor LWS ends the display-name and makes the value an addr-spec,
//     which then fails (RFC 4475 baddn `Bell, Alexander <...>`);
//   - no LWS inside `<...>` (RFC 4475 badaspec `< sip:... >` is rejected);
//   - addr-spec form: the URI ends at the first LWS or ';' (RFC 3261 §20.10: what follows are header
//     parameters), and a '?' or ',' in it is an error (RFC 4475 regbadct);
//   - Route kind (Route, Record-Route, Path) requires the bracketed form;
//   - `*` alone is a Contact star (REGISTER remove-all), only for Contact kind;
//   - any URI scheme parseUri accepts is allowed (RFC 4475 unksm2: isbn:, http:, name:).
//   - parameters: `tag` (token) is decoded for every kind; `q` and `expires` only for Contact,
//     where a malformed value is an error. Known parameters may not repeat. All others are kept in
//     the `params` pass-through span.

import { Ch } from "../../util/chars";
import { isLws, skipLws, skipToken, skipQuoted, eqText, ParamSpan, claimValue } from "../scan";
import { UriRepr, parseUri } from "../uri";
import { decodeDeltaSeconds } from "./scalar";
import { ParamOwner, walkParams } from "./params";
import { T_K_EXPIRES, T_K_Q, T_K_TAG } from "../tables";

/** Which header the value comes from: it selects the forms and parameters allowed (the same numbers
 * in params.ts ParamOwner). */
export const enum NameAddrKind { FromTo = 0, Contact = 1, Route = 2 }

/**
 * One decoded name-addr / addr-spec. Allocated once by its owner (the nested UriRepr too) and reused;
 * `decodeNameAddr` resets every field.
 *
 *   "Alice" <sip:alice@example.com;transport=tcp> ;tag=88sja8x;expires=60
 *   ^display ^uri ............................... ^params ..............
 */
export class NameAddrRepr {
  uri: UriRepr;
  /** Display name as written: a quoted-string with its quotes, or the token run; 0/0 when none. */
  display: usize = 0;
  displayLen: u32 = 0;
  hasDisplay: bool = false;
  displayQuoted: bool = false;
  /** The URI was inside `<...>` (name-addr form). */
  bracketed: bool = false;
  /** Contact `*` (only for NameAddrKind.Contact); every other field is empty then. */
  star: bool = false;
  /** Header parameters after the first ';' (after '>' in the bracketed form), 0/0 when none. */
  params: usize = 0;
  paramsLen: u32 = 0;
  tag: usize = 0;
  tagLen: u32 = 0;
  hasTag: bool = false;
  /** Contact q in thousandths (0.33 -> 330, 1 -> 1000), -1 when absent. */
  q: i32 = -1;
  /** Contact expires in seconds, clamped to 2^32-1; -1 when absent. */
  expires: i64 = -1;

  constructor() {
    this.uri = new UriRepr();
  }

  /** Every field after `uri` as initialised above: all zero but q and expires (one fill). */
  reset(): void {
    this.uri.reset();
    const d = offsetof<NameAddrRepr>("display");
    memory.fill(changetype<usize>(this) + d, 0, offsetof<NameAddrRepr>() - d);
    this.q = -1;
    this.expires = -1;
  }
}

/**
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), exactly [p, end), in thousandths.
 * -1 when malformed.
 */
export function parseQValue(p: usize, end: usize): i32 {
  if (p >= end) return -1;
  const lead = <u32>load<u8>(p) - Ch.D0; // p < end
  if (lead > 1) return -1;
  let v = <i32>lead * 1000;
  p++;
  if (p == end) return v;
  if (load<u8>(p) != Ch.DOT || end - p > 4) return -1; // p < end; "." and at most 3 digits
  let scale: i32 = 100;
  while (++p < end) {
    const d = <u32>load<u8>(p) - Ch.D0; // p < end
    if (d > 9 || (lead != 0 && d != 0)) return -1; // "1." allows zeros only
    v += <i32>d * scale;
    scale /= 10;
  }
  return v;
}

/** Apply one header parameter (walkParams). False when a decoded parameter is malformed or repeated. */
export function nameAddrParam(ps: ParamSpan, out: NameAddrRepr, kind: NameAddrKind): bool {
  const n = ps.name;
  const nl = ps.nameLen;
  const v = ps.value;
  const ve = v + <usize>ps.valueLen;
  if (eqText(n, nl, T_K_TAG)) {
    // tag-param = "tag" EQUAL token
    if (skipToken(v, ve) != ve || !claimValue(changetype<usize>(out) + offsetof<NameAddrRepr>("tag"), ps)) return false;
  } else if (kind == NameAddrKind.Contact) {
    if (eqText(n, nl, T_K_Q)) {
      if (out.q >= 0 || !ps.hasValue) return false;
      const q = parseQValue(v, ve);
      if (q < 0) return false;
      out.q = q;
    } else if (eqText(n, nl, T_K_EXPIRES)) {
      if (out.expires >= 0 || !ps.hasValue) return false;
      const e = decodeDeltaSeconds(v, ve);
      if (e < 0) return false;
      out.expires = e;
    }
  }
  return true;
}

// claimValue() reads the tag span as address, length (+4), has-flag (+8).
if (offsetof<NameAddrRepr>("tagLen") != offsetof<NameAddrRepr>("tag") + 4 || offsetof<NameAddrRepr>("hasTag") != offsetof<NameAddrRepr>("tag") + 8) ERROR("NameAddrRepr tag layout");

/**
 * Decode one name-addr / addr-spec value at [p, end) into `out` for header `kind`. Returns false on
 * any syntax error (then `out` holds partial data and must not be used).
 */
export function decodeNameAddr(p: usize, end: usize, out: NameAddrRepr, kind: NameAddrKind): bool {
  out.reset();
  if (p >= end) return false;
  const c0 = <u32>load<u8>(p); // p < end
  if (c0 == Ch.STAR && kind == NameAddrKind.Contact && end - p == 1) {
    out.star = true;
    return true;
  }
  // Find '<' after an optional display-name.
  let lt: usize = 0;
  if (c0 == Ch.DQUOTE) {
    const e = skipQuoted(p, end);
    if (e == 0) return false; // unterminated (RFC 4475 quotbal)
    out.display = p; out.displayLen = <u32>(e - p); out.hasDisplay = true; out.displayQuoted = true;
    const q = skipLws(e, end);
    if (q >= end || load<u8>(q) != Ch.LT) return false; // q < end
    lt = q;
  } else if (c0 == Ch.LT) {
    lt = p;
  } else {
    // *(token LWS): stop at the first byte that is neither.
    let q = p;
    let last = p;
    while (true) {
      const t = skipToken(q, end);
      if (t == q) break;
      last = t;
      q = skipLws(t, end);
    }
    if (q < end && load<u8>(q) == Ch.LT) { // q < end
      lt = q;
      out.display = p; out.displayLen = <u32>(last - p); out.hasDisplay = true;
    }
  }

  let u = p;
  let ue = p;
  if (lt != 0) {
    // name-addr: the URI is everything up to '>', without LWS.
    u = lt + 1;
    ue = u;
    while (ue < end) {
      const c = <u32>load<u8>(ue); // ue < end
      if (c == Ch.GT) break;
      if (isLws(c)) return false; // RFC 4475 badaspec
      ue++;
    }
    if (ue >= end) return false; // no '>'
    out.bracketed = true;
    p = ue + 1;
  } else {
    // addr-spec: the URI ends at LWS or ';'. Not allowed for Route / Record-Route / Path.
    if (kind == NameAddrKind.Route) return false;
    while (ue < end) {
      const c = <u32>load<u8>(ue); // ue < end
      if (c == Ch.SEMI || isLws(c)) break;
      if (c == Ch.QUESTION || c == Ch.COMMA) return false; // RFC 4475 regbadct, baddn
      ue++;
    }
    p = ue;
  }
  if (!parseUri(u, ue, out.uri)) return false;

  // Header parameters (RFC 4475 badinv01 `;;;;` is an empty one).
  return walkParams(p, end, <ParamOwner>kind, changetype<usize>(out), changetype<usize>(out) + offsetof<NameAddrRepr>("params"));
}
