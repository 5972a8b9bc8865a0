/**
 * Every failure a user can see is one of these classes. Each carries a `code` for scripts and
 * tests, and the process exit code the shell sees; `src/cli/handle-error.ts` is the only place
 * that turns one into a message and an exit status.
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
  /** Authentication: the peer does not hold the shared secret (`--secret-file`), or this end has none and the peer asks for one. */
  AUTH: 9,
  /** Interrupted by SIGINT (128 + 2), after the summary. */
  INTERRUPTED: 130,
  /** Terminated by SIGTERM (128 + 15), after the summary. */
  TERMINATED: 143,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Which class, hence which exit code, a code belongs to. */
export type ErrorKind = 'usage' | 'network' | 'source' | 'ffmpeg' | 'protocol' | 'display' | 'output' | 'auth';

export const EXIT_CODE_OF_KIND = {
  usage: ExitCode.USAGE,
  network: ExitCode.NETWORK,
  source: ExitCode.SOURCE,
  ffmpeg: ExitCode.FFMPEG,
  protocol: ExitCode.PROTOCOL,
  display: ExitCode.DISPLAY,
  output: ExitCode.OUTPUT,
  auth: ExitCode.AUTH,
} as const satisfies Record<ErrorKind, ExitCode>;

/**
 * Every code there is, and its kind. The one list: a code cannot mean two exit codes, and a
 * class given another class's code does not compile. Codes are stable (scripts match on them);
 * the peer-caused ones are listed in docs/PROTOCOL.md. Some are only ever reported as problems
 * (src/problems.ts), never thrown: their kind says whose fault they would be.
 */
export const ERROR_CODES = {
  ERR_USAGE: 'usage',
  ERR_BAD_ADDRESS: 'usage',
  ERR_BAD_FPS: 'usage',
  ERR_BAD_PACKET_SIZE: 'usage',
  ERR_BAD_PORT: 'usage',
  ERR_BAD_QUALITY: 'usage',
  ERR_BAD_SOURCE: 'usage',
  ERR_BAD_SIZE: 'usage',
  ERR_NO_RAW_ENCODER: 'usage',
  /** A frame of the sender's own source that the UDP format cannot carry at this packet size. */
  ERR_UDP_FRAME_TOO_LARGE: 'usage',

  ERR_NETWORK: 'network',
  ERR_ACK_TIMEOUT: 'network',
  ERR_BAD_BIND: 'network',
  ERR_BUDGET: 'network',
  ERR_CONNECTION_CLOSED: 'network',
  ERR_CONNECTION_REFUSED: 'network',
  ERR_HOST_NOT_FOUND: 'network',
  ERR_HOST_UNREACHABLE: 'network',
  ERR_IDLE_TIMEOUT: 'network',
  ERR_PORT_DENIED: 'network',
  ERR_PORT_IN_USE: 'network',
  ERR_REPLACED: 'network',
  ERR_STALLED: 'network',
  ERR_STREAM_SILENT: 'network',
  ERR_TIMEOUT: 'network',
  ERR_TOO_MANY_CONNECTIONS: 'network',

  ERR_SOURCE: 'source',
  ERR_CAMERA_BUSY: 'source',
  ERR_CAMERA_NOT_FOUND: 'source',
  ERR_NO_SCREEN: 'source',
  ERR_DIR_EMPTY: 'source',
  ERR_DIR_NOT_FOUND: 'source',
  ERR_DIR_UNREADABLE: 'source',
  ERR_ENCODE: 'source',
  ERR_FILE_NOT_FOUND: 'source',
  ERR_FILE_UNREADABLE: 'source',
  ERR_IMAGE_UNREADABLE: 'source',
  ERR_NO_VIDEO: 'source',
  ERR_NOT_A_DIR: 'source',
  ERR_NOT_A_FILE: 'source',
  ERR_NOT_MJPEG: 'source',
  ERR_PERMISSION_DENIED: 'source',
  ERR_SOURCE_READ: 'source',
  /** An MJPEG input (stdin, ffmpeg) with a frame over its limit: not the receiver's ERR_FRAME_TOO_LARGE. */
  ERR_SOURCE_FRAME_TOO_LARGE: 'source',
  /** An MJPEG input that ended inside a frame: not a connection's ERR_TRUNCATED_FRAME. */
  ERR_SOURCE_TRUNCATED_FRAME: 'source',
  ERR_Y4M: 'source',

  ERR_FFMPEG: 'ffmpeg',
  ERR_FFMPEG_BROKEN: 'ffmpeg',
  ERR_FFMPEG_CRASHED: 'ffmpeg',
  ERR_FFMPEG_FAILED: 'ffmpeg',
  ERR_FFMPEG_NOT_FOUND: 'ffmpeg',
  ERR_FFMPEG_SPAWN: 'ffmpeg',

  ERR_PROTOCOL: 'protocol',
  ERR_BAD_HEADER: 'protocol',
  ERR_BAD_JPEG: 'protocol',
  ERR_EMPTY_FRAME: 'protocol',
  ERR_FRAME_TOO_LARGE: 'protocol',
  ERR_JPEG_TOO_MANY_SCANS: 'protocol',
  ERR_NOT_JPEG: 'protocol',
  ERR_PIXEL_LIMIT: 'protocol',
  ERR_TOO_MANY_SENDERS: 'protocol',
  ERR_TRUNCATED_FRAME: 'protocol',
  ERR_UDP_END: 'protocol',
  ERR_UDP_HEADER: 'protocol',
  ERR_UDP_MAGIC: 'protocol',
  ERR_UDP_SHORT: 'protocol',
  ERR_UDP_TYPE: 'protocol',
  ERR_UDP_VERSION: 'protocol',
  ERR_UDP_WINDOW: 'protocol',

  ERR_DISPLAY: 'display',
  ERR_NO_DISPLAY: 'display',
  ERR_NO_SDL: 'display',
  ERR_TOO_MANY_WINDOWS: 'display',
  ERR_WINDOW: 'display',

  ERR_OUTPUT: 'output',
  ERR_DISK_FULL: 'output',
  ERR_OUTPUT_CLOSED: 'output',
  ERR_SAVE_NAME: 'output',

  // send --listen: one source, many viewers.
  ERR_TOO_MANY_VIEWERS: 'network',
  // The folder transfer (`fmt|dirname`, `size|name`, data, `continue`/`over`).
  ERR_FOLDER_MESSAGE: 'protocol',
  ERR_FOLDER_NAME_TOO_LONG: 'protocol',
  ERR_FOLDER_FILE_TOO_LARGE: 'protocol',
  ERR_FOLDER_TRUNCATED: 'protocol',
  ERR_FOLDER_NO_REPLY: 'network',
  // Replies (acks): a sender that leaves them unread.
  ERR_REPLIES_UNREAD: 'network',
  // Legacy UDP: why an image of the reference programs' format was dropped.
  ERR_LEGACY_INCOMPLETE: 'protocol',
  ERR_LEGACY_OVERFLOW: 'protocol',
  ERR_LEGACY_NOT_IMAGE: 'protocol',
  ERR_LEGACY_NO_LENGTH: 'protocol',
  ERR_LEGACY_BAD_LENGTH: 'protocol',
  // Video by name (send --serve, recv --request).
  /** A client named a video the server does not play (outside its folder, missing, not a file). */
  ERR_BAD_REQUEST: 'protocol',
  /** The server answered a request with something other than `True`. */
  ERR_REQUEST_REFUSED: 'source',
  // Camera formats (--camera-format): the format asked for is not one the camera gives.
  ERR_CAMERA_FORMAT: 'source',
  // Recording (recv --record).
  /** The recordings reached --record-max-bytes. */
  ERR_RECORD_LIMIT: 'output',
  // send --url: a camera's or server's stream over HTTP, RTSP and the like.
  ERR_BAD_URL: 'usage',
  /** The server answered 404 or 410: nothing at that address. */
  ERR_URL_NOT_FOUND: 'source',
  /** The server answered 401 or 403: a user and password are missing or wrong. */
  ERR_URL_UNAUTHORIZED: 'source',
  /** Another answer than 2xx (after redirects). */
  ERR_URL_HTTP_STATUS: 'source',
  /** The answer is a web page or text, or nothing ffmpeg reads as video. */
  ERR_URL_NOT_A_STREAM: 'source',
  /** A multipart/x-mixed-replace body that cannot be cut into parts (no boundary, endless headers, no JPEGs). */
  ERR_MULTIPART: 'source',
  // Shared secrets (--secret-file, VSTREAM_SECRET, --secret).
  /** A secret file that cannot be read, or a secret too short to be one. */
  ERR_SECRET: 'usage',
  /** The peer failed the shared-secret handshake (wrong or no secret), or asked for one this end does not have. */
  ERR_AUTH: 'auth',
  // UDP with a shared secret: datagrams dropped before reassembly (docs/PROTOCOL.md, "Shared secret: UDP").
  /** A plain datagram at a receiver with a secret: the sender has none. */
  ERR_UDP_UNSEALED: 'auth',
  /** A sealed datagram whose tag does not verify: a wrong secret, or altered or made up on the way. */
  ERR_UDP_FORGED: 'auth',
  /** A sealed datagram already received, or older than the replay window. */
  ERR_UDP_REPLAYED: 'auth',
  /** A sealed datagram at a receiver without a secret. */
  ERR_UDP_SEALED: 'auth',
} as const satisfies Record<`ERR_${string}`, ErrorKind>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes of one kind. */
export type CodeOfKind<K extends ErrorKind> = { [C in ErrorCode]: (typeof ERROR_CODES)[C] extends K ? C : never }[ErrorCode];
export type UsageCode = CodeOfKind<'usage'>;
export type NetworkCode = CodeOfKind<'network'>;
export type SourceCode = CodeOfKind<'source'>;
export type FfmpegCode = CodeOfKind<'ffmpeg'>;
export type ProtocolCode = CodeOfKind<'protocol'>;
export type DisplayCode = CodeOfKind<'display'>;
export type OutputCode = CodeOfKind<'output'>;
export type AuthCode = CodeOfKind<'auth'>;

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** The exit status a failure with this code ends the process with. */
export function exitCodeOf(code: ErrorCode): ExitCode {
  return EXIT_CODE_OF_KIND[ERROR_CODES[code]];
}

export class VstreamError extends Error {
  /** A stable code, e.g. `ERR_PORT_IN_USE`. */
  readonly code: ErrorCode;
  /** Always `exitCodeOf(code)`: derived, so that a code and its exit code cannot disagree. */
  readonly exitCode: ExitCode;

  constructor(message: string, code: ErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.exitCode = exitCodeOf(code);
  }
}

export class UsageError extends VstreamError {
  declare readonly code: UsageCode;
  constructor(message: string, code: UsageCode = 'ERR_USAGE') {
    super(message, code);
  }
}

export class NetworkError extends VstreamError {
  declare readonly code: NetworkCode;
  constructor(message: string, code: NetworkCode = 'ERR_NETWORK', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

export class SourceError extends VstreamError {
  declare readonly code: SourceCode;
  constructor(message: string, code: SourceCode = 'ERR_SOURCE', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

export class FfmpegError extends VstreamError {
  declare readonly code: FfmpegCode;
  /** The last lines ffmpeg wrote to stderr, for diagnosis. */
  readonly stderrTail: string;
  constructor(message: string, code: FfmpegCode = 'ERR_FFMPEG', stderrTail = '', options?: { cause?: unknown }) {
    super(message, code, options);
    this.stderrTail = stderrTail;
  }
}

/**
 * A frame stream that cannot be parsed. On a receiver it ends only the one connection it
 * came from; the codes are listed in docs/PROTOCOL.md.
 */
export class ProtocolError extends VstreamError {
  declare readonly code: ProtocolCode;
  constructor(message: string, code: ProtocolCode = 'ERR_PROTOCOL') {
    super(message, code);
  }
}

/** A peer that does not hold the shared secret, or one that asks for a secret this end lacks. */
export class AuthError extends VstreamError {
  declare readonly code: AuthCode;
  constructor(message: string, code: AuthCode = 'ERR_AUTH', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

export class DisplayError extends VstreamError {
  declare readonly code: DisplayCode;
  constructor(message: string, code: DisplayCode = 'ERR_DISPLAY', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}

export class OutputError extends VstreamError {
  declare readonly code: OutputCode;
  constructor(message: string, code: OutputCode = 'ERR_OUTPUT', options?: { cause?: unknown }) {
    super(message, code, options);
  }
}
