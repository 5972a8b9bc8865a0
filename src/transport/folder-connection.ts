/**
 * A TCP connection that turned out to carry a folder transfer (see FolderParser): the socket,
 * the quiet timer and the replies around the pure parser, and each file as a frame named by
 * it. It stands in for the connection's TcpFrameParser (same `push` and byte counts), so the
 * receiver's budget, queue, pausing and limits apply to it unchanged.
 */
import type { Socket } from 'node:net';
import { FolderParser, type FolderFile, type FolderOutput } from '../reassemble/folder-parser.js';
import type { FrameMeta } from '../frame/frame.js';
import type { ProtocolError, VstreamError } from '../errors.js';
import { HEADER_SIZE, tlsRecordAt } from '../frame/header.js';

/**
 * How long the client must send nothing for a message to count as complete. The reference
 * client sends a message in one call and then waits, so its bytes come within microseconds;
 * every message it waits on costs this once.
 */
export const DEFAULT_QUIET_MS = 50;
const REPLY = Buffer.from('ok');

/**
 * Whether the first bytes of a connection open a folder transfer rather than a frame: a frame
 * header starts with a digit, a space or a NUL and has no `|` in its 16 bytes; the first
 * message `jpg|holiday` has one.
 */
export function opensFolderTransfer(first: Buffer): boolean {
  const byte = first[0];
  if (byte === undefined || byte === 0x00 || byte === 0x20 || (byte >= 0x30 && byte <= 0x39)) return false;
  // A TLS record (an end with a shared secret) is the frame parser's to name.
  if (tlsRecordAt(first) !== undefined) return false;
  const head = first.subarray(0, HEADER_SIZE);
  return head.length < HEADER_SIZE || head.includes(0x7c);
}

export interface FolderConnectionOptions {
  maxFileBytes: number;
  /** Runs on each announced file size; throwing refuses the file (the connection fails). */
  onHeader?: (size: number) => void;
  /** The connection failed outside `push` (a message judged when the client went quiet). */
  fail: (error: VstreamError) => void;
  quietMs?: number;
}

export class FolderConnection {
  /** Read as a frame stream's end marker: a folder transfer ends with `over` instead. */
  readonly ended = false;
  private readonly parser: FolderParser;
  private timer: NodeJS.Timeout | undefined;
  private onFrame: ((data: Buffer, meta: FrameMeta) => void) | undefined;
  /** Replies owed, written together once the bytes at hand are parsed. */
  private replies = 0;
  private readonly out: FolderOutput = {
    reply: () => {
      this.replies += 1;
    },
    file: (file) => this.onFrame?.(file.data, folderFileMeta(file)),
  };
  private readonly quietMs: number;

  constructor(
    private readonly socket: Socket,
    private readonly options: FolderConnectionOptions,
  ) {
    this.parser = new FolderParser({ maxFileBytes: options.maxFileBytes, ...(options.onHeader && { onHeader: options.onHeader }) });
    this.quietMs = options.quietMs ?? DEFAULT_QUIET_MS;
    socket.once('close', () => clearTimeout(this.timer));
  }

  /** As TcpFrameParser.push: each file received whole is handed to `onFrame` with its metadata. */
  push(chunk: Buffer, onFrame: (data: Buffer, meta: FrameMeta) => void): void {
    this.onFrame = onFrame;
    try {
      this.parser.push(chunk, this.out);
    } finally {
      this.flush();
    }
    this.arm();
  }

  get pendingBytes(): number {
    return this.parser.pendingBytes;
  }

  get frameBytes(): number {
    return this.parser.frameBytes;
  }

  get retainedBytes(): number {
    return this.parser.retainedBytes;
  }

  /** Why a connection that closed now lost data (inside a message or a file), else undefined. */
  truncation(): ProtocolError | undefined {
    return this.parser.truncation();
  }

  private flush(): void {
    if (this.replies > 0 && this.socket.writable) this.socket.write(this.replies === 1 ? REPLY : Buffer.concat(Array(this.replies).fill(REPLY)));
    this.replies = 0;
  }

  private arm(): void {
    clearTimeout(this.timer);
    this.timer = this.parser.waitsForQuiet && !this.socket.destroyed ? setTimeout(() => this.quiet(), this.quietMs) : undefined;
  }

  private quiet(): void {
    // Bytes the receiver has not read (paused for its consumer or budget) are not silence.
    if (this.socket.isPaused()) {
      this.arm();
      return;
    }
    try {
      this.parser.quiet(this.out);
    } catch (err) {
      this.replies = 0;
      this.options.fail(err as VstreamError);
      return;
    } finally {
      this.flush();
    }
    this.arm();
  }
}

/**
 * A received file as a frame's metadata: named by the file, labelled by the folder (so that
 * `--save-dir` puts it in `DIR/<dirname>/`), numbered in its connection, and marked with the
 * source type, which also says that its bytes are the file's own.
 */
export function folderFileMeta(file: FolderFile): FrameMeta {
  return { seq: file.index, captureTime: file.startedAt, label: file.dirname, name: file.name, sourceType: file.sourceType };
}
