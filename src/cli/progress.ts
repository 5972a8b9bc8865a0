/**
 * The progress line of a transfer that ends (`send --dir`, `send --file`): frames done of the
 * total, the rate and the time left, redrawn in place on a terminal's stderr and gone before
 * anything else is printed there. Nothing at all when stderr is not a terminal: a log or a
 * script reading stderr gets lines, never carriage returns.
 */

/** Four redraws a second: fast enough to look alive, rare enough to cost nothing. */
export const REDRAW_INTERVAL_MS = 250;
/** The rate is measured over the last few seconds, so the time left follows a change of pace. */
const RATE_WINDOW_MS = 5000;
/** Return to the line's start, erase to its end (ECMA-48 EL). */
const ERASE_LINE = '\r\x1b[K';

/** The part of stderr the line needs. */
export interface TerminalStream {
  readonly isTTY?: boolean;
  readonly columns?: number;
  write(text: string): boolean;
}

export interface ProgressOptions {
  stream: TerminalStream;
  /** Frames the transfer will send; undefined (or a promise of it) when unknown: then done and rate only. */
  total: Promise<number | undefined> | number | undefined;
  /** Frames done so far; read at each redraw. */
  done: () => number;
  /** Milliseconds on a monotonic clock. */
  now?: () => number;
  intervalMs?: number;
}

export interface ProgressState {
  done: number;
  total?: number | undefined;
  /** Frames per second, once measurable. */
  rate?: number | undefined;
}

/** `vstream: 12/40 frames (30%), 24.0 frames/s, 2 s left`; without a total, `vstream: 12 frames, 24.0 frames/s`. */
export function progressText({ done, total, rate }: ProgressState): string {
  // An estimated total (a file's duration times its rate) can be passed: never show 41/40.
  const known = total === undefined ? undefined : Math.max(total, done);
  const parts = [known === undefined ? `vstream: ${done} frames` : `vstream: ${done}/${known} frames (${Math.floor((100 * done) / Math.max(1, known))}%)`];
  if (rate !== undefined) {
    parts.push(`${rate.toFixed(1)} frames/s`);
    if (known !== undefined && rate > 0) parts.push(`${formatDuration((known - done) / rate)} left`);
  }
  return parts.join(', ');
}

/** `45 s`, `3 min 05 s`, `2 h 07 min`. */
export function formatDuration(seconds: number): string {
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
}

export class ProgressLine {
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private total: number | undefined;
  /** (time, done) pairs of the last RATE_WINDOW_MS, oldest first. */
  private readonly samples: Array<[number, number]> = [];
  /** What is on the terminal now, '' once erased. */
  private shown = '';
  private stopped = false;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? (() => performance.now());
    const { total } = options;
    if (total instanceof Promise) {
      total.then((value) => (this.total = value)).catch(() => {});
    } else {
      this.total = total;
    }
    this.timer = setInterval(() => this.draw(), options.intervalMs ?? REDRAW_INTERVAL_MS);
    // The line never keeps a finished transfer's process alive.
    this.timer.unref();
  }

  /** Erases the line, for a message to take its place; the next redraw puts it back below. */
  clear(): void {
    if (this.shown === '') return;
    this.options.stream.write(ERASE_LINE);
    this.shown = '';
  }

  /** Erases the line for good. */
  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
    this.clear();
  }

  /** Redraws now (the timer calls this). */
  draw(): void {
    if (this.stopped) return;
    const text = this.fit(progressText(this.state()));
    if (text === this.shown) return;
    this.options.stream.write(`${ERASE_LINE}${text}`);
    this.shown = text;
  }

  private state(): ProgressState {
    const now = this.now();
    const done = this.options.done();
    // Measured from the first frame on: the time to connect or to start ffmpeg is no rate.
    if (done === 0) return { done, total: this.total };
    this.samples.push([now, done]);
    while (this.samples.length > 2 && now - this.samples[1]![0] >= RATE_WINDOW_MS) this.samples.shift();
    const [since, doneThen] = this.samples[0]!;
    const elapsed = (now - since) / 1000;
    const rate = this.samples.length > 1 && elapsed > 0 ? (done - doneThen) / elapsed : undefined;
    return { done, total: this.total, rate };
  }

  /** A line wider than the terminal wraps, and `\r` then redraws only its last row. */
  private fit(text: string): string {
    const columns = this.options.stream.columns;
    return columns !== undefined && columns > 1 && text.length >= columns ? text.slice(0, columns - 1) : text;
  }
}

/**
 * A progress line on `stream` when it is a terminal and the source can count its frames
 * (has `total`); undefined otherwise, and when `quiet`.
 */
export function startProgress(
  stream: TerminalStream,
  source: { total?(): Promise<number | undefined> },
  { quiet, limit, done }: { quiet: boolean | undefined; limit: number | undefined; done: () => number },
): ProgressLine | undefined {
  if (quiet || stream.isTTY !== true || !source.total) return undefined;
  const total = source.total().then((count) => (limit === undefined ? count : Math.min(count ?? limit, limit)));
  return new ProgressLine({ stream, total, done });
}
