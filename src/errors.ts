/**
 * Every failure a user can see is one of these classes. Each carries a string `code` for
 * scripts and tests, and the process exit code the shell sees; `src/cli/handle-error.ts` is
 * the only place that turns one into a message and an exit status.
 */

/** Exit codes, documented in the README. Stable: scripts depend on them. */
export const ExitCode = {
  OK: 0,
  /** An unexpected internal error (a bug). */
  INTERNAL: 1,
  /** Bad command line: unknown option, malformed address, conflicting options. */
  USAGE: 2,
  /** Network: port busy, host unreachable, connection refused or lost. */
  NETWORK: 3,
  /** Source: missing file, folder or camera; unreadable input. */
  SOURCE: 4,
  /** ffmpeg: not found, or it failed or died. */
  FFMPEG: 5,
  /** Protocol: the peer sent something that is not a valid frame stream. */
  PROTOCOL: 6,
  /** Display: no SDL binding or no display for a window. */
  DISPLAY: 7,
  /** Output: a sink could not be written (disk full, closed pipe, ...). */
  OUTPUT: 8,
  /** Interrupted by SIGINT (128 + 2), after the summary. */
  INTERRUPTED: 130,
  /** Terminated by SIGTERM (128 + 15), after the summary. */
  TERMINATED: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export class VstreamError extends Error {
  /** A stable string code, e.g. `ERR_PORT_IN_USE`. */
  readonly code: string;
  readonly exitCode: ExitCode;

  constructor(message: string, code: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCode;
  }
}

export class UsageError extends VstreamError {
  constructor(message: string, code = 'ERR_USAGE') {
    super(message, code, ExitCode.USAGE);
  }
}

export class NetworkError extends VstreamError {
  constructor(message: string, code = 'ERR_NETWORK', options?: { cause?: unknown }) {
    super(message, code, ExitCode.NETWORK, options);
  }
}

export class SourceError extends VstreamError {
  constructor(message: string, code = 'ERR_SOURCE', options?: { cause?: unknown }) {
    super(message, code, ExitCode.SOURCE, options);
  }
}

export class FfmpegError extends VstreamError {
  /** The last lines ffmpeg wrote to stderr, for diagnosis. */
  readonly stderrTail: string;
  constructor(message: string, code = 'ERR_FFMPEG', stderrTail = '', options?: { cause?: unknown }) {
    super(message, code, ExitCode.FFMPEG, options);
    this.stderrTail = stderrTail;
  }
}

/**
 * A frame stream that cannot be parsed. On a receiver it ends only the one connection it
 * came from; the codes are listed in docs/PROTOCOL.md.
 */
export class ProtocolError extends VstreamError {
  constructor(message: string, code = 'ERR_PROTOCOL') {
    super(message, code, ExitCode.PROTOCOL);
  }
}

export class DisplayError extends VstreamError {
  constructor(message: string, code = 'ERR_DISPLAY', options?: { cause?: unknown }) {
    super(message, code, ExitCode.DISPLAY, options);
  }
}

export class OutputError extends VstreamError {
  constructor(message: string, code = 'ERR_OUTPUT', options?: { cause?: unknown }) {
    super(message, code, ExitCode.OUTPUT, options);
  }
}
