// Numeric IP addresses <-> the 16 address bytes of a Peer record, without DNS and without
// allocating on the IPv4 path (the hot one).
import net from "node:net";

/**
 * Writes the address text `s` (as Node reports it: dotted IPv4, IPv6, IPv4-mapped
 * "::ffff:a.b.c.d", possibly with a "%zone") into out[off..off+16). Returns the family (4 or 6),
 * or 0 if it does not parse. IPv4-mapped IPv6 is reported as IPv4 (first 4 bytes).
 */
export function writeAddr(s: string, out: Buffer, off: number): 0 | 4 | 6 {
  if (parse4(s, 0, s.length, out, off)) {
    out.fill(0, off + 4, off + 16);
    return 4;
  }
  if (!parse6(s, out, off)) return 0;
  // ::ffff:a.b.c.d (and ::ffff:XXXX:XXXX) -> IPv4
  let mapped = out[off + 10] === 0xff && out[off + 11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (out[off + i] !== 0) mapped = false;
  if (mapped) {
    out.copyWithin(off, off + 12, off + 16);
    out.fill(0, off + 4, off + 16);
    return 4;
  }
  return 6;
}

/** Dotted quad in s[from, to) -> 4 bytes at out[off]; false if not exactly a.b.c.d. */
function parse4(s: string, from: number, to: number, out: Buffer, off: number): boolean {
  let part = 0;
  let val = 0;
  let digits = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      val = val * 10 + (c - 48);
      if (++digits > 3 || val > 255) return false;
    } else if (c === 46 && digits > 0 && part < 3) {
      out[off + part++] = val;
      val = 0;
      digits = 0;
    } else return false;
  }
  if (part !== 3 || digits === 0) return false;
  out[off + 3] = val;
  return true;
}

function hexVal(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** IPv6 text (optional %zone, optional trailing dotted quad) -> 16 bytes at out[off]. */
function parse6(s: string, out: Buffer, off: number): boolean {
  let end = s.indexOf("%");
  if (end < 0) end = s.length;
  const words: number[] = [];
  let gap = -1;
  let i = 0;
  if (s.startsWith("::")) {
    gap = 0;
    i = 2;
  }
  while (i < end) {
    // dotted quad tail
    let j = i;
    while (j < end && s.charCodeAt(j) !== 58 && s.charCodeAt(j) !== 46) j++;
    if (j < end && s.charCodeAt(j) === 46) {
      const tmp = Buffer.allocUnsafe(4);
      if (!parse4(s, i, end, tmp, 0)) return false;
      words.push((tmp[0] << 8) | tmp[1], (tmp[2] << 8) | tmp[3]);
      i = end;
      break;
    }
    if (j === i || j - i > 4) return false;
    let w = 0;
    for (let k = i; k < j; k++) {
      const h = hexVal(s.charCodeAt(k));
      if (h < 0) return false;
      w = (w << 4) | h;
    }
    words.push(w);
    i = j;
    if (i < end) {
      // at ':'
      if (i + 1 < end && s.charCodeAt(i + 1) === 58) {
        if (gap >= 0) return false;
        gap = words.length;
        i += 2;
      } else {
        i += 1;
        if (i === end) return false;
      }
    }
  }
  if (words.length > 8 || (gap < 0 && words.length !== 8) || (gap >= 0 && words.length === 8)) return false;
  const all = gap < 0 ? words : [...words.slice(0, gap), ...new Array(8 - words.length).fill(0), ...words.slice(gap)];
  for (let k = 0; k < 8; k++) {
    out[off + 2 * k] = all[k] >> 8;
    out[off + 2 * k + 1] = all[k] & 0xff;
  }
  return true;
}

const v4Cache = new Map<number, string>();

/** 4 bytes at b[off] -> "a.b.c.d" (cached: the strings of recent peers are reused). */
export function format4(b: Buffer | Uint8Array, off: number): string {
  const key = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
  let s = v4Cache.get(key);
  if (s === undefined) {
    if (v4Cache.size >= 65536) v4Cache.clear();
    s = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    v4Cache.set(key, s);
  }
  return s;
}

/** 16 bytes at b[off] -> compressed IPv6 text (RFC 5952: longest run of >= 2 zero words is "::"). */
export function format6(b: Buffer | Uint8Array, off: number): string {
  const w: number[] = [];
  for (let k = 0; k < 8; k++) w.push((b[off + 2 * k] << 8) | b[off + 2 * k + 1]);
  let bestAt = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (w[k] !== 0) {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && w[e] === 0) e++;
    if (e - k > bestLen) {
      bestAt = k;
      bestLen = e - k;
    }
    k = e;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(w);
  return `${hex(w.slice(0, bestAt))}::${hex(w.slice(bestAt + bestLen))}`;
}

/** The address of a Peer record's family/addr as text (IPv6 unbracketed); "" for other families. */
export function formatAddr(family: number, b: Buffer | Uint8Array, off: number): string {
  return family === 4 ? format4(b, off) : family === 6 ? format6(b, off) : "";
}

/** "udp:1.2.3.4:5060" / "tcp:[::1]:5060". */
export function peerText(proto: string, family: number, addr: string, port: number): string {
  return family === 6 ? `${proto}:[${addr}]:${port}` : `${proto}:${addr}:${port}`;
}

/** dgram lookup that never touches DNS: every address we pass is already numeric. It answers at once, so a
 * socket given it binds within bind() (the SIP sockets, the media relay's legs), not on a later tick. */
export function numericLookup(host: string, opts: unknown, cb?: (e: Error | null, a: string, f: number) => void): void {
  if (typeof opts === "function") {
    cb = opts as typeof cb;
    opts = undefined;
  }
  const fam = typeof opts === "number" ? opts : (opts as { family?: number } | undefined)?.family;
  cb!(null, host, fam === 4 || fam === 6 ? fam : net.isIPv6(host) ? 6 : 4);
}
