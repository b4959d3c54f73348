// Admission (RFC 3261 §16.3 done, before any routing or state): what a request may do, decided from
// where it comes from, where it goes and what it proves. In order, each step may end the request:
//   1. access lists (policy/acl): a denied source gets 403, or nothing when configured to drop
//      (scanners); a trusted source skips flood protection and authentication, and may relay
//   2. flood protection (policy/pike): a source over its rate is blocked for a while (503 or drop);
//      allow-listed and trusted sources are never counted (Kamailio pike's top complaint: blocked
//      carriers and PBXs)
//   3. method policy, Request-URI deny list, body policy: 403 / 405 / 413 / 415, audited
//   4. who may go where (never relay for strangers), after §16.4 route pre-processing (proxy/req.ts):
//      - in-dialog (To tag): routed when a popped Route of ours carries this dialog's MAC
//        (proxy/rrmac.ts), or the Request-URI is a live topology-hiding token, or it is a BYE of a
//        dialog we saw answered; otherwise a local user (From one of our domains) must authenticate
//        (407) and anyone else gets 404 — a forged To tag and a Route naming us prove nothing;
//      - out of dialog, for one of our domains with no further hop ("local": the registrar's
//        bindings): REGISTER is challenged with 401; a request claiming to come from one of our
//        domains is challenged with 407; a request from elsewhere may reach our registered users
//        (an incoming call) and nothing else;
//      - out of dialog, anywhere else (another domain, a Route or a flow to elsewhere, tel:, a port
//        of ours that is not ours): only for an authenticated local user (407 when the From is ours)
//        or a trusted source, else 403 (relaying denied). Without users configured nobody
//        authenticates, so only trusted sources relay (Kamailio's default without WITH_AUTH).
//   Digest (auth/): challenged algorithms per config key 22; a user may only register its own AOR
//   (403); failures are counted per source and feed (2).
// ACK and CANCEL are never challenged (§22.1): a CANCEL must match a server transaction and come from
// its source address; a 2xx ACK is routed only with the same proofs as any in-dialog request.
// Decisions are the policy layer's; the actions (responses, drops, events) are here.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { Hdr } from "../wire/hdr";
import { Method } from "../wire/method";
import { Writer } from "../wire/writer";
import { eqBytes } from "../wire/scan";
import { Peer } from "../net/peer";
import { EventKind, eventBegin, eventText, eventTextT } from "../events";
import {
  AclList, AclVerdict, aclVerdict, aclMatch, aclCount, PikeVerdict, pikeCheck, pikeFail,
  isMethodBlocked, isDenied, BodyVerdict, bodyVerdict, bodyMatchedPattern,
} from "../policy/index";
import { pikeUntil } from "../policy/pike";
import { AuthVerdict, authCheck, authResult, authUserCount, writeChallenge } from "../auth/index";
import { EXTRA_BUF, EXTRA_CAP } from "./buffers";
import { answer, reply } from "./send";
import { isLocalDomain } from "./config";
import { isOurAddress } from "./route";
import { Req } from "./req";
import { T_RETRY_AFTER, T_R_ACL, T_R_METHOD, T_R_REQUEST_URI, T_R_BODY_PATTERN, T_R_BODY, T_R_IN_DIALOG, T_R_RELAY, T_R_FOREIGN_AOR, T_R_STRANGER } from "../wire/tables";

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

/** Refuse request v (event, then the status unless dropped or an ACK); returns Admit.Done. */
export function refuse(q: Req, status: u32, rule: u32, drop: bool): Admit {
  const v = q.v;
  const d = q.d;
  eventBegin(EventKind.PolicyRefusal, drop ? 0 : <i32>status, q.now, 0, q.src);
  eventText(0, v.valPtr(v.first(Hdr.From)), v.valLen(v.first(Hdr.From)));
  eventText(1, v.base + <usize>v.uriOff, v.uriLen);
  eventText(2, d.callId, d.callIdLen);
  eventTextT(3, rule); // the rule's name
  if (!drop && v.method != Method.ACK) reply(q, status);
  return Admit.Done;
}

/** Steps 1–2, for every request (ACK and CANCEL included); sets q.trusted. */
export function admitSource(q: Req): Admit {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const acl = aclVerdict(src);
  q.trusted = acl == AclVerdict.Trusted;
  if (acl == AclVerdict.Deny) return refuse(q, 403, T_R_ACL, securityConfig.dropDenied);
  const allowListed = aclCount(AclList.Allow) > 0 && aclMatch(AclList.Allow, src);
  const p = pikeCheck(src, now, q.trusted || allowListed);
  if (p != PikeVerdict.Pass) {
    if (p == PikeVerdict.NewlyBlocked) {
      eventBegin(EventKind.FloodBlocked, securityConfig.dropFlood ? 0 : 503, now, 0, src);
    }
    if (!securityConfig.dropFlood && v.method != Method.ACK) {
      // Retry-After: what is left of the block, in whole seconds
      w.begin(EXTRA_BUF, EXTRA_CAP);
      w.text(T_RETRY_AFTER);
      w.u32(<u32>((pikeUntil - now + 999) / 1000));
      w.crlf();
      answer(q, 503, EXTRA_BUF, w.finish());
    }
    return Admit.Done;
  }
  return Admit.Go;
}

/** Does the From of v claim one of our domains (or one of our addresses)? */
export function fromLocal(d: Decoded): bool {
  const f = d.from.uri;
  return isLocalDomain(f.host, f.hostLen) || isOurAddress(f);
}

/**
 * Steps 3 and 4 for requests other than ACK and CANCEL, after route pre-processing. `local`: for one
 * of our domains with no further hop (the registrar's bindings answer it). `known`: an in-dialog
 * request already proven ours (a Route with this dialog's MAC, a live token, a BYE of a dialog we
 * know). Sets q.creds when our credentials authenticated it.
 */
export function admitRequest(q: Req, local: bool, known: bool): Admit {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const drop = securityConfig.dropDenied;
  if (isMethodBlocked(v)) return refuse(q, 405, T_R_METHOD, drop);
  if (isDenied(d.ruri)) return refuse(q, 403, T_R_REQUEST_URI, drop);
  const b = bodyVerdict(v);
  if (b != BodyVerdict.Ok) {
    const status: u32 = b == BodyVerdict.TooLarge ? 413 : b == BodyVerdict.TypeNotAllowed ? 415 : 403;
    return refuse(q, status, b == BodyVerdict.PatternMatched ? T_R_BODY_PATTERN : T_R_BODY, drop);
  }
  if (q.trusted || known) return Admit.Go;
  const inDialog = d.to.hasTag;
  const mine = fromLocal(d);
  const register = v.method == Method.REGISTER && local && !inDialog;
  if (authUserCount() == 0) {
    // nobody can authenticate: our domains only, and in-dialog requests only with proof
    if (inDialog) return refuse(q, 404, T_R_IN_DIALOG, drop);
    if (!local) return refuse(q, 403, T_R_RELAY, drop);
    return Admit.Go;
  }
  // an incoming call from another domain may reach our registered users; nothing else of a
  // stranger's does, whoever it names (an OPTIONS or MESSAGE to a user would tell a scanner whether
  // the user is registered, and which phone answers)
  if (local && !inDialog && !mine && !register && v.method == Method.INVITE) return Admit.Go;
  let verdict = authCheck(v, !register, now);
  // a right answer whose nonce count did not increase: for a REGISTER, the registrar decides
  // (handleRegister serves it only if it changes nothing: a retransmission after our 200 was lost)
  if (verdict == AuthVerdict.Replay && register) {
    q.replayed = true;
    verdict = AuthVerdict.Ok;
  }
  if (verdict == AuthVerdict.Ok) {
    if (!register) q.creds = authResult.entry;
    if (register) {
      // a user may only register contacts for its own AOR (the To user)
      const to = d.to.uri;
      if (!eqBytes(authResult.user, authResult.userLen, to.user, to.userLen)) {
        return refuse(q, 403, T_R_FOREIGN_AOR, false);
      }
    }
    return Admit.Go;
  }
  return authFailed(q, verdict, register, local);
}

/**
 * Credentials that failed (`verdict`, not Ok): an auth-fail event and a flood-protection count, then
 * a stranger's request is refused and one of ours challenged (401 for a REGISTER, 407 otherwise).
 */
export function authFailed(q: Req, verdict: AuthVerdict, register: bool, local: bool): Admit {
  const v = q.v;
  const d = q.d;
  const src = q.src;
  const now = q.now;
  const drop = securityConfig.dropDenied;
  const inDialog = d.to.hasTag;
  const mine = fromLocal(d);
  if (verdict != AuthVerdict.NoCredentials && verdict != AuthVerdict.Stale) {
    eventBegin(EventKind.AuthFail, <i32>verdict, now, 0, src);
    if (authResult.userLen != 0) eventText(0, authResult.user, authResult.userLen);
    eventText(1, v.base + <usize>v.uriOff, v.uriLen);
    eventText(2, d.callId, d.callIdLen);
    const p = pikeFail(src, now);
    if (p == PikeVerdict.NewlyBlocked) eventBegin(EventKind.FloodBlocked, 0, now, 0, src);
  }
  if (!register && !mine) {
    // a stranger: no challenge (there is nothing to prove to us), just no; the same answer for every
    // user of ours, registered or not
    if (inDialog) return refuse(q, 404, T_R_IN_DIALOG, drop);
    return refuse(q, 403, local ? T_R_STRANGER : T_R_RELAY, drop);
  }
  if (verdict == AuthVerdict.Malformed) {
    reply(q, 400);
    return Admit.Done;
  }
  w.begin(EXTRA_BUF, EXTRA_CAP);
  writeChallenge(w, !register, verdict == AuthVerdict.Stale, now);
  answer(q, register ? 401 : 407, EXTRA_BUF, w.finish());
  return Admit.Done;
}
