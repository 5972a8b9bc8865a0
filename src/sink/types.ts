import type { ReceivedFrame } from '../frame/frame.js';
import type { StreamStats } from './stream-stats.js';

/**
 * Where received frames go. `write` may return a promise to push back on the receiver (a slow
 * disk pauses the senders' sockets rather than queueing frames in memory).
 */
export interface FrameSink {
  write(frame: ReceivedFrame, stats: StreamStats): void | Promise<void>;
  /** The sender of these frames disconnected. */
  senderGone?(connectionId: number): void;
  /** Flushes and releases the sink. */
  close(): Promise<void>;
}
