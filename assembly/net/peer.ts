// A transport-level address: which of our transports, which connection (stream transports), and the
// remote IP address and port. The same 32-byte layout is the ABI's peer record (docs/ABI.md), so the
// host writes it and the core reads it in place.
//
//   +0  u32 conn   +4 u8 transport  +5 u8 family (4, 6; 0 = name)  +6 u16 port
//   +8  u8[16] addr (IPv4: first 4 bytes)   +24 u32 flags   +28 u32 reserved (on output to a name
//   without a port: the SRV target selector, docs/ABI.md)

import { eqBytes } from "../wire/scan";

export const PEER_SIZE: u32 = 32;

export const enum Family { Name = 0, V4 = 4, V6 = 6 }

@unmanaged export class Peer {
  conn: u32 = 0;
  transport: u8 = 0;
  family: u8 = 0;
  port: u16 = 0;
  a0: u64 = 0;
  a1: u64 = 0;
  flags: u32 = 0;
  reserved: u32 = 0;

  /** Copy every field from another record. */
  copyFrom(o: Peer): void {
    memory.copy(changetype<usize>(this), changetype<usize>(o), PEER_SIZE);
  }

  clear(): void {
    memory.fill(changetype<usize>(this), 0, PEER_SIZE);
  }

  /** Same address, port, transport and connection. */
  same(o: Peer): bool {
    return eqBytes(changetype<usize>(this), 24, changetype<usize>(o), 24);
  }

  /** Same IP address (family and bytes); ports, transports and connections may differ. */
  sameAddress(o: Peer): bool {
    return this.family == o.family && this.a0 == o.a0 && this.a1 == o.a1;
  }

  /** Address of the 16 address bytes. */
  get addr(): usize {
    return changetype<usize>(this) + 8;
  }
}
