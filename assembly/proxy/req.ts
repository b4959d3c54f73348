// The request being processed: an explicit context record handed down from admission to forwarding,
// instead of per-request module state. Everything a later step needs to know about what an earlier
// step decided lives here: whether the source is trusted, which credentials were ours (removed from
// every branch), what §16.4 route pre-processing found (our Route values popped, a flow named by a
// proven Route, the next hop, the strict-route fix-up), a dialog to close once routed, and the
// topology-hiding record of an in-dialog request. Two instances exist: the request just received,
// and the stored request a later q-value group is forwarded from (proxy/response.ts), rebuilt from
// its response context (proxy/context.ts keeps pops, strict and credentials per server transaction).
// Each carries its own edits (how it is copied onward), so building one never disturbs the other.

import { MessageView } from "../wire/view";
import { Decoded } from "../wire/validate";
import { ForwardEdits } from "../wire/emit";
import { Peer } from "../net/peer";

export class Req {
  v: MessageView;
  d: Decoded;
  src: Peer;
  now: i64 = 0;
  /** Source in the trusted access list: no authentication, no flood check, may relay. */
  trusted: bool = false;
  /** The Proxy-Authorization entry that authenticated the request for our realm, or -1: removed
   * from what is forwarded (RFC 3261 §22.3: credentials for us go no further). */
  creds: i32 = -1;
  /** A REGISTER whose digest answer was right but whose nonce count did not increase: served only if
   * it changes nothing (a retransmission after our lost 200), else challenged as a replay. */
  replayed: bool = false;
  /** Route values of ours popped from the top (§16.4). */
  pops: i32 = 0;
  /** One of the popped Route values carries a valid dialog MAC (proxy/rrmac.ts): the request
   * follows a route set we recorded for this dialog. */
  proven: bool = false;
  /** A connection named by the flow token of a proven Route (not the one the request came on), or 0. */
  flow: u32 = 0;
  /** Transport of the Route that carried the flow token. */
  flowTransport: u32 = 0;
  /** Index of the first Route value not ours (the next hop), or -1. */
  next: i32 = -1;
  /** A binding named by the route token of a popped Route of ours (registrar/location.ts), or -1. */
  bind: i32 = -1;
  /** Strict-route fix-up: the Route entry that becomes the Request-URI, or -1. */
  strict: i32 = -1;
  /** A dialog a BYE ended: closed once the BYE has been routed (its token may still be needed). */
  closeAfter: i32 = -1;
  /** Topology hiding: the dialog record and the side sending this in-dialog request, or -1. */
  hidRecord: i32 = -1;
  hidSender: u32 = 0;
  /** How this request is copied onward: prepareEdits(q) fills the part common to every branch,
   * forwardBranch the rest (wire/emit.ts). */
  readonly edits: ForwardEdits = new ForwardEdits();

  constructor(v: MessageView, d: Decoded, src: Peer) {
    this.v = v;
    this.d = d;
    this.src = src;
  }

  /** Start a new request: nothing decided yet. */
  begin(now: i64): void {
    this.now = now;
    this.trusted = false;
    this.creds = -1;
    this.replayed = false;
    this.pops = 0;
    this.proven = false;
    this.flow = 0;
    this.flowTransport = 0;
    this.next = -1;
    this.bind = -1;
    this.strict = -1;
    this.closeAfter = -1;
    this.hidRecord = -1;
    this.hidSender = 0;
  }
}
