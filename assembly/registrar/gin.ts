// The provider's side of RFC 6140 (registration for multiple phone numbers; SIPconnect registration
// mode): an enterprise's account registers once, with a Contact that is a template (no user part, the
// `bnc` parameter), for a block of numbers provisioned here (cfg kind GinBlock: "USER PATTERN", the
// account's AOR user part and its block, util/numblock.ts). A request to one of our domains whose
// Request-URI user part is a number of a block, and which no AOR of its own answers, goes to the
// account's current template contacts with the number as the user part and `bnc` removed:
// sip:127.0.0.4:5060;bnc for +15550001 is sip:+15550001@127.0.0.4:5060. register.ts accepts the
// REGISTER (Require: gin supported). Fixed table of GIN_BLOCKS blocks; the first that matches wins.

import { UriRepr, UriScheme } from "../wire/uri";
import { KEY } from "./table";
import { TargetSet, lookupKey } from "./lookup";
import { BLOCK_CAP, blockValid, blockMatch, telNumber, numberAt, numberLen } from "../util/numblock";
import { GIN_PROVIDER } from "../config";
import { tableAlloc } from "../util/alloc";

// No table where the provider side is left out (config.ts GIN_PROVIDER: cfg kind GinBlock is NotInBuild there).
export const GIN_BLOCKS: i32 = GIN_PROVIDER ? 8 : 0;
const USER_CAP: u32 = 32;
// record: +0 u8 account length (0 free), +1 u8 pattern length, +2 account (USER_CAP), then the pattern
const REC: usize = 2 + <usize>USER_CAP + <usize>BLOCK_CAP;
const recs: usize = GIN_PROVIDER ? tableAlloc(<usize>GIN_BLOCKS * REC) : 0;
if (GIN_PROVIDER) memory.fill(recs, 0, <usize>GIN_BLOCKS * REC);

function at(k: i32): usize { return recs + <usize>k * REC; }

/** Forget every block. */
export function ginReset(): void { if (GIN_PROVIDER) memory.fill(recs, 0, <usize>GIN_BLOCKS * REC); }

/** Blocks configured. */
export function ginBlocks(): i32 {
  let n = 0;
  for (let k = 0; k < GIN_BLOCKS; k++) if (load<u8>(at(k)) != 0) n++;
  return n;
}

/** A block from "USER PATTERN" (one space); false: it does not parse, or the table is full. */
export function ginBlockAdd(p: usize, len: u32): bool {
  let sp: u32 = 0;
  while (sp < len && load<u8>(p + <usize>sp) != 0x20) sp++;
  if (sp == 0 || sp > USER_CAP || sp >= len) return false;
  for (let c: u32 = 0; c < sp; c++) {
    const b = <u32>load<u8>(p + <usize>c);
    if (b <= 0x20 || b >= 0x7f || b == 0x40 || b == 0x25 || b == 0x3b || b == 0x3c || b == 0x3e) return false;
  }
  const bp = p + <usize>sp + 1;
  const bl = len - sp - 1;
  if (!blockValid(bp, bl)) return false;
  for (let k = 0; k < GIN_BLOCKS; k++) {
    const r = at(k);
    if (load<u8>(r) != 0) continue;
    memory.copy(r + 2, p, sp);
    memory.copy(r + 2 + <usize>USER_CAP, bp, bl);
    store<u8>(r, <u8>sp);
    store<u8>(r, <u8>bl, 1);
    return true;
  }
  return false;
}

/**
 * The targets of a number of a block: the current template contacts of the block's account, best first,
 * into `out` (filled with the number by out.uri). Returns the count; 0 when the Request-URI `uri` is
 * not sip/sips, its user part is in no block, or the account has no template registered.
 */
export function ginLookup(uri: UriRepr, now: i64, out: TargetSet): i32 {
  out.reset();
  if ((uri.scheme != UriScheme.Sip && uri.scheme != UriScheme.Sips) || !uri.hasUser) return 0;
  for (let k = 0; k < GIN_BLOCKS; k++) {
    const r = at(k);
    const al = <u32>load<u8>(r);
    // (a user=phone number without its visual separators: RFC 3966)
    telNumber(uri.user, uri.userLen, uri.userParam, uri.userParamLen);
    if (al == 0 || !blockMatch(r + 2 + <usize>USER_CAP, <u32>load<u8>(r, 1), numberAt, numberLen)) continue;
    memory.copy(KEY, r + 2, al); // the account's AOR key (its user part has no escapes: ginBlockAdd)
    out.setNumber(numberAt, numberLen);
    return lookupKey(<i32>al, now, out, true);
  }
  return 0;
}
