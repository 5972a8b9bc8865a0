/**
 * How vstream waits for a peer that is not there (yet): an attempt, then 100 ms, doubling up to
 * every 2 s, for as long as `--retry` allows. One schedule for every end that connects out
 * (`send --to`, `recv --connect`, `send --url`), so they behave and read the same.
 */
import { NetworkError } from '../errors.js';

export const FIRST_RETRY_MS = 100;
export const MAX_RETRY_MS = 2000;

/** Codes of a peer that is not there (yet) or went away, rather than of an address that is wrong. */
const RETRYABLE = new Set(['ERR_CONNECTION_REFUSED', 'ERR_CONNECTION_CLOSED', 'ERR_HOST_UNREACHABLE', 'ERR_TIMEOUT']);

export function isRetryable(err: unknown): boolean {
  return err instanceof NetworkError && RETRYABLE.has(err.code);
}

/** The waits of one outage: `next()` until the outage has lasted `retryMs` (0: none; Infinity: forever). */
export class RetrySchedule {
  private delay = FIRST_RETRY_MS;
  private readonly deadline: number;

  constructor(retryMs: number) {
    this.deadline = performance.now() + retryMs;
  }

  /** The wait before the next attempt, or undefined when that attempt would come after the deadline. */
  next(): number | undefined {
    const delay = this.delay;
    if (performance.now() + delay > this.deadline) return undefined;
    this.delay = Math.min(delay * 2, MAX_RETRY_MS);
    return delay;
  }
}
