// Crypto layer: the hash functions the digest-authentication layer (auth/) needs, nothing more.
// Contract: fixed state allocated once at start-up (one record per context), streaming
// init / update(ptr, len) / final(out) over linear memory, one-shot helpers and lowercase hex.
// No allocation after start-up, no traps on any input, no imports: pure functions of their bytes.
// Depends on nothing but the AssemblyScript builtins.
//
//   md5.ts     RFC 1321 MD5 (16-byte digest), kept for RFC 2617 / RFC 3261 §22 digest only
//   sha256.ts  FIPS 180-4 SHA-256 (32-byte digest), RFC 8760 digest and the nonce MAC
//   hex.ts     lowercase hex encode / decode

export { Md5, MD5_LEN, md5, md5Hex } from "./md5";
export { Sha256, SHA256_LEN, sha256, sha256Hex } from "./sha256";
export { hexEncode, hexDecode, hexDigit } from "./hex";
