import type { LossCounters, ReceivedFrame } from '../frame/frame.js';

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with `captureTime`. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** An hour at 30 fps: a bigger gap in `seq` is not counted as dropped frames. */
const MAX_COUNTED_GAP = 108_000;

/**
 * Counters for one sender's stream, shared by `--stats`, `--json`, the window overlay and the
 * exit summary so that they never disagree.
 *
 * Drops are counted from gaps in the sender's sequence numbers: a vstream sender numbers every
 * captured frame, including the ones it dropped because the network was slower than capture.
 */
export class StreamStats {
  frames = 0;
  bytes = 0;
  /** Frames the sender captured but never sent (sequence gaps). */
  senderDropped = 0;
  /**
   * Frames dropped here: skipped by the receiver or a sink because a newer one of this live
   * stream arrived first, or dropped by a sink that could not use them (undecodable, too large).
   */
  sinkDropped = 0;
  /**
   * UDP only: the transport's loss counters as of the latest frame (or final, once the stream
   * ended). Their dropped frames are also gaps in `seq`, so they are part of `senderDropped`
   * too; these say how many of the gaps the network (or a slow consumer here) caused.
   */
  loss: LossCounters | undefined;
  readonly startedAt = nowMs();
  private lastSeq: number | undefined;
  private readonly recent: number[] = [];
  private latencies: number[] = [];

  /** Records a frame; returns its capture-to-receive latency in ms when known. */
  record(frame: ReceivedFrame, now = frame.receivedAt): number | undefined {
    this.frames += 1;
    this.bytes += frame.data.length;
    if (frame.loss) this.loss = frame.loss;
    // Frames the receiver replaced (live stream, consumer behind) are gaps in seq too, but
    // they were dropped here, not by the sender.
    const droppedHere = frame.droppedBefore ?? 0;
    this.sinkDropped += droppedHere;
    // A jump further than any real outage is a restart or a forged number, not that many drops.
    if (frame.meta && this.lastSeq !== undefined && frame.seq > this.lastSeq + 1 && frame.seq - this.lastSeq <= MAX_COUNTED_GAP) {
      this.senderDropped += Math.max(0, frame.seq - this.lastSeq - 1 - droppedHere);
    }
    this.lastSeq = frame.seq;
    this.recent.push(now);
    while (this.recent.length > 0 && this.recent[0]! < now - 1000) this.recent.shift();
    if (frame.meta === undefined) return undefined;
    const latency = now - frame.meta.captureTime;
    // Bounded: one second of samples at most is kept for the percentiles of a stats line.
    if (this.latencies.length < 10_000) this.latencies.push(latency);
    return latency;
  }

  /** Frames per second over the last second. */
  fps(now = nowMs()): number {
    while (this.recent.length > 0 && this.recent[0]! < now - 1000) this.recent.shift();
    return this.recent.length;
  }

  get dropped(): number {
    return this.senderDropped + this.sinkDropped;
  }

  /** Latency median and 99th percentile of the samples since the last call, then resets them. */
  takeLatency(): { p50: number; p99: number } | undefined {
    if (this.latencies.length === 0) return undefined;
    const sorted = this.latencies.sort((a, b) => a - b);
    this.latencies = [];
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
    return { p50: at(0.5), p99: at(0.99) };
  }
}
