/**
 * Frames a resuming sender sent again after a cut (src/transport/reconnecting-sender.ts) that
 * this run has handed to the sinks already: same stream id, a seq not above the last one handed
 * on. They are not handed on again, but they are acknowledged, once the first copy is through
 * every sink, so the sender can let them go. Bounded: the last seq of at most MAX_STREAMS
 * streams, and at most MAX_HELD copies waiting for their first copy to settle (past that a copy
 * is acknowledged at once).
 */
import { ackRequest } from '../frame/ack-reply.js';
import type { ReceivedFrame } from '../frame/frame.js';

export const MAX_STREAMS = 1024;
export const MAX_HELD = 256;
const EMPTY = Buffer.alloc(0);

interface StreamProgress {
  /** Highest seq handed to the sinks. */
  handed: number;
  /** Highest seq through every sink (frames of a stream settle in the order handed). */
  settled: number;
}

export class ResentFrames {
  private readonly streams = new Map<string, StreamProgress>();
  private held: { stream: string; seq: number; frame: ReceivedFrame }[] = [];
  private count = 0;

  constructor(private readonly acknowledge: (frame: ReceivedFrame) => void) {}

  /** Copies not handed on again. */
  get skipped(): number {
    return this.count;
  }

  /**
   * True for a copy of a frame handed on already: it is acknowledged (now, or once its first
   * copy is through the sinks) and must not be handed on. False for any other frame, which is
   * noted as handed on.
   */
  isResent(frame: ReceivedFrame): boolean {
    const request = ackRequest(frame.meta);
    if (!request) return false;
    const { stream, seq } = request;
    const progress = this.streams.get(stream);
    if (progress === undefined || seq > progress.handed) {
      this.streams.delete(stream);
      if (this.streams.size >= MAX_STREAMS) this.streams.delete(this.streams.keys().next().value as string);
      this.streams.set(stream, { handed: seq, settled: progress?.settled ?? -1 });
      return false;
    }
    this.count += 1;
    if (seq <= progress.settled || this.held.length >= MAX_HELD) {
      this.acknowledge(frame);
    } else {
      // A copy is never written, only answered: its bytes need not wait with it.
      frame.data = EMPTY;
      this.held.push({ stream, seq, frame });
    }
    return true;
  }

  /** Every sink is done with `frame`: copies of it (or of earlier frames) held are acknowledged. */
  settled(frame: ReceivedFrame): void {
    const request = ackRequest(frame.meta);
    if (!request) return;
    const progress = this.streams.get(request.stream);
    if (progress && request.seq > progress.settled) progress.settled = request.seq;
    if (this.held.length === 0) return;
    const ready = this.held.filter((copy) => copy.stream === request.stream && copy.seq <= request.seq);
    if (ready.length === 0) return;
    this.held = this.held.filter((copy) => !ready.includes(copy));
    for (const copy of ready) this.acknowledge(copy.frame);
  }
}
