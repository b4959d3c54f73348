// Robustness of the wire parser (probe_parse = parse + validate) on both boards' probe builds:
// it never traps (a trap surfaces as a thrown WebAssembly.RuntimeError) and always returns a
// verdict: a number; > 0 only if ≤ the input length; never 0 for a datagram (0 is stream-only).
// Corpora: RFC 4475/5118 torture messages, the 4527 PROTOS c07-sip INVITE cases, seeded mutations.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadProbe, root } from "../lib/core.mjs";
import { corpusFiles, protosCases, loadProtosCase, makeRng, mutate, hasContentLength } from "../lib/corpus.mjs";

const BOARDS = ["server", "micro"];
const TOO_LARGE = 10;
const MUTATION_SEED = 0x5eed4475;
const MUTATIONS_PER_BOARD = 10000;

const corpus = corpusFiles();

/** Saves a failing input under tests/fuzz/crashes/ and returns the path (for the assertion message). */
function saveCrash(tag, bytes) {
  const dir = join(root, "tests", "fuzz", "crashes");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${tag.replace(/[^\w.-]+/g, "_")}.bin`);
  writeFileSync(file, bytes);
  return file;
}

/**
 * Runs probe_parse on `bytes[0, len)` already in RX and checks the verdict's shape. On a trap or a bad
 * verdict, saves `bytes` and fails with the details. Returns the verdict.
 */
function verdict(P, len, stream, bytes, tag) {
  let r;
  try {
    r = P.ex.probe_parse(len, stream);
  } catch (e) {
    const f = saveCrash(`${P.board}-${tag}-${stream ? "stream" : "dgram"}-trap`, bytes.subarray(0, len));
    assert.fail(`${P.board} ${tag} (${stream ? "stream" : "datagram"}, ${len} bytes): trap ${e && e.message}; saved ${f}`);
  }
  const bad =
    typeof r !== "number" || !Number.isInteger(r) ? "not an integer" :
    r > len ? `verdict ${r} > input length ${len}` :
    !stream && r === 0 ? "datagram verdict 0 (stream-only)" : null;
  if (bad) {
    const f = saveCrash(`${P.board}-${tag}-${stream ? "stream" : "dgram"}-verdict`, bytes.subarray(0, len));
    assert.fail(`${P.board} ${tag} (${stream ? "stream" : "datagram"}, ${len} bytes): ${bad}; saved ${f}`);
  }
  return r;
}

/** Puts `bytes` into RX and parses it. */
function parse(P, bytes, stream, tag) {
  const n = P.put(bytes);
  return verdict(P, n, stream, bytes, tag);
}

test("every_prefix_of_every_corpus_message", async (t) => {
  assert.ok(corpus.length >= 60, `corpus has ${corpus.length} messages`);
  for (const board of BOARDS) {
    await t.test(board, () => {
      const P = loadProbe(board);
      let prefixes = 0, streamChecks = 0;
      for (const { name, bytes } of corpus) {
        if (bytes.length > P.rxCap) continue;
        P.put(bytes); // every prefix is parsed in place: bytes past the prefix are the message's own
        for (let len = 0; len <= bytes.length; len++) {
          verdict(P, len, 0, bytes, `${name}@${len}`);
          verdict(P, len, 1, bytes, `${name}@${len}`);
          prefixes++;
        }
        const dg = parse(P, bytes, 0, name);
        const st = parse(P, bytes, 1, name);
        if (dg > 0 && hasContentLength(bytes)) {
          assert.equal(st, dg, `${board} ${name}: stream verdict ${st} differs from datagram ${dg}`);
          streamChecks++;
        }
      }
      t.diagnostic(`${board}: ${corpus.length} messages, ${prefixes} prefixes × 2 modes, ${streamChecks} stream=datagram checks`);
    });
  }
});

test("protos_c07_sip_all_4527_invite_templates", async (t) => {
  const cases = protosCases();
  assert.equal(cases.length, 4527);
  const filled = cases.map((c) => ({ name: c.name, ...loadProtosCase(c.name) }));
  for (const board of BOARDS) {
    await t.test(board, () => {
      const P = loadProbe(board);
      const hist = new Map(); // "valid" | "drop" | status → count
      const bump = (k) => hist.set(k, (hist.get(k) || 0) + 1);
      let parsed = 0, oversized = 0;
      for (const { name, invite, teardown } of filled) {
        if (invite.length <= P.rxCap) {
          const r = parse(P, invite, 0, `protos-${name}-invite`);
          bump(r > 0 ? "valid" : `${P.ex.probe_status_of(r) || "drop"}`);
          parsed++;
          // Same bytes as a stream: any verdict shape, never a trap.
          verdict(P, invite.length, 1, invite, `protos-${name}-invite`);
        } else {
          // Too large for RX: a host can only hand the first rxCap bytes over a stream. The parser must
          // refuse (TooLarge, or an error it finds earlier), never wait for more (0) or accept.
          const head = invite.subarray(0, P.rxCap);
          const r = parse(P, head, 1, `protos-${name}-invite-head`);
          assert.ok(r < 0, `${board} protos ${name}: first ${P.rxCap} of ${invite.length} bytes (stream) gave ${r}, expected an error (-${TOO_LARGE} or earlier)`);
          bump(r === -TOO_LARGE ? "TooLarge" : `${P.ex.probe_status_of(r) || "drop"}`);
          oversized++;
        }
        if (teardown.length <= P.rxCap) parse(P, teardown, 0, `protos-${name}-teardown`);
      }
      // Still works afterwards: the unmodified valid INVITE parses.
      const ok = filled[0];
      const r0 = parse(P, ok.invite, 0, "protos-0000000-invite-after");
      assert.ok(r0 > 0, `${board}: case 0000000 after the run gave ${r0}`);
      assert.equal(r0, ok.invite.length);
      const summary = [...hist.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}=${v}`).join(" ");
      t.diagnostic(`${board}: ${parsed} datagrams + ${oversized} oversized (stream head): ${summary}`);
    });
  }
});

test(`seeded_mutations_of_corpus (seed 0x${MUTATION_SEED.toString(16)}, ${MUTATIONS_PER_BOARD} per board)`, async (t) => {
  const protos0 = loadProtosCase("0000000");
  const seeds = [...corpus.map((c) => c.bytes), protos0.invite, protos0.teardown];
  for (const board of BOARDS) {
    await t.test(board, () => {
      const P = loadProbe(board);
      const rng = makeRng(MUTATION_SEED);
      const fits = seeds.filter((b) => b.length <= P.rxCap);
      let valid = 0, errors = 0, more = 0;
      for (let i = 0; i < MUTATIONS_PER_BOARD; i++) {
        const m = mutate(rng.pick(fits), rng, P.rxCap);
        const stream = i & 1;
        const r = parse(P, m, stream, `mut-${MUTATION_SEED}-${i}`);
        if (r > 0) {
          valid++;
          if (!stream) {
            const again = parse(P, m, 0, `mut-${MUTATION_SEED}-${i}-again`);
            assert.equal(again, r, `${board} mutation ${i}: nondeterministic verdict ${r} then ${again}`);
          }
        } else if (r === 0) more++;
        else errors++;
      }
      t.diagnostic(`${board}: seed 0x${MUTATION_SEED.toString(16)}: ${MUTATIONS_PER_BOARD} mutations: ${valid} valid, ${errors} errors, ${more} need-more (stream)`);
    });
  }
});

test("memory_does_not_move_over_100000_parses", async (t) => {
  for (const board of BOARDS) {
    await t.test(board, () => {
      const P = loadProbe(board);
      const { ex } = P;
      const msgs = corpus.map((c) => c.bytes).filter((b) => b.length <= P.rxCap);
      const bytes0 = ex.memory.buffer.byteLength;
      const m0 = ex.probe_heap_mark();
      const m1 = ex.probe_heap_mark();
      const step = m1 - m0;
      assert.ok(step > 0, `heap mark step ${step}`);
      for (let i = 0; i < 100_000; i++) {
        const b = msgs[i % msgs.length];
        P.put(b);
        ex.probe_parse(b.length, i & 1);
      }
      const m2 = ex.probe_heap_mark();
      assert.equal(m2 - m1, step, `${board}: heap moved by ${m2 - m1 - step} bytes over 100,000 parses`);
      assert.equal(ex.memory.buffer.byteLength, bytes0, `${board}: memory grew`);
      t.diagnostic(`${board}: heap mark ${m0} → ${m2} (step ${step}), memory ${bytes0} bytes unchanged`);
    });
  }
});
