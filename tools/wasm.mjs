// The one wasm binary reader of the tools (footprint.mjs, sections.mjs, release.mjs): a cursor over the
// bytes and the section list. Only what the tools read: LEB128 numbers, names, section bounds, the
// data segments' extent.

export const SECTION = { 0: "custom", 1: "type", 2: "import", 3: "function", 4: "table", 5: "memory", 6: "global", 7: "export", 8: "start", 9: "element", 10: "code", 11: "data", 12: "data count" };

/** A cursor at `pos`: u8(), uleb() (unsigned, exact up to 2^53), sleb() (signed), str() (a name). */
export function reader(buf, pos = 0) {
  const r = {
    pos,
    u8() { return buf[r.pos++]; },
    uleb() {
      let result = 0, shift = 0, b;
      do { b = buf[r.pos++]; result += (b & 0x7f) * 2 ** shift; shift += 7; } while (b & 0x80);
      return result;
    },
    sleb() {
      let result = 0n, shift = 0n, b;
      do { b = buf[r.pos++]; result |= BigInt(b & 0x7f) << shift; shift += 7n; } while (b & 0x80);
      if (b & 0x40) result -= 1n << shift;
      return Number(result);
    },
    str() {
      const n = r.uleb();
      const t = Buffer.from(buf.buffer, buf.byteOffset + r.pos, n).toString("utf8");
      r.pos += n;
      return t;
    },
  };
  return r;
}

/** Sections of a wasm binary: [{ id, name, start, end }] (payload bounds). */
export function wasmSections(buf) {
  if (buf.length < 8 || buf[0] !== 0 || buf[1] !== 0x61 || buf[2] !== 0x73 || buf[3] !== 0x6d) throw new Error("not a wasm binary");
  const out = [];
  const r = reader(buf, 8);
  while (r.pos < buf.length) {
    const id = r.u8();
    const size = r.uleb();
    out.push({ id, name: SECTION[id] ?? `id ${id}`, start: r.pos, end: r.pos + size });
    r.pos += size;
  }
  return out;
}

/**
 * Data section (id 11): { segments, active, passive, staticBytes } where staticBytes is the end of the
 * highest active segment whose offset is an i32.const (0 when there is none).
 */
export function wasmData(buf) {
  const s = wasmSections(buf).find((x) => x.id === 11);
  const res = { segments: 0, active: 0, passive: 0, dataBytes: 0, staticBytes: 0, unknownOffsets: 0 };
  if (!s) return res;
  const r = reader(buf, s.start);
  const n = r.uleb();
  res.segments = n;
  for (let i = 0; i < n; i++) {
    const flag = r.uleb();
    let offset = null;
    if (flag === 1) res.passive++;
    else {
      if (flag === 2) r.uleb(); // memory index
      res.active++;
      // constant expression: i32.const n | i64.const n | global.get g, then end (0x0b)
      const op = r.u8();
      if (op === 0x41 || op === 0x42) offset = r.sleb();
      else if (op === 0x23) { r.uleb(); res.unknownOffsets++; }
      else throw new Error(`data segment ${i}: unsupported offset opcode 0x${op.toString(16)}`);
      while (buf[r.pos] !== 0x0b) r.pos++; // skip anything else of the expression
      r.pos++;
    }
    const size = r.uleb();
    r.pos += size;
    res.dataBytes += size;
    if (offset !== null) res.staticBytes = Math.max(res.staticBytes, offset + size);
  }
  return res;
}
