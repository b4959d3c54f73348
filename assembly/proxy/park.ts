// Requests held for their transport (RFC 3263 §4.1). A request the proxy sends to a name whose URI names
// neither a port nor a transport goes over the transport the name's NAPTR records prefer among those we
// listen on: the host knows them, the core does not (no DNS code here). So the request's context is
// opened (its server transaction, INVITE's 100 Trying, the stored request kept whole: CtxFlag.Failover)
// and its branch waits in a slot here: the host takes the name with sip_poll_resolve, resolves it
// asynchronously and gives the protocol back with sip_resolved; the branch then goes out from the
// stored request (proxy/response.ts proxyResolved), as an RFC 3263 §4.3 failover branch does.
//
// While a request waits it counts as one pending branch (Ctx.active), so nothing answers it early; a
// CANCEL or the transaction's end frees its slot (parkDrop) and a late answer finds no slot and is
// ignored. With every slot taken the request goes over UDP at once, as before this table existed.
//
//   slot: +0 u32 server handle (0 = free)   +4 u32 asked (the host has the name)   +8 Peer (32 bytes)

import { PARK_CAP } from "../config";
import { Peer, PEER_SIZE } from "../net/peer";
import { ctx, CtxFlag } from "./context";
import { handleOf, idxOf } from "../txn/table";

const SLOT: u32 = 8 + PEER_SIZE;
const slots: usize = PARK_CAP > 0 ? memory.data(PARK_CAP * <i32>SLOT) : 0;

export function parkReset(): void {
  if (PARK_CAP > 0) memory.fill(slots, 0, <usize>PARK_CAP * SLOT);
}

function slotAt(i: u32): usize {
  return slots + <usize>(i * SLOT);
}

/** Hold the branch of server idx toward `to` (a name, port 0) for its transport; false when every
 * slot is taken (the caller sends it at once). */
export function park(idx: u32, to: Peer): bool {
  for (let i: u32 = 0; i < <u32>PARK_CAP; i++) {
    const s = slotAt(i);
    if (load<u32>(s) != 0) continue;
    store<u32>(s, handleOf(idx));
    store<u32>(s, 0, 4);
    memory.copy(s + 8, changetype<usize>(to), PEER_SIZE);
    const c = ctx(idx);
    c.cursor = i + 1; // a parked context has no later targets (forwardOne), so its cursor is free
    c.flags |= CtxFlag.Parked;
    c.active++;
    return true;
  }
  return false;
}

/** The next slot whose name the host has not been given, marked given: its server handle (0 = none)
 * and its peer copied to `out`. */
export function parkNext(out: Peer): u32 {
  for (let i: u32 = 0; i < <u32>PARK_CAP; i++) {
    const s = slotAt(i);
    if (load<u32>(s) == 0 || load<u32>(s, 4) != 0) continue;
    store<u32>(s, 1, 4);
    memory.copy(changetype<usize>(out), s + 8, PEER_SIZE);
    return load<u32>(s);
  }
  return 0;
}

/** Server handle h's waiting branch taken out of its slot, its peer copied to `out`: the index of the
 * server record, or -1 when h waits for nothing (cancelled, ended, or a stale handle). */
export function parkTake(h: u32, out: Peer): i32 {
  const idx = idxOf(h);
  if (idx < 0) return -1;
  const c = ctx(<u32>idx);
  if ((c.flags & CtxFlag.Parked) == 0) return -1;
  const s = slotAt(c.cursor - 1);
  if (load<u32>(s) != h) return -1;
  memory.copy(changetype<usize>(out), s + 8, PEER_SIZE);
  parkDrop(<u32>idx);
  return idx;
}

/** The waiting branch of server idx, if any, forgotten (its slot freed, no longer pending). */
export function parkDrop(idx: u32): void {
  if (PARK_CAP == 0) return;
  const c = ctx(idx);
  if ((c.flags & CtxFlag.Parked) == 0) return;
  store<u64>(slotAt(c.cursor - 1), 0);
  c.flags &= ~CtxFlag.Parked;
  c.cursor = 0;
  if (c.active > 0) c.active--;
}
