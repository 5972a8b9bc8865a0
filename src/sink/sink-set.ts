import { NewestWinsQueue } from '../flow/newest-wins-queue.js';
import type { ReceivedFrame } from '../frame/frame.js';
import type { FrameSink } from './types.js';

/**
 * Frames that are not live waiting for one sink from which `write` waits: such frames are never
 * dropped, so a sink that falls behind on them must pause the senders (TCP backpressure).
 */
export const WAITING_FRAMES = 2;
/**
 * Bytes waiting for one sink from which `write` waits, live frames included. A live frame waits
 * once per sender, so without this a slow sink would hold a frame of every camera at once.
 */
export const WAITING_BYTES = 32 * 1024 * 1024;

export interface SinkDrop {
  sink: FrameSink;
  frame: ReceivedFrame;
  /**
   * No sink had dropped this frame before. A frame counts once as dropped here however many
   * sinks let it go: the count says how many of the frames received did not all get through.
   */
  first: boolean;
}

export interface SinkSetOptions {
  /** A sink let go of a frame: a newer live frame of its sender replaced it, or the sink dropped it itself. */
  onDrop?: (drop: SinkDrop) => void;
  /** Every sink is done with the frame, written or dropped: a stop-and-wait sender may send the next. */
  onSettled?: (frame: ReceivedFrame) => void;
  /** Default `WAITING_FRAMES`. */
  waitingFrames?: number;
  /** Default `WAITING_BYTES`. */
  waitingBytes?: number;
  /**
   * Frames of one live sender that may wait for one sink; past that the newest replaces the
   * last. Default 1: a live frame replaces its sender's waiting frame. More absorbs a sink that
   * is slow for a moment, for a transport whose receiver keeps a few frames per sender for the
   * same reason (UDP, which cannot pause a sender).
   */
  liveDepth?: number;
  /**
   * Every frame handed over reaches every sink, live or not: a sink behind pauses `write`
   * instead of letting a live frame be replaced. For `recv --frames N`, whose N frames must all
   * be written; newer live frames are then replaced in the receiver's queue, before they count.
   */
  everyFrame?: boolean;
}

/** One sink and the frames waiting for it, per sender in arrival order. */
interface Lane {
  sink: FrameSink;
  queue: NewestWinsQueue<number, ReceivedFrame>;
  /**
   * Frames waiting that are not live. Counted here rather than by the queue's `highWater`,
   * which counts live frames too: a slow sink holding one frame of each of several cameras
   * must not pause them all.
   */
  steady: number;
  /** Senders gone whose frames still wait for this sink: the sink hears of it after their last one. */
  gone: Set<number>;
  /** The frame the sink is writing now. */
  writing?: ReceivedFrame | undefined;
}

/**
 * `recv`'s sinks, side by side: each frame is handed over once and goes to every sink through
 * the sink's own queue, so a slow `--output` never holds back the window or `--save-dir`.
 *
 * A live frame takes the place of its sender's frame still waiting for that sink (newest frame
 * wins, see NewestWinsQueue; with `liveDepth`, of the last of that many). Any other frame waits, and once one sink has `waitingFrames` of
 * them (or `waitingBytes` of any) waiting, `write` resolves only when that sink has taken one:
 * the caller stops reading and the senders are paused, exactly as a slow sink did on its own.
 *
 * A sink's failure (a reader that went away, a full disk) is kept: `write`, `flush` and `ended`
 * reject with it, so it ends `recv` whether or not frames are still coming.
 */
export class SinkSet {
  /** Resolves when a sink ended on its own (the user closed the window); rejects when one failed. */
  readonly ended: Promise<void>;
  private resolveEnded!: () => void;
  private rejectEnded!: (error: unknown) => void;
  private readonly lanes: Lane[];
  /** Per frame handed over and not settled: the sinks still to write or drop it. */
  private readonly remaining = new Map<ReceivedFrame, number>();
  /** Frames some sink dropped already, so that the others' drops of them are not counted again. */
  private readonly dropped = new WeakSet<ReceivedFrame>();
  private readonly waitingFrames: number;
  private readonly waitingBytes: number;
  private readonly liveDepth: number;
  private failure: { error: unknown } | undefined;
  private closed = false;
  /** `write` waiting for room. */
  private room: Waiter | undefined;
  /** `flush` calls waiting for every frame to settle. */
  private readonly idle: Waiter[] = [];

  constructor(
    sinks: readonly FrameSink[],
    private readonly options: SinkSetOptions = {},
  ) {
    this.waitingFrames = options.waitingFrames ?? WAITING_FRAMES;
    this.waitingBytes = options.waitingBytes ?? WAITING_BYTES;
    this.liveDepth = Math.max(1, options.liveDepth ?? 1);
    this.ended = new Promise((resolve, reject) => {
      this.resolveEnded = resolve;
      this.rejectEnded = reject;
    });
    // A caller that only ever writes and closes must not die of an unhandled rejection.
    this.ended.catch(() => {});
    this.lanes = sinks.map((sink) => this.laneFor(sink));
    for (const lane of this.lanes) {
      lane.sink.reportDropsTo?.((frame) => this.countDrop(lane.sink, frame));
      lane.sink.ended?.then(
        () => this.resolveEnded(),
        (error: unknown) => this.fail(error),
      );
      void this.pump(lane);
    }
  }

  /** Whether a sink may let this frame go for a newer one of its sender. */
  private isLive(frame: ReceivedFrame): boolean {
    return this.options.everyFrame !== true && frame.meta?.live === true;
  }

  /** Frames handed over that not every sink has written or dropped yet. */
  get holding(): number {
    return this.remaining.size;
  }

  /**
   * Hands `frame` to every sink. Resolves at once unless a sink has too much waiting: then when
   * it has room again. Rejects with a sink's failure.
   */
  async write(frame: ReceivedFrame): Promise<void> {
    this.throwIfFailed();
    if (this.closed) return;
    if (this.lanes.length === 0) {
      this.options.onSettled?.(frame);
      return;
    }
    const live = this.isLive(frame);
    this.remaining.set(frame, this.lanes.length);
    for (const lane of this.lanes) {
      // Counted before the push: a sink waiting for a frame takes it inside push().
      if (!live) lane.steady += 1;
      // Only the newest waiting frame of a sender is ever replaced, so its frames stay in order.
      const replaceable = live && lane.queue.waiting(frame.connectionId) >= this.liveDepth - 1;
      lane.queue.push(frame.connectionId, frame, { live: replaceable, bytes: frame.data.length });
    }
    while (this.crowded() && !this.closed) {
      await new Promise<void>((resolve, reject) => (this.room = { resolve, reject }));
    }
  }

  /** Resolves once every frame handed over is written or dropped by every sink; rejects with a sink's failure. */
  flush(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.remaining.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.idle.push({ resolve, reject }));
  }

  /**
   * The sender disconnected. Each sink is told once it has written or dropped that sender's
   * frames still waiting for it: a sink that finishes a file per sender finishes it whole.
   */
  senderGone(connectionId: number): void {
    for (const lane of this.lanes) {
      if (lane.queue.waiting(connectionId) > 0 || lane.writing?.connectionId === connectionId) lane.gone.add(connectionId);
      else this.tellGone(lane, connectionId);
    }
  }

  /**
   * Lets go of what still waits (after `flush` nothing does, unless a signal or a failure cut
   * it short) and closes every sink. A write still running is not waited for: a reader that
   * stopped reading must not hold the exit.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const lane of this.lanes) lane.queue.close();
    this.wakeWriter();
    await Promise.all(this.lanes.map((lane) => lane.sink.close()));
  }

  private tellGone(lane: Lane, connectionId: number): void {
    lane.gone.delete(connectionId);
    lane.queue.forgetKey(connectionId);
    lane.sink.senderGone?.(connectionId);
  }

  private laneFor(sink: FrameSink): Lane {
    const lane: Lane = {
      sink,
      steady: 0,
      gone: new Set(),
      queue: new NewestWinsQueue<number, ReceivedFrame>({
        onTake: (_, frame) => {
          if (!this.isLive(frame)) lane.steady -= 1;
          this.wakeWriter();
        },
        // Only a live frame is ever dropped here, replaced by its sender's next one.
        onDrop: (_, frame) => {
          this.countDrop(sink, frame);
          this.settle(frame);
          this.wakeWriter();
        },
      }),
    };
    return lane;
  }

  private async pump(lane: Lane): Promise<void> {
    for (;;) {
      // A sink that writes at once (the window) is back waiting in the same run, so the next
      // frame is handed straight to it rather than waiting where a newer one could replace it.
      let frame = lane.queue.shift();
      if (!frame) {
        const next = await lane.queue.next();
        if (next.done) return;
        frame = next.value;
      }
      lane.writing = frame;
      try {
        const written = lane.sink.write(frame);
        if (written) await written;
      } catch (error) {
        // Nothing more goes to a sink that failed.
        lane.queue.close();
        this.fail(error);
        return;
      } finally {
        lane.writing = undefined;
      }
      this.settle(frame);
      if (lane.gone.has(frame.connectionId) && lane.queue.waiting(frame.connectionId) === 0) this.tellGone(lane, frame.connectionId);
    }
  }

  private countDrop(sink: FrameSink, frame: ReceivedFrame): void {
    const first = !this.dropped.has(frame);
    this.dropped.add(frame);
    this.options.onDrop?.({ sink, frame, first });
  }

  private settle(frame: ReceivedFrame): void {
    const left = (this.remaining.get(frame) ?? 0) - 1;
    if (left > 0) {
      this.remaining.set(frame, left);
      return;
    }
    this.remaining.delete(frame);
    this.options.onSettled?.(frame);
    if (this.remaining.size === 0) for (const waiter of this.idle.splice(0)) waiter.resolve();
  }

  private crowded(): boolean {
    return this.lanes.some((lane) => lane.steady >= this.waitingFrames || lane.queue.bytes > this.waitingBytes);
  }

  private wakeWriter(): void {
    if (!this.room || (this.crowded() && !this.closed)) return;
    const { resolve } = this.room;
    this.room = undefined;
    resolve();
  }

  private fail(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.rejectEnded(error);
    const waiters = [...this.idle.splice(0), ...(this.room ? [this.room] : [])];
    this.room = undefined;
    for (const waiter of waiters) waiter.reject(error);
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.error;
  }
}

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}
