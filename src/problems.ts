import type { ErrorCode } from './errors.js';

/**
 * A problem a peer caused that the receiver survived: a frame dropped, a connection refused or
 * closed. Receivers and sinks report them; the CLI counts them and logs at most one line a
 * second per `code` (src/cli/rate-limited-log.ts), so that a flood of bad input cannot flood
 * the terminal.
 */
export interface Problem {
  /** The key the log is rate-limited by. */
  code: ErrorCode;
  /** One line, with any wire text already passed through `wireText`. */
  message: string;
}

export type ProblemReporter = (problem: Problem) => void;
