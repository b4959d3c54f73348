// Crypto layer: the hash functions the digest-authentication layer (auth/) needs, nothing more.
// Contract: fixed state allocated once at start-up (one record per context), streaming
// init / update(ptr, len) / final(out) over linear memory, one-shot helpers and lowercase hex.
// No allocation after start-up, no traps on any input, no imports: pure functions of their bytes.
// Depends on nothing but the AssemblyScript builtins.
//
//   md.ts      the Merkle–Damgård context both hashes share (buffering, padding), the one-shot helpers
//   md5.ts     RFC 1321 MD5 block function (16-byte digest), kept for RFC 2617 / RFC 3261 §22 digest only
//   sha256.ts  FIPS 180-4 SHA-256 block function (32-byte digest), RFC 8760 digest and the nonce MAC
//   hex.ts     lowercase hex encode / decode

export { MdHash, Md5, Sha256, md5, md5Hex, sha256, sha256Hex } from "./md";
export { MD5_LEN } from "./md5";
export { SHA256_LEN } from "./sha256";
export { hexEncode, hexDecode, hexDigit } from "./hex";
