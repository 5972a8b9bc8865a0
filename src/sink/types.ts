import type { ReceivedFrame } from '../frame/frame.js';
import type { ReceivedMessage } from '../frame/message.js';

/** Told of each frame a sink let go of without writing or showing it. */
export type DropListener = (frame: ReceivedFrame) => void;

/**
 * Where received frames go. `write` may return a promise to push back on the receiver (a slow
 * disk pauses the senders' sockets rather than queueing frames in memory).
 */
export interface FrameSink {
  write(frame: ReceivedFrame): void | Promise<void>;
  /**
   * Where to report the frames the sink drops itself (a frame it cannot decode, one a newer
   * frame replaced on screen), also after `write` returned: each counts as dropped here.
   */
  reportDropsTo?(listener: DropListener): void;
  /** A message that is not a frame (legacy UDP's JSON): for sinks that print it; the others leave it out. */
  message?(message: ReceivedMessage): void;
  /** The sender of these frames disconnected. */
  senderGone?(connectionId: number): void;
  /**
   * For a sink that can end on its own: resolves when it has nothing more to do (the user
   * closed the last window), rejects when it failed outside a `write`. Either ends `recv`.
   */
  readonly ended?: Promise<void>;
  /** Flushes and releases the sink. */
  close(): Promise<void>;
}
