/**
 * The seeded fuzzer for tests: the implementation is tools/fuzz/cases.mjs and
 * run.mjs, shared with `BENCH_ONLY=attacks`; this adds the JPEGs cases start from and
 * the environment knobs. FUZZ_CASES=N runs N cases per transport (default: each test's own),
 * FUZZ_SEED=S replays seed S (default 1), FUZZ_FIRST=K starts at case K (to replay the cases a
 * failure names: FUZZ_FIRST=138 FUZZ_CASES=12), FUZZ_KEEP=1 keeps the receivers' folders.
 */
import { makeJpeg, withExifThumbnail } from './jpeg.js';
import type { FuzzResult } from '../../tools/fuzz/run.mjs';

export { fuzzRecv, spoofRun, stderrReport, type FuzzResult, type StderrReport } from '../../tools/fuzz/run.mjs';
export { GOOD_LABEL, SPOOF_KINDS, tcpCase, udpCase } from '../../tools/fuzz/cases.mjs';

export const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 1);
export const FUZZ_FIRST = Number(process.env.FUZZ_FIRST ?? 0);

/** FUZZ_CASES when set, else `fallback`. */
export function fuzzCases(fallback: number): number {
  const n = Number(process.env.FUZZ_CASES);
  return Number.isSafeInteger(n) && n > 0 ? n : fallback;
}

/** Real JPEGs of several kinds for the mutator: noisy and flat, odd sizes, progressive, grey, with an EXIF thumbnail. */
export async function fuzzBases(): Promise<Buffer[]> {
  const thumbnail = await makeJpeg({ width: 16, height: 12 });
  return [
    await makeJpeg({ width: 64, height: 48 }),
    await makeJpeg({ width: 17, height: 9, quality: 30 }),
    await makeJpeg({ width: 48, height: 64, progressive: true }),
    await makeJpeg({ width: 32, height: 32, noise: false, color: '#808080' }),
    withExifThumbnail(await makeJpeg({ width: 40, height: 30 }), thumbnail),
  ];
}

/** The deaths of a run, grouped by cause, with the cases in flight at the first of each: for failure messages. */
export function describeDeaths(result: FuzzResult): string {
  const groups = new Map<string, FuzzResult['deaths']>();
  for (const death of result.deaths) groups.set(death.cause, [...(groups.get(death.cause) ?? []), death]);
  return [...groups]
    .map(([cause, deaths]) => {
      const w = deaths[0]!.window;
      const replay = w ? ` (replay from a fresh recv, which may lack the state that mattered: FUZZ_SEED=${result.seed} FUZZ_FIRST=${w.first} FUZZ_CASES=${w.cases})` : '';
      return `${deaths.length} x exit ${deaths[0]!.exit}: ${cause}\n    the first one among cases ${w ? `${w.first}..${w.first + w.cases - 1}` : '?'}${replay}; the last sent: ${deaths[0]!.lastCases.slice(-6).join(', ')}`;
    })
    .join('\n');
}
