// A block of telephone numbers (RFC 6140 registration: an enterprise registers once for all of them),
// written as a pattern: literal characters, then one `x` per trailing digit. "+155500xx" is the 100
// numbers +15550000..+15550099; "+15550001" is that one number. At most BLOCK_CAP bytes, at least one;
// the literal part is `+` and digits only, and the `x`s (if any) all come last.

export const BLOCK_CAP: u32 = 32;

/** Whether [p, p+len) is a well-formed block pattern. */
export function blockValid(p: usize, len: u32): bool {
  if (len == 0 || len > BLOCK_CAP) return false;
  let xs = false;
  for (let k: u32 = 0; k < len; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    if (c == 0x78) { xs = true; continue; } // x
    if (xs) return false; // a literal after an x
    if (c == 0x2b ? k != 0 : c < 0x30 || c > 0x39) return false; // `+` only first
  }
  return true;
}

/** Whether the number [n, n+nlen) (a URI's user part as written) is in block pattern [p, p+len). */
export function blockMatch(p: usize, len: u32, n: usize, nlen: u32): bool {
  if (len == 0 || nlen != len) return false;
  for (let k: u32 = 0; k < len; k++) {
    const c = <u32>load<u8>(p + <usize>k);
    const d = <u32>load<u8>(n + <usize>k);
    if (c == 0x78 ? d < 0x30 || d > 0x39 : c != d) return false;
  }
  return true;
}

/**
 * The number a URI's user part names, into numberAt/numberLen: with user=phone (RFC 3261 §19.1.6) a
 * telephone-subscriber (RFC 3966), compared without its visual separators (- . ( )) and its own
 * parameters (;isub=, ;phone-context=...): "+1-555-0001" is +15550001; any other user part as written
 * (and one with more than BLOCK_CAP digits: too long for any block or number of ours).
 */
export let numberAt: usize = 0;
export let numberLen: u32 = 0;
export function telNumber(user: usize, userLen: u32, userParam: usize, userParamLen: u32): void {
  numberAt = user;
  numberLen = userLen;
  // "phone", any case
  if (userParamLen != 5 || (load<u32>(userParam) | 0x20202020) != 0x6e6f6870 || (load<u8>(userParam, 4) | 0x20) != 0x65) return;
  const buf = memory.data(<i32>BLOCK_CAP);
  let n: u32 = 0;
  for (let k: u32 = 0; k < userLen; k++) {
    const c = <u32>load<u8>(user + <usize>k);
    if (c == 0x3b) break; // ;
    if (c == 0x2d || c == 0x2e || c == 0x28 || c == 0x29) continue; // - . ( )
    if (n >= BLOCK_CAP) return;
    store<u8>(buf + <usize>n, <u8>c);
    n++;
  }
  numberAt = buf;
  numberLen = n;
}
