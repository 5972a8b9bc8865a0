/**
 * One running ffmpeg: its stdout for the frames, a bounded tail of its stderr for messages, a
 * stop that cannot hang (SIGTERM, then SIGKILL after a grace period, as execa does), and its
 * exit turned into the typed error a user sees.
 */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { FfmpegError, type VstreamError } from '../../errors.js';

/**
 * Names a failure in the user's terms (a missing file, a busy camera) from ffmpeg's stderr;
 * undefined leaves it ffmpeg's own error. Each source that runs ffmpeg gives its own.
 */
export type FailureExplainer = (failure: { tail: string; line: string; detail: string; cause: { cause: FfmpegError } }) => VstreamError | undefined;

export interface SpawnFfmpegOptions {
  ffmpegPath: string;
  args: readonly string[];
  /** What the source makes of a failure (default: ffmpeg's own error). */
  explainFailure?: FailureExplainer;
  /** Grace period between SIGTERM and SIGKILL in `stop()`. */
  killTimeoutMs?: number;
  /** Bytes for ffmpeg's standard input (`-i pipe:0`); without it stdin is closed. */
  stdin?: Readable;
}

export interface FfmpegExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when ffmpeg ended on its own with a failure (never after `stop()`). */
  error?: VstreamError;
}

export const DEFAULT_KILL_TIMEOUT_MS = 2000;
const TAIL_MAX_LINES = 20;
const TAIL_MAX_CHARS = 4096;

/** Keeps the last lines of a text stream within fixed bounds, however much is written. */
export class StderrTail {
  private text = '';

  push(chunk: string): void {
    this.text += chunk;
    if (this.text.length > TAIL_MAX_CHARS) this.text = this.text.slice(-TAIL_MAX_CHARS);
  }

  toString(): string {
    const lines = this.text.split(/\r\n|\r|\n/).filter((line) => line.trim() !== '');
    return lines.slice(-TAIL_MAX_LINES).join('\n');
  }
}

export class FfmpegProcess {
  readonly stdout: Readable;
  readonly pid: number | undefined;
  /** Settles once ffmpeg has exited and its pipes are closed; never rejects. */
  readonly exited: Promise<FfmpegExit>;
  private readonly tail = new StderrTail();
  private readonly child: ReturnType<typeof spawn>;
  private readonly killTimeoutMs: number;
  private stopping = false;

  constructor(options: SpawnFfmpegOptions) {
    const { ffmpegPath, args, explainFailure } = options;
    this.killTimeoutMs = options.killTimeoutMs ?? DEFAULT_KILL_TIMEOUT_MS;
    this.child = spawn(ffmpegPath, args, { stdio: [options.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], windowsHide: true });
    this.pid = this.child.pid;
    if (options.stdin) {
      // ffmpeg exiting closes the pipe under our writes: its exit status tells why, not EPIPE.
      this.child.stdin!.on('error', () => {});
      options.stdin.on('error', () => {}).pipe(this.child.stdin!);
    }
    this.stdout = this.child.stdout!;
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => this.tail.push(chunk));
    this.exited = new Promise((resolve) => {
      this.child.once('error', (err: NodeJS.ErrnoException) => {
        // Only a failed spawn matters here; a failed kill() also lands on 'error'.
        if (this.child.pid === undefined) resolve({ code: null, signal: null, error: spawnError(ffmpegPath, err) });
      });
      this.child.once('close', (code, signal) => {
        const failed = !this.stopping && (code !== 0 || signal !== null);
        resolve({ code, signal, ...(failed && { error: describeFailure({ code, signal }, this.tail.toString(), explainFailure) }) });
      });
    });
  }

  get stderrTail(): string {
    return this.tail.toString();
  }

  /** Resolves when ffmpeg ended cleanly (or was stopped), rejects with the typed error otherwise. */
  async wait(): Promise<void> {
    const { error } = await this.exited;
    if (error) throw error;
  }

  /** Stops ffmpeg and resolves once it is gone; an exit caused by this is not an error. */
  async stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = true;
      // ffmpeg blocked writing to a paused pipe never sees SIGTERM's flag; closing our end
      // makes its write fail so it exits either way.
      this.stdout.destroy();
      if (this.child.exitCode === null && this.child.signalCode === null && this.child.pid !== undefined) {
        this.child.kill('SIGTERM');
        const timer = setTimeout(() => this.child.kill('SIGKILL'), this.killTimeoutMs);
        void this.exited.then(() => clearTimeout(timer));
      }
    }
    await this.exited;
  }
}

export function spawnFfmpeg(options: SpawnFfmpegOptions): FfmpegProcess {
  return new FfmpegProcess(options);
}

function spawnError(ffmpegPath: string, err: NodeJS.ErrnoException): VstreamError {
  if (err.code === 'ENOENT') {
    return new FfmpegError(`ffmpeg not found at ${ffmpegPath} (set --ffmpeg or VSTREAM_FFMPEG)`, 'ERR_FFMPEG_NOT_FOUND', '', { cause: err });
  }
  if (err.code === 'EACCES') {
    return new FfmpegError(`ffmpeg at ${ffmpegPath} is not executable`, 'ERR_FFMPEG_NOT_FOUND', '', { cause: err });
  }
  return new FfmpegError(`cannot start ffmpeg (${ffmpegPath}): ${err.message}`, 'ERR_FFMPEG_SPAWN', '', { cause: err });
}

/** Lines ffmpeg prints after the real cause; they never explain anything themselves. */
const GENERIC_LINE = /^(Conversion failed!|Exiting normally|Error opening (input|output) files?|Error while opening encoder|Error initializing output stream|Nothing was written into output file|To ignore this)/i;

/** The stderr line that best explains a failure, without ffmpeg's `@ 0x...` context addresses. */
export function relevantLine(tail: string): string {
  const lines = tail
    .split('\n')
    .map((line) => line.trim().replace(/^\[([^\]@]+?) @ 0x[0-9a-f]+\]\s*/i, '$1: '))
    .filter((line) => line !== '');
  const line = lines.filter((l) => !GENERIC_LINE.test(l)).at(-1) ?? lines.at(-1) ?? '';
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
}

/** Turns ffmpeg's exit and stderr into one typed, one-line error. Pure, for tests. */
export function describeFailure(
  exit: { code: number | null; signal: NodeJS.Signals | null },
  tail: string,
  explain?: FailureExplainer,
): VstreamError {
  const line = relevantLine(tail);
  const detail = line ? `: ${line}` : '';
  const ffmpegError =
    exit.signal !== null
      ? new FfmpegError(`ffmpeg was killed by ${exit.signal}${detail}`, 'ERR_FFMPEG_CRASHED', tail)
      : new FfmpegError(`ffmpeg exited with code ${String(exit.code)}${detail}`, 'ERR_FFMPEG_FAILED', tail);
  return explain?.({ tail, line, detail, cause: { cause: ffmpegError } }) ?? ffmpegError;
}
