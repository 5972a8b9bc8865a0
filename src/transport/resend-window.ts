/**
 * The frames of a transfer that were sent but not yet acknowledged, kept so that they can be
 * sent again after a reconnect. Bounded in frames and bytes: when full, the sender waits for
 * acknowledgements (backpressure), except before the first one: a window filled before any
 * acknowledgement came means a receiver that does not acknowledge (a reference program, an
 * older vstream), and the window gives up keeping frames ('plain') rather than hold the sender.
 */
import type { Frame } from '../frame/frame.js';
import type { SendOptions } from './types.js';

/** Frames kept at most. */
export const DEFAULT_WINDOW_FRAMES = 1024;
/** Bytes of frames kept at most. */
export const DEFAULT_WINDOW_BYTES = 64 * 1024 * 1024;

/**
 * `undecided`: keeping frames, no acknowledgement seen yet; `acknowledging`: the receiver
 * acknowledges, a cut is resumed; `plain`: nothing is kept, as with any receiver before.
 */
export type WindowMode = 'undecided' | 'acknowledging' | 'plain';

export interface KeptFrame {
  seq: number;
  frame: Frame | Buffer;
  options: SendOptions;
  bytes: number;
}

export interface WindowLimits {
  maxFrames?: number;
  maxBytes?: number;
}

export class ResendWindow {
  readonly maxFrames: number;
  readonly maxBytes: number;
  private current: WindowMode = 'undecided';
  /** By seq, in the order sent (seqs only grow). */
  private readonly kept = new Map<number, KeptFrame>();
  private keptBytes = 0;
  private waiters: (() => void)[] = [];

  constructor(limits: WindowLimits = {}) {
    this.maxFrames = Math.max(1, limits.maxFrames ?? DEFAULT_WINDOW_FRAMES);
    this.maxBytes = Math.max(1, limits.maxBytes ?? DEFAULT_WINDOW_BYTES);
  }

  get mode(): WindowMode {
    return this.current;
  }

  /** Frames are kept (not plain). */
  get keeping(): boolean {
    return this.current !== 'plain';
  }

  /** Frames kept now. */
  get size(): number {
    return this.kept.size;
  }

  /** Bytes of the frames kept now. */
  get bytes(): number {
    return this.keptBytes;
  }

  /** Whether a frame of `bytes` can be kept now; an empty window takes any one frame. */
  hasRoom(bytes: number): boolean {
    if (this.kept.size === 0) return true;
    return this.kept.size < this.maxFrames && this.keptBytes + bytes <= this.maxBytes;
  }

  /** Keeps a frame about to be sent; ignored when plain, and for a seq not above the last kept. */
  keep(frame: KeptFrame): void {
    if (!this.keeping || this.kept.has(frame.seq)) return;
    this.kept.set(frame.seq, frame);
    this.keptBytes += frame.bytes;
  }

  /** Whether the frame of `seq` is still kept (not acknowledged). */
  has(seq: number): boolean {
    return this.kept.has(seq);
  }

  /** The frames kept, lowest seq first: what a new connection is sent first. */
  frames(): KeptFrame[] {
    return [...this.kept.values()];
  }

  /**
   * The receiver acknowledged `seq`, hence every frame before it (it saves a stream's frames in
   * order): they are let go.
   */
  acknowledged(seq: number): void {
    if (this.current === 'plain') return;
    this.current = 'acknowledging';
    for (const [kept, frame] of this.kept) {
      if (kept > seq) break;
      this.kept.delete(kept);
      this.keptBytes -= frame.bytes;
    }
    this.wake();
  }

  /** Stops keeping frames, for good: the receiver does not acknowledge. */
  plain(): void {
    this.current = 'plain';
    this.kept.clear();
    this.keptBytes = 0;
    this.wake();
  }

  /** Resolves at the next acknowledgement, mode change or `wake()`. */
  changed(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Wakes whoever waits in `changed()` (the connection was lost, the sender closed). */
  wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
