import type { Frame, FrameMeta } from './frame.js';

/** What a sender stamps on each frame besides what the frame itself says. */
export interface FrameMetaOptions {
  /** False: the frame travels without metadata. Default true. */
  metadata?: boolean;
  /** The sender's frame counter for this frame. */
  seq: number;
  /** The sender's `--label`. */
  label?: string;
  /** The frame comes from a live source: receivers may drop it in favour of a newer one. */
  live?: boolean;
  /** The sender waits for a reply after each frame: a receiver replies to it from the first frame. */
  waitAck?: boolean;
  /** The sending run's id, for a transfer that keeps frames until they are acknowledged. */
  stream?: string;
  /** Ask the receiver to acknowledge this frame by stream and seq (needs `stream`). */
  ack?: boolean;
}

/**
 * The metadata a frame carries, or undefined when metadata is switched off. One function for
 * every transport, so that a receiver reads the same fields whatever carried them. A bare
 * buffer has no capture time or name of its own: it is stamped with now.
 */
export function frameMeta(frame: Frame | Buffer, options: FrameMetaOptions): FrameMeta | undefined {
  if (options.metadata === false) return undefined;
  const own: Pick<Frame, 'captureTime' | 'name'> = Buffer.isBuffer(frame) ? {} : frame;
  return {
    seq: options.seq,
    captureTime: own.captureTime ?? performance.timeOrigin + performance.now(),
    ...(options.label !== undefined && { label: options.label }),
    ...(own.name !== undefined && { name: own.name }),
    ...(options.live === true && { live: true }),
    ...(options.waitAck === true && { waitsForReply: true }),
    ...(options.stream !== undefined && { stream: options.stream, ...(options.ack === true && { ack: true }) }),
  };
}
