/**
 * The reply to a frame that asks for acknowledgement (`ack` in its metadata): one line,
 * `ACK <stream> <seq>\n`, written by the receiver once the frame is through every sink. The
 * sender keeps frames until they are acknowledged and sends the unacknowledged ones again after
 * a reconnect. Layout in docs/PROTOCOL.md ("Resumable transfers").
 */
import { isStreamId, MAX_STREAM_ID_LENGTH } from './metadata.js';
import type { FrameMeta } from './frame.js';

const PREFIX = Buffer.from('ACK ', 'latin1');
const NEWLINE = 0x0a;
/** `ACK ` + the longest stream id + a space + the largest safe integer (16 digits). */
export const MAX_ACK_LINE = PREFIX.length + MAX_STREAM_ID_LENGTH + 1 + 16;
const LINE = /^ACK ([0-9A-Za-z_-]{1,64}) (0|[1-9][0-9]{0,15})$/;

/** The stream and seq a frame asks to be acknowledged by, or undefined when it does not ask. */
export function ackRequest(meta: FrameMeta | undefined): { stream: string; seq: number } | undefined {
  if (meta?.ack !== true || !isStreamId(meta.stream)) return undefined;
  return { stream: meta.stream, seq: meta.seq };
}

/** The reply to a frame that asks (see `ackRequest`), or undefined for one that does not. */
export function ackReplyFor(meta: FrameMeta | undefined): Buffer | undefined {
  const request = ackRequest(meta);
  return request && Buffer.from(`ACK ${request.stream} ${request.seq}\n`, 'latin1');
}

export interface AckListener {
  /** The receiver acknowledged every frame of the stream up to `seq`. */
  acknowledged(seq: number): void;
  /** The receiver replied something else: it does not acknowledge this way. */
  foreign(): void;
}

/**
 * Reads a receiver's replies as ACK lines of one stream. A state machine over bytes holding at
 * most one line (MAX_ACK_LINE): the first byte that cannot be part of such a line (a reference
 * receiver's `OK`, another stream's id, a line too long) makes the replies foreign, and the
 * rest is ignored.
 */
export class AckReplyParser {
  private readonly line = Buffer.alloc(MAX_ACK_LINE);
  private length = 0;
  private isForeign = false;

  constructor(
    private readonly stream: string,
    private readonly listener: AckListener,
  ) {}

  get foreign(): boolean {
    return this.isForeign;
  }

  push(chunk: Buffer): void {
    for (let i = 0; i < chunk.length && !this.isForeign; i++) {
      const byte = chunk[i]!;
      if (byte === NEWLINE) {
        this.endLine();
        continue;
      }
      if (this.length === MAX_ACK_LINE || (this.length < PREFIX.length && byte !== PREFIX[this.length])) {
        this.giveUp();
        return;
      }
      this.line[this.length++] = byte;
    }
  }

  private endLine(): void {
    const match = LINE.exec(this.line.toString('latin1', 0, this.length));
    this.length = 0;
    const seq = match ? Number(match[2]) : NaN;
    if (!match || match[1] !== this.stream || !Number.isSafeInteger(seq)) {
      this.giveUp();
      return;
    }
    this.listener.acknowledged(seq);
  }

  private giveUp(): void {
    this.isForeign = true;
    this.listener.foreign();
  }
}
