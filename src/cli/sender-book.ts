import { StreamStats } from '../sink/stream-stats.js';
import type { SenderStats } from '../sink/stats-report.js';
import type { LossCounters, ReceivedFrame } from '../frame/frame.js';
import { wireText } from '../text/wire-text.js';

/**
 * Disconnected senders whose counters are still kept one by one; older ones are folded into
 * the totals. Without a bound, a stream of short connections (or forged UDP stream ids) would
 * grow this book by one entry each for as long as recv runs.
 */
export const MAX_GONE_SENDERS = 256;
/**
 * Entries kept in all, connected or not: a hard bound whatever the order of events. Past it
 * the oldest entry is folded into the totals (its `--stats` line stops).
 */
export const MAX_SENDERS = 1024;

export interface SenderTotals {
  senders: number;
  bytes: number;
  senderDropped: number;
  sinkDropped: number;
  loss?: LossCounters;
}

/** `recv`'s per-sender counters for `--stats`, the window overlay and the exit summary. */
export class SenderBook {
  private readonly entries = new Map<number, SenderStats>();
  /** Connection ids of entries whose sender has gone, oldest first. */
  private readonly gone = new Set<number>();
  private readonly folded: SenderTotals = { senders: 0, bytes: 0, senderDropped: 0, sinkDropped: 0 };

  /** The frame's sender's entry, created on its first frame, with the frame recorded. */
  record(frame: ReceivedFrame): SenderStats {
    let entry = this.entries.get(frame.connectionId);
    if (!entry) {
      // A TCP `disconnect` can come before the connection's last queued frames: then the
      // sender is gone already, and its entry must be foldable like any other gone one.
      entry = { sender: '', stats: new StreamStats(), connected: !this.gone.has(frame.connectionId) };
      this.entries.set(frame.connectionId, entry);
      for (const id of this.entries.keys()) {
        if (this.entries.size <= MAX_SENDERS) break;
        this.fold(id);
      }
    }
    // A fresh, short string: the label from the wire may be 60 KB, and a slice of it would
    // keep all of it (and the metadata it came from) alive for as long as the entry.
    entry.sender = wireText(frame.sender);
    entry.stats.record(frame);
    return entry;
  }

  /** A frame of this sender that a sink dropped (counted once however many sinks dropped it). */
  countDropped(frame: ReceivedFrame): void {
    const entry = this.entries.get(frame.connectionId);
    // A sender folded away already still counts in the totals.
    if (entry) entry.stats.sinkDropped += 1;
    else this.folded.sinkDropped += 1;
  }

  get(connectionId: number): SenderStats | undefined {
    return this.entries.get(connectionId);
  }

  /** The sender left; its final loss counters, when the transport has them. */
  markGone(connectionId: number, loss?: LossCounters): void {
    const entry = this.entries.get(connectionId);
    if (entry) {
      if (loss) entry.stats.loss = loss;
      entry.connected = false;
    }
    this.gone.add(connectionId);
    for (const id of this.gone) {
      if (this.gone.size <= MAX_GONE_SENDERS) break;
      this.fold(id);
    }
  }

  /** Entries of senders still connected, for `--stats`. */
  *connected(): Iterable<SenderStats> {
    for (const entry of this.entries.values()) if (entry.connected) yield entry;
  }

  totals(): SenderTotals {
    const sum: SenderTotals = { ...this.folded, ...(this.folded.loss && { loss: { ...this.folded.loss } }) };
    for (const entry of this.entries.values()) add(sum, entry);
    return sum;
  }

  private fold(connectionId: number): void {
    const entry = this.entries.get(connectionId);
    // Kept while the entry is, so that a late frame of a folded-away sender is not news.
    if (!entry) {
      this.gone.delete(connectionId);
      return;
    }
    this.gone.delete(connectionId);
    this.entries.delete(connectionId);
    add(this.folded, entry);
  }
}

function add(sum: SenderTotals, { stats }: SenderStats): void {
  sum.senders += 1;
  sum.bytes += stats.bytes;
  sum.senderDropped += stats.senderDropped;
  sum.sinkDropped += stats.sinkDropped;
  if (stats.loss) {
    sum.loss ??= { framesReceived: 0, framesDropped: 0, datagramsLost: 0 };
    sum.loss.framesReceived += stats.loss.framesReceived;
    sum.loss.framesDropped += stats.loss.framesDropped;
    sum.loss.datagramsLost += stats.loss.datagramsLost;
  }
}
