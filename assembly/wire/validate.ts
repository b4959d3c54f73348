// Message validation: the second level of parsing (STYLE §4). After the view has framed and indexed a
// message, decode the headers the core acts on, check the RFC 3261 rules that make a message
// well formed (§8.1.1 mandatory headers, §20 single-valued headers, §8.2.2 CSeq method agreement),
// and keep the decoded top-level facts in one `Decoded` record for the layers above.
//
// What is decoded (and so can make a message invalid) is what some layer acts on, nothing more:
//   always     Request-URI, top Via, From, To, Call-ID, CSeq, Max-Forwards, Expires
//   requests   every Route (loose routing pops ours), Proxy-Require and Require (420)
//   REGISTER   every Contact, Path, Min-Expires, Supported (the registrar stores and answers them)
//   responses  every Via (forwarding a response routes on the next one)
// Other headers are carried through untouched, as a proxy must (§16.6), without being judged.
//
// The verdict is a WireError (None when valid). Each error implies a status (errors.ts); a response
// that fails validation is dropped, never answered.

import { EntryFlag, MessageView } from "./view";
import { Hdr } from "./hdr";
import { WireError } from "./errors";
import { Method } from "./method";
import { UriRepr, UriScheme, parseUri } from "./uri";
import { ViaRepr, decodeVia } from "./headers/via";
import { NameAddrRepr, NameAddrKind, decodeNameAddr } from "./headers/nameaddr";
import {
  CSeqRepr, decodeCSeq, decodeDeltaSeconds, decodeMaxForwards, decodeOptionTag, isCallId,
} from "./headers/scalar";
import { eqBytes } from "./scan";

/** The decoded facts of the current message. One instance per view, allocated at start-up. */
export class Decoded {
  /** Request-URI (requests only). */
  readonly ruri: UriRepr = new UriRepr();
  /** Top Via. */
  readonly via: ViaRepr = new ViaRepr();
  readonly from: NameAddrRepr = new NameAddrRepr();
  readonly to: NameAddrRepr = new NameAddrRepr();
  readonly cseq: CSeqRepr = new CSeqRepr();
  callId: usize = 0;
  callIdLen: u32 = 0;
  /** Max-Forwards, -1 when absent (RFC 2543 requests have none, RFC 4475 inv2543). */
  maxForwards: i32 = -1;
  /** Expires header, -1 when absent. */
  expires: i64 = -1;
}

// Scratch records for the values that are checked but not kept: decoded and read in the same step,
// here and by the proxy (proxy/send.ts, proxy/request.ts), which use them the same way.
export const viaScratch = new ViaRepr();
export const naScratch = new NameAddrRepr();

/** Validate a message the view parsed without error; fills `d`. Returns WireError.None or an error. */
export function validateMessage(v: MessageView, d: Decoded): WireError {
  const req = v.isRequest;
  // Via, From, To, Call-ID, CSeq: the ids 1 to 5 (hdr.ts numbers are stable)
  for (let h = Hdr.Via; h <= Hdr.CSeq; h++) {
    if (v.first(h) < 0) return req ? WireError.MissingHeader : WireError.ResponseHeaders;
  }
  if (req) {
    const u = v.base + <usize>v.uriOff;
    if (!parseUri(u, u + <usize>v.uriLen, d.ruri)) return WireError.RequestUri;
    const s = d.ruri.scheme;
    if (s != UriScheme.Sip && s != UriScheme.Sips && s != UriScheme.Tel) return WireError.UriScheme;
    if (d.ruri.headersLen != 0) return WireError.RequestUriHeaders;
  }
  d.maxForwards = -1;
  d.expires = -1;
  const register = req && v.method == Method.REGISTER;
  const topVia = v.first(Hdr.Via);
  for (let i = 0; i < v.count; i++) {
    const p = v.valPtr(i);
    const end = p + <usize>v.valLen(i);
    switch (v.hdr(i)) {
      case Hdr.Via: {
        if (i == topVia) {
          if (!decodeVia(p, end, d.via)) return WireError.Via;
        } else if (!req && !decodeVia(p, end, viaScratch)) {
          return WireError.Via;
        }
        break;
      }
      case Hdr.From: {
        if (!decodeNameAddr(p, end, d.from, NameAddrKind.FromTo)) return WireError.From;
        break;
      }
      case Hdr.To: {
        if (!decodeNameAddr(p, end, d.to, NameAddrKind.FromTo)) return WireError.To;
        break;
      }
      case Hdr.CallId: {
        if (!isCallId(p, end)) return WireError.CallId;
        d.callId = p;
        d.callIdLen = v.valLen(i);
        break;
      }
      case Hdr.CSeq: {
        if (!decodeCSeq(p, end, d.cseq)) return WireError.CSeq;
        break;
      }
      case Hdr.MaxForwards: {
        const mf = decodeMaxForwards(p, end);
        if (mf < 0) return WireError.MaxForwards;
        d.maxForwards = mf;
        break;
      }
      case Hdr.Contact: {
        if (!register) break;
        if (!decodeNameAddr(p, end, naScratch, NameAddrKind.Contact)) return WireError.Contact;
        // "*" stands alone (RFC 3261 §10.2.2): never one of several Contact values.
        if (naScratch.star && v.countOf(Hdr.Contact) != 1) return WireError.Contact;
        break;
      }
      case Hdr.Route:
      case Hdr.Path: {
        if (v.hdr(i) == Hdr.Route ? !req : !register) break;
        if (!decodeNameAddr(p, end, naScratch, NameAddrKind.Route)) return WireError.Route;
        break;
      }
      case Hdr.Expires: {
        const e = decodeDeltaSeconds(p, end);
        if (e < 0) return WireError.Expires;
        d.expires = e;
        break;
      }
      case Hdr.MinExpires: {
        if (register && decodeDeltaSeconds(p, end) < 0) return WireError.Expires;
        break;
      }
      case Hdr.Supported: // fall through to the option-tag check for REGISTER only
        if (!register) break;
      case Hdr.Require:
      case Hdr.ProxyRequire: {
        if (!req) break;
        // An empty header ("Supported:") is legal; an empty element of a list (",,") is not.
        if (v.valLen(i) == 0 && isWholeLine(v, i)) break;
        if (!decodeOptionTag(p, end)) return WireError.OptionTags;
        break;
      }
    }
  }
  if (req) {
    // CSeq method must be the Request-Line method (RFC 3261 §8.1.1.5; RFC 4475 mismatch01/02).
    const c = d.cseq;
    if (!eqBytes(v.base, v.methodLen, c.method, c.methodLen)) {
      return v.method == Method.Unknown ? WireError.CSeqMethodMismatchUnknown : WireError.CSeqMethodMismatch;
    }
  }
  return WireError.None;
}

/** Entry i is the only value of its line. */
function isWholeLine(v: MessageView, i: i32): bool {
  const f = v.flags(i);
  return (f & EntryFlag.FIRST) != 0 && (f & EntryFlag.LAST) != 0;
}
