import type { ErrorCode } from '../errors.js';

/** One window of the limit: a flood of bad input must not become a flood of log lines. */
export const LOG_INTERVAL_MS = 1000;

interface Kind {
  windowStart: number;
  /** Lines printed in the current window. */
  printed: number;
  /** Reports of this kind not printed yet, and the newest of them. */
  unprinted: number;
  latest?: string;
  total: number;
}

/**
 * Logs reports keyed by their code: up to `burst` lines a second per code are printed at once
 * (1 for problems); the rest of that second's are counted and printed as one line when it is
 * over (`N more (ERR_X) in the last 1.0 s, the latest: ...`). `close()` prints what is still
 * counted; `totals()` feeds the exit summary. Keyed by problems' error codes unless told
 * otherwise: connection lines have their own keys, which are no error.
 */
export class RateLimitedLog<Key extends string = ErrorCode> {
  private readonly kinds = new Map<Key, Kind>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly write: (line: string) => void,
    private readonly options: { burst?: number; intervalMs?: number; now?: () => number; showCode?: boolean } = {},
  ) {
    this.timer = setInterval(() => this.catchUp(), this.intervalMs);
    // Logging must never be what keeps the process alive.
    this.timer.unref();
  }

  report(problem: { code: Key; message: string }): void {
    const now = this.now();
    let kind = this.kinds.get(problem.code);
    if (!kind) {
      kind = { windowStart: now, printed: 0, unprinted: 0, total: 0 };
      this.kinds.set(problem.code, kind);
    }
    kind.total += 1;
    if (now - kind.windowStart >= this.intervalMs) this.newWindow(problem.code, kind, now);
    if (kind.printed < (this.options.burst ?? 1)) {
      kind.printed += 1;
      this.write(this.line(problem.message, problem.code));
      return;
    }
    kind.unprinted += 1;
    kind.latest = problem.message;
  }

  /** Reports per code since the start, for the summary. */
  totals(): Map<Key, number> {
    return new Map([...this.kinds].map(([code, kind]) => [code, kind.total]));
  }

  /** Prints every count still pending and stops the timer. */
  close(): void {
    clearInterval(this.timer);
    for (const [code, kind] of this.kinds) this.printCount(code, kind);
  }

  private get intervalMs(): number {
    return this.options.intervalMs ?? LOG_INTERVAL_MS;
  }

  private now(): number {
    return this.options.now?.() ?? performance.now();
  }

  private catchUp(): void {
    const now = this.now();
    for (const [code, kind] of this.kinds) {
      if (now - kind.windowStart >= this.intervalMs) this.newWindow(code, kind, now);
    }
  }

  /** The window is over: its count is printed, and counts as the new window's first line. */
  private newWindow(code: Key, kind: Kind, now: number): void {
    const had = kind.unprinted;
    const span = now - kind.windowStart;
    this.printCount(code, kind, span);
    kind.windowStart = now;
    kind.printed = had > 0 ? 1 : 0;
  }

  private printCount(code: Key, kind: Kind, spanMs?: number): void {
    if (kind.unprinted === 0) return;
    const line =
      kind.unprinted === 1
        ? this.line(kind.latest!, code)
        : `${kind.unprinted} more (${code})${spanMs === undefined ? '' : ` in the last ${(spanMs / 1000).toFixed(1)} s`}, the latest: ${kind.latest}`;
    kind.unprinted = 0;
    kind.latest = undefined;
    this.write(line);
  }

  private line(message: string, code: string): string {
    return this.options.showCode === false ? message : `${message} (${code})`;
  }
}
