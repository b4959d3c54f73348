// policy/: admission decisions for requests, taken before the proxy spends any state on them.
//
// Layer contract. This layer DECIDES; it never acts. Each function reads a source address (Peer),
// a parsed MessageView or a decoded UriRepr and returns a small verdict enum; it sends nothing, builds
// no response, touches no transaction and emits no event. The proxy (proxy/) owns the actions: a
// silent drop or 403 for AclVerdict.Deny, dropping (or 503) for PikeVerdict.Blocked and an event for
// NewlyBlocked, 405 for a blocked method, 403 for a denied Request-URI, and 413 / 415 / 403 for the
// body verdicts. Depends only on net/, wire/ and util/ (never on txn/ or proxy/).
//
// Every table is fixed and static (memory.data, or one heap.alloc at start-up for pike's board-sized
// table): nothing is allocated per request, nothing grows, and no input from the network can trap.
// Configuration (aclAdd, pikeSetLimit, methodBlock, denyAdd, bodyAllowType, ...) is set by the host
// at start-up and may be replaced at run time after policyReset().
//
// Suggested order per request: aclVerdict → pikeCheck(exempt = verdict == Trusted) →
// isMethodBlocked → isDenied(Request-URI) → bodyVerdict; pikeFail on each failed authentication.

export * from "./acl";
export * from "./pike";
export * from "./methods";
export * from "./denylist";
export * from "./body";

import { aclReset } from "./acl";
import { pikeResetAll } from "./pike";
import { methodReset } from "./methods";
import { denyReset } from "./denylist";
import { bodyReset } from "./body";

/** Clear every list, table and setting of the policy layer (everything allowed, pike off). */
export function policyReset(): void {
  aclReset();
  pikeResetAll();
  methodReset();
  denyReset();
  bodyReset();
}
