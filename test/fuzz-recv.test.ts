/**
 * The seeded fuzzer: thousands of mutated frames (headers, metadata, JPEG markers, names,
 * labels) over TCP and datagrams (every header field forged) over UDP into one real `vstream
 * recv` per transport with every sink at once, while a good sender's frames must all arrive.
 * FUZZ_CASES=N for a longer run, FUZZ_SEED=S to replay a seed, FUZZ_FIRST=K to start at case K
 * (see test/helpers/fuzz-harness.ts).
 *
 * Each run goes on after a death of recv (recording it and starting another), so that one
 * failure lists every kind of death the seed finds, with the cases in flight at the first of each.
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { makeJpeg } from './helpers/jpeg.js';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';
import {
  describeDeaths,
  FUZZ_FIRST,
  FUZZ_SEED,
  fuzzBases,
  fuzzCases,
  fuzzRecv,
  spoofRun,
  stderrReport,
  SPOOF_KINDS,
  type FuzzResult,
} from './helpers/fuzz-harness.js';
import { MAX_WIRE_TEXT_CHARS } from '../src/text/wire-text.js';

/** A generous bound that still catches buffers sized from the wire (one 65000x65000 frame is 12 GB). */
const RSS_LIMIT_MB = 600;
/** The most problem lines a run of a minute or less may log (the log is rate-limited per code); longer runs in proportion. */
const MAX_PROBLEM_LINES = 200;
/**
 * The longest a log line may be, whatever a peer sends: the longest fixed wording (a budget
 * refusal with its figures, about 250 characters) with room to spare, plus two pieces of wire
 * text (a label and a name), each at most MAX_WIRE_TEXT_CHARS code points escaped to at most 8
 * characters (`\u{202e}`) and an ellipsis. A line that grew with the input (a 60 KB label)
 * is far past it; figures and port numbers alone move a line by a few characters, not past it.
 */
const MAX_LINE_CHARS = 320 + 2 * (8 * MAX_WIRE_TEXT_CHARS + 1);

/** One good frame per 50 cases, at least 40: the canary keeps checking in a long run. */
const goodFrames = (cases: number) => Math.max(40, Math.round(cases / 50));

let bases: Buffer[];
let goodJpeg: Buffer;
beforeAll(async () => {
  bases = await fuzzBases();
  goodJpeg = await makeJpeg({ width: 64, height: 48 });
});

/** Every property the run must have, as soft assertions so that one failure lists all of them. */
function expectSurvived(result: FuzzResult): void {
  const where = `seed ${result.seed}, ${result.cases} ${result.transport.toUpperCase()} cases`;
  expect.soft(result.deaths, `recv died (${where}):\n${describeDeaths(result)}`).toEqual([]);
  expect.soft(result.stillRunning, `recv still running at the end (${where})`).toBe(true);
  expect.soft(result.stuck, `the run gave up: recv got stuck too often (${where})`).toBe(false);
  expect.soft(result.goodMissing, `good frames that never arrived (${where})`).toEqual([]);
  expect.soft(result.goodSaved, `good frames saved intact (${where}; wrong: ${result.goodSavedWrong.join(', ')})`).toBe(result.goodFrames);
  expect.soft(result.goodRestarted, `good frames whose UDP stream had been ended or evicted by others' datagrams (${where})`).toEqual([]);
  expect.soft(result.unexpectedCloses, `connections closed although their framing was intact (${where})`).toEqual([]);
  expect.soft(result.peakRssMb, `recv peak RSS (${where})`).toBeLessThan(RSS_LIMIT_MB);
  expect.soft(result.rawOutputBytes % 3, 'rgb24 output is whole pixels').toBe(0);
  expect.soft(result.rawOutputBytes, 'rgb24 output has the good frames at least').toBeGreaterThan(0);

  const err = stderrReport(result.stderr, result.seconds);
  expect.soft(err.stackTrace, 'a stack trace on stderr').toBe(false);
  expect.soft(err.internalError, 'an internal error on stderr').toBe(false);
  expect.soft(err.rawControlLines, `stderr lines with raw control characters, e.g. ${err.rawControlSample}`).toBe(0);
  expect.soft(err.longestLine, `longest stderr line: ${err.longestSample}...`).toBeLessThanOrEqual(MAX_LINE_CHARS);
  const maxProblemLines = MAX_PROBLEM_LINES * Math.max(1, result.seconds / 60);
  expect.soft(err.problemLines, `problem lines on stderr, by code: ${JSON.stringify(err.byCode)}`).toBeLessThan(maxProblemLines);
  for (const [code, n] of Object.entries(err.byCode)) {
    expect.soft(n, `lines for ${code} in ${result.seconds.toFixed(1)} s (one a second at most)`).toBeLessThanOrEqual(err.maxPerCode);
  }
}

describe(`recv under seeded hostile input (FUZZ_SEED=${FUZZ_SEED})`, () => {
  it('TCP: mutated frames over many connections; recv stays up, the good sender loses nothing', async () => {
    const result = await fuzzRecv({ transport: 'tcp', seed: FUZZ_SEED, first: FUZZ_FIRST, cases: fuzzCases(2000), goodFrames: goodFrames(fuzzCases(2000)), bases, goodJpeg });
    // The run really was hostile: every kind of case went out (unless a short replay).
    if (result.cases >= 1000) expect(Object.keys(result.kinds).length).toBeGreaterThan(20);
    expectSurvived(result);
    // Stopped by the test with SIGTERM, recv winds down as after any signal (130 or 143), not as a crash.
    if (result.deaths.length === 0) expect([130, 143]).toContain(result.exitAtStop);
  }, 180_000);

  it('UDP: datagrams with every field forged, floods of stream ids; recv stays up, the good stream loses nothing', async () => {
    const result = await fuzzRecv({ transport: 'udp', seed: FUZZ_SEED, first: FUZZ_FIRST, cases: fuzzCases(3000), goodFrames: goodFrames(fuzzCases(3000)), bases, goodJpeg });
    if (result.cases >= 1000) expect(Object.keys(result.kinds).length).toBeGreaterThan(20);
    expectSurvived(result);
  }, 180_000);

  it('UDP: one datagram spoofed from a stream\'s own address and id does not silence it', async () => {
    const spoofJpeg = await makeJpeg({ width: 32, height: 24 });
    const { missing, stillRunning } = await spoofRun({ goodJpeg, spoofJpeg });
    expect(Object.keys(missing)).toEqual(SPOOF_KINDS);
    for (const kind of SPOOF_KINDS) expect.soft(missing[kind], `good frames lost after a spoofed "${kind}"`).toEqual([]);
    expect(stillRunning).toBe(true);
  }, 60_000);
});

describe.skipIf(!HAVE_XVFB)('recv with its window sink under seeded hostile input (Xvfb)', () => {
  let x: Xvfb;
  beforeAll(async () => {
    x = await startXvfb({ width: 1024, height: 768 });
  });
  afterAll(async () => x?.stop());

  it('TCP: a window per sender, hostile labels and sizes; recv stays up, the good sender loses nothing', async () => {
    const result = await fuzzRecv({ transport: 'tcp', seed: FUZZ_SEED + 1000, first: FUZZ_FIRST, cases: fuzzCases(300), goodFrames: 10, bases, goodJpeg, env: x.env, window: true });
    expect(result.stderr, 'the window sink really was on').not.toMatch(/without a window/);
    expectSurvived(result);
  }, 180_000);
});
