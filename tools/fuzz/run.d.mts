// Types for run.mjs, for the TypeScript tests.

export interface FuzzDeath {
  incarnation: number;
  /** Exit code, or the signal's name. */
  exit: number | string | null;
  /** The last hostile cases sent before the death was seen, as "index:kind". */
  lastCases: string[];
  /** The cases since the last good frame that arrived: the one that did it is among them. */
  window: { first: number; cases: number } | null;
  lastHostileSeq: number | null;
  stderrTail: string[];
  /** The last stderr line with paths and numbers blanked: deaths group by it. */
  cause: string;
}

export interface FuzzResult {
  transport: 'tcp' | 'udp';
  seed: number;
  first: number;
  cases: number;
  goodFrames: number;
  /** Fewer than `cases` when the run gave up (`stuck`). */
  casesSent: number;
  /** Cases sent, by kind. */
  kinds: Record<string, number>;
  goodArrived: number[];
  goodMissing: number[];
  /** good-k.jpg files found under the save folders with the bytes sent. */
  goodSaved: number;
  goodSavedWrong: string[];
  /** UDP: good frames whose stream counters had started again (the stream was ended or evicted). */
  goodRestarted: number[];
  deaths: FuzzDeath[];
  /** TCP connections recv closed although every frame on them was framed correctly. */
  unexpectedCloses: Array<{ incarnation: number; how: string; cases: string[] }>;
  /** The run gave up: recv got stuck more than `maxStalls` times (each stall is also in `deaths`). */
  stuck: boolean;
  stillRunning: boolean;
  /** Exit code (or signal) when stopped with SIGTERM at the end. */
  exitAtStop: number | string | null;
  /** The largest VmHWM of any recv incarnation, in MB. */
  peakRssMb: number;
  /** UDP: datagrams the kernel dropped at recv's socket. */
  kernelDrops: number;
  rawOutputBytes: number;
  stdoutLines: number;
  /** All of stderr, every incarnation. */
  stderr: string;
  seconds: number;
  workDir?: string;
}

export function fuzzRecv(options: {
  transport: 'tcp' | 'udp';
  seed: number;
  cases: number;
  first?: number;
  goodFrames: number;
  bases: Buffer[];
  goodJpeg: Buffer;
  env?: NodeJS.ProcessEnv;
  window?: boolean;
  extraArgs?: string[];
  /** Times a stuck recv is killed and replaced before the run gives up (`stuck`). Default 2. */
  maxStalls?: number;
  onProgress?: (line: string) => void;
}): Promise<FuzzResult>;

export function spoofRun(options: {
  goodJpeg: Buffer;
  spoofJpeg: Buffer;
  before?: number;
  after?: number;
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
}): Promise<{ missing: Record<string, number[]>; stillRunning: boolean; stderr: string }>;

export function deathCause(stderr: string): string;

export interface StderrReport {
  lines: number;
  bytes: number;
  problemLines: number;
  byCode: Record<string, number>;
  maxPerCode: number;
  longestLine: number;
  longestSample: string;
  rawControlLines: number;
  rawControlSample: string;
  stackTrace: boolean;
  internalError: boolean;
}

export function stderrReport(stderr: string, seconds: number): StderrReport;
