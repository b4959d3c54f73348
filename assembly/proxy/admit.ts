// Admission (issue: security and policy): what happens to a request before any routing or state.
// In order, each step may end the request:
//   1. access lists (policy/acl): a denied source gets 403, or nothing when configured to drop
//      (scanners); a trusted source skips flood protection and authentication
//   2. flood protection (policy/pike): a source over its rate is blocked for a while (503 or drop);
//      allow-listed and trusted sources are never counted (Kamailio pike's top complaint: blocked
//      carriers and PBXs)
//   3. method policy, Request-URI deny list, body policy: 403 / 405 / 413 / 415, audited
//   4. digest authentication (auth/, RFC 3261 §22): REGISTER for our domains is challenged with 401,
//      other out-of-dialog requests from our domains with 407; SHA-256 offered first, then MD5; a
//      user may only register its own AOR (403); failures are counted per source and feed (2)
// ACK and CANCEL are never challenged (they cannot be: §22.1). Decisions are the policy layer's;
// the actions (responses, drops, events) are here.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { Writer } from "../wire/writer";
import { eqBytes } from "../wire/scan";
import { Peer } from "../net/peer";
import { EventKind, eventBegin, eventText } from "../events";
import {
  AclList, AclVerdict, aclVerdict, aclMatch, aclCount, PikeVerdict, pikeCheck, pikeFail,
  isMethodBlocked, isDenied, BodyVerdict, bodyVerdict, bodyMatchedPattern,
} from "../policy/index";
import { AuthVerdict, authCheck, authResult, authUserCount, writeChallenge } from "../auth/index";
import { EXTRA_BUF, EXTRA_CAP } from "./buffers";
import { respondStateless } from "./send";
import { isLocalDomain } from "./config";
import { isOurAddress } from "./route";
import { T_RETRY_AFTER_60 } from "../wire/tables";

export class SecurityConfig {
  /** Deny-listed sources and refused requests: 0 = answer 403 (or the policy's status), 1 = drop. */
  dropDenied: bool = false;
  /** Flood-blocked sources: 0 = answer 503 with Retry-After, 1 = drop. */
  dropFlood: bool = false;
}
export const securityConfig = new SecurityConfig();

const w = new Writer();

/** Result of admission for one request. */
export const enum Admit { Go = 0, Done = 1 }

/** Whether the source of the current request is trusted (set by admit). */
export let trustedSource = false;

/** The Proxy-Authorization entry carrying credentials for our realm that authenticated the current
 * request, or -1: it is removed from what is forwarded (they were for us, RFC 3261 §22.3), so a
 * caller's digest never reaches the callee. Entry indices are the same in the stored copy. */
export let consumedCredentials: i32 = -1;

function refuse(v: MessageView, d: Decoded, src: Peer, now: i64, status: u32, rule: string, drop: bool): Admit {
  eventBegin(EventKind.PolicyRefusal, drop ? 0 : <i32>status, now, 0, src);
  eventText(0, v.valPtr(v.first(Hdr.From)), v.valLen(v.first(Hdr.From)));
  eventText(1, v.base + <usize>v.uriOff, v.uriLen);
  eventText(2, d.callId, d.callIdLen);
  eventText(3, changetype<usize>(rule), 0); // filled below: ASCII of the rule name
  ruleText(rule);
  if (!drop && v.method != Method.ACK) respondStateless(v, d, true, status, 0, 0, src);
  return Admit.Done;
}

// Event text 3 is the rule's name (ASCII string literal copied byte by byte).
const RULE: usize = memory.data(32);
function ruleText(rule: string): void {
  const n = rule.length < 32 ? rule.length : 32;
  const s = changetype<usize>(rule);
  for (let i = 0; i < n; i++) store<u8>(RULE + <usize>i, <u8>load<u16>(s + (<usize>i << 1)));
  eventText(3, RULE, <u32>n);
}

/** Steps 1–2, for every request (ACK and CANCEL included). */
export function admitSource(v: MessageView, d: Decoded, src: Peer, now: i64): Admit {
  const acl = aclVerdict(src);
  trustedSource = acl == AclVerdict.Trusted;
  consumedCredentials = -1;
  if (acl == AclVerdict.Deny) return refuse(v, d, src, now, 403, "acl", securityConfig.dropDenied);
  const allowListed = aclCount(AclList.Allow) > 0 && aclMatch(AclList.Allow, src);
  const p = pikeCheck(src, now, trustedSource || allowListed);
  if (p != PikeVerdict.Pass) {
    if (p == PikeVerdict.NewlyBlocked) {
      eventBegin(EventKind.FloodBlocked, securityConfig.dropFlood ? 0 : 503, now, 0, src);
    }
    if (!securityConfig.dropFlood && v.method != Method.ACK) {
      w.begin(EXTRA_BUF, EXTRA_CAP);
      w.text(T_RETRY_AFTER_60);
      respondStateless(v, d, true, 503, EXTRA_BUF, w.finish(), src);
    }
    return Admit.Done;
  }
  return Admit.Go;
}

/** Step 3 and 4, for new out-of-transaction requests other than ACK and CANCEL. */
export function admitRequest(v: MessageView, d: Decoded, src: Peer, now: i64, forUs: bool): Admit {
  const drop = securityConfig.dropDenied;
  if (isMethodBlocked(v)) return refuse(v, d, src, now, 405, "method", drop);
  if (isDenied(d.ruri)) return refuse(v, d, src, now, 403, "request-uri", drop);
  const b = bodyVerdict(v);
  if (b != BodyVerdict.Ok) {
    const status: u32 = b == BodyVerdict.TooLarge ? 413 : b == BodyVerdict.TypeNotAllowed ? 415 : 403;
    return refuse(v, d, src, now, status, b == BodyVerdict.PatternMatched ? "body-pattern" : "body", drop);
  }
  if (trustedSource || authUserCount() == 0) return Admit.Go;
  const register = v.method == Method.REGISTER && forUs;
  if (!register) {
    // out-of-dialog requests claiming to come from one of our domains must prove it
    if (d.to.hasTag) return Admit.Go;
    const f = d.from.uri;
    if (!isLocalDomain(f.host, f.hostLen) && !isOurAddress(f)) return Admit.Go;
  }
  const verdict = authCheck(v, !register, now);
  if (verdict == AuthVerdict.Ok) {
    if (!register) consumedCredentials = authResult.entry;
    if (register) {
      // a user may only register contacts for its own AOR (the To user)
      const to = d.to.uri;
      if (!eqBytes(authResult.user, authResult.userLen, to.user, to.userLen)) {
        return refuse(v, d, src, now, 403, "foreign-aor", false);
      }
    }
    return Admit.Go;
  }
  if (verdict != AuthVerdict.NoCredentials && verdict != AuthVerdict.Stale) {
    eventBegin(EventKind.AuthFail, <i32>verdict, now, 0, src);
    if (authResult.userLen != 0) eventText(0, authResult.user, authResult.userLen);
    eventText(1, v.base + <usize>v.uriOff, v.uriLen);
    eventText(2, d.callId, d.callIdLen);
    const p = pikeFail(src, now);
    if (p == PikeVerdict.NewlyBlocked) eventBegin(EventKind.FloodBlocked, 0, now, 0, src);
  }
  if (verdict == AuthVerdict.Malformed) {
    respondStateless(v, d, true, 400, 0, 0, src);
    return Admit.Done;
  }
  w.begin(EXTRA_BUF, EXTRA_CAP);
  writeChallenge(w, !register, verdict == AuthVerdict.Stale, now);
  respondStateless(v, d, true, register ? 401 : 407, EXTRA_BUF, w.finish(), src);
  return Admit.Done;
}
