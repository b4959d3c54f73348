// The two digest algorithms behind one switch (RFC 8760 §2: "MD5" and "SHA-256"; the "-sess"
// variants are not offered). One context of each (crypto/md.ts), allocated once: 96 + 160 bytes of
// buffer. Used by the credential table (HA1 at add time), by the response check, and (the SHA-256 one)
// by the nonce MAC (auth/nonce.ts) and the Record-Route MAC (proxy/rrmac.ts); never by two callers at
// once (every caller runs init .. final without calling out).

import { MdHash, Md5, MD5_LEN, Sha256, SHA256_LEN, hexEncode } from "../crypto";

/** Digest algorithm ids (stable numbers: probes and events key on them). */
export const enum Alg { None = 0, MD5 = 1, SHA256 = 2 }

const md = new Md5();
/** The SHA-256 context (shared: see above). */
export const sh = new Sha256();
/** One byte of hash input (":" and the like): 1 byte. */
const ONE: usize = memory.data(1);
/** Raw digest before hex encoding: 32 bytes. */
const RAW: usize = memory.data(32);

/** Raw digest length of `alg`, bytes. */
export function rawLen(alg: Alg): u32 {
  return alg == Alg.SHA256 ? SHA256_LEN : MD5_LEN;
}

/** Hex digest length of `alg`, bytes. */
export function hexLen(alg: Alg): u32 {
  return rawLen(alg) << 1;
}

/** The context of `alg`. */
function ctx(alg: Alg): MdHash {
  return alg == Alg.SHA256 ? changetype<MdHash>(sh) : changetype<MdHash>(md);
}

export function hInit(alg: Alg): void {
  ctx(alg).init();
}

export function hUpdate(alg: Alg, p: usize, len: u32): void {
  ctx(alg).update(p, len);
}

export function hByte(alg: Alg, c: u32): void {
  store<u8>(ONE, <u8>c);
  hUpdate(alg, ONE, 1);
}

/**
 * Hash the content of a quoted-string [p, p+len) (quotes already stripped) as its unquoted value:
 * each quoted-pair "\" c contributes c (RFC 2617 §3.2.2: the digest covers the unquoted values).
 */
export function hUnquoted(alg: Alg, p: usize, len: u32): void {
  const end = p + <usize>len;
  let run = p;
  let q = p;
  while (q < end) {
    if (load<u8>(q) == 0x5c && q + 1 < end) { // "\" with a following byte: drop the backslash
      hUpdate(alg, run, <u32>(q - run));
      run = q + 1;
      q += 2;
      continue;
    }
    q++;
  }
  hUpdate(alg, run, <u32>(end - run));
}

/** Finish into raw bytes at out; returns rawLen(alg). Clears the context. */
export function hFinal(alg: Alg, out: usize): u32 {
  ctx(alg).final(out);
  return rawLen(alg);
}

/** Finish as lowercase hex at out; returns hexLen(alg). Clears the context. */
export function hFinalHex(alg: Alg, out: usize): u32 {
  const n = hFinal(alg, RAW);
  hexEncode(RAW, n, out);
  memory.fill(RAW, 0, 32);
  return n << 1;
}
