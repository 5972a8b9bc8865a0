/**
 * What every receiver does with its senders once their bytes are frames, whatever the
 * transport. Like ws's WebSocketServer handing each socket to its own WebSocket: the transport
 * turns bytes into frames and tells the core that a sender began (`open`), completed a frame
 * (`frame`) or ended (`end`); the core numbers the senders, emits `connection` and
 * `disconnect`, replies with the ack text, holds the frames for the one consumer in a
 * NewestWinsQueue (the project's one live-drop policy), pauses senders the consumer cannot keep
 * up with, and ends the iteration on close.
 */
import type { EventEmitter } from 'node:events';
import { NewestWinsQueue, type DropReason } from '../flow/newest-wins-queue.js';
import { receivedFrame, type SenderState } from '../frame/received-frame.js';
import type { FrameMeta, LossCounters, ReceivedFrame } from '../frame/frame.js';
import type { VstreamError } from '../errors.js';
import type { ReceiverEvents } from './types.js';

/**
 * Frames of one sender held for a consumer behind: TCP pauses the sender past this, UDP drops its
 * oldest. Sinks keep as many of a UDP stream's live frames for the same reason.
 */
export const DEFAULT_MAX_QUEUED_FRAMES = 8;
/** Bytes of frames held for the consumer over all UDP senders, which cannot be paused. */
export const DEFAULT_MAX_QUEUED_BYTES = 32 * 1024 * 1024;

/** What the core needs of one connection or stream: a way to answer it and to hold it back. */
export interface SenderLink {
  /** Sends the ack text back (best effort); `asked`: a reply the frame itself asked for, owed whatever the ack mode. */
  reply(ack: Buffer, asked?: boolean): void;
  /** Stops reading from it until `resume` (transports that can push back: TCP). */
  pause?(): void;
  resume?(): void;
  /** Closes it (a connection of its own: TCP); the transport then calls `end`. */
  close?(): void;
}

/** One sender as the core keeps it; transports extend it with their own state. */
export interface CoreSender extends SenderState {
  readonly link: SenderLink;
  /** Frames completed. */
  completed: number;
  /** Frames the consumer has taken. */
  delivered: number;
  /** Frames dropped from the queue before the consumer took them (not counting replaced live frames). */
  discarded: number;
  /** Frames taken and waiting for `acknowledge` (`ackWhen: 'manual'`). */
  unacknowledged: number;
}

export interface ReceiverCoreOptions<S extends CoreSender> {
  /** Where `connection`, `disconnect` and `problem` go: the receiver the transport exposes. */
  events: EventEmitter<ReceiverEvents>;
  ack?: Buffer;
  ackWhen?: 'received' | 'manual';
  /** Frames waiting from which a sender that sent a frame that is not live is paused. */
  highWater?: number;
  /** Frames of one sender waiting; one more drops its oldest (for transports that cannot pause). */
  perSender?: number;
  /** Bytes waiting over all senders; more drops the oldest. */
  maxBytes?: number;
  /** A live frame takes the place of its sender's waiting frame. */
  liveReplaces: boolean;
  /**
   * When `disconnect` is emitted: `'at-end'` as the transport ends the sender; `'after-delivery'`
   * once the consumer has taken (and finished with) its last frame, so the counters it carries
   * are final. `maxLeaving` bounds the senders that ended and still wait: past it the oldest one's
   * frames are dropped, since a sender can start and end in two datagrams.
   */
  disconnect: 'at-end' | { afterDelivery: true; maxLeaving: number };
  /** What `disconnect` reports of a sender: its frame count and, for datagrams, its loss. */
  summary(sender: S): { frames: number; loss?: LossCounters };
  /** The queue's bytes changed (a frame was queued, replaced, taken or dropped). */
  onQueueChanged?(): void;
  /** Whether a sender paused for the consumer must stay paused for a reason of the transport's. */
  holdBack?(): boolean;
  /**
   * A reply of the frame's own, sent instead of `ack` when it is acknowledged (or received,
   * with `ackWhen: 'received'`), even without `ack`: a frame that asks for one. Such a frame
   * dropped before the consumer took it gets none, so that its sender sends it again.
   */
  frameReply?(frame: ReceivedFrame): Buffer | undefined;
}

export class ReceiverCore<S extends CoreSender> {
  private readonly senders = new Map<number, S>();
  private readonly queue: NewestWinsQueue<S, ReceivedFrame>;
  /** Frames taken and not acknowledged yet, and whose sender they are (`ackWhen: 'manual'`). */
  private readonly awaitingAck = new WeakMap<ReceivedFrame, S>();
  /** Paused because the queue is full; resumed when it drains. */
  private readonly paused = new Set<S>();
  /** Ended, waiting for the consumer to take their frames (`disconnect: afterDelivery`), oldest first. */
  private readonly leaving = new Map<S, VstreamError | undefined>();
  /** The sender of the frame the consumer is working on. */
  private inHand: S | undefined;
  private nextConnectionId = 1;
  private discardedCount = 0;
  private closingPromise: Promise<void> | undefined;

  constructor(private readonly options: ReceiverCoreOptions<S>) {
    this.queue = new NewestWinsQueue<S, ReceivedFrame>({
      ...(options.highWater !== undefined && { highWater: options.highWater }),
      ...(options.perSender !== undefined && { perKey: options.perSender }),
      ...(options.maxBytes !== undefined && { maxBytes: options.maxBytes }),
      onDrop: (sender, frame, reason) => this.dropped(sender, frame, reason),
      onTake: (sender, frame, droppedBefore) => this.taken(sender, frame, droppedBefore),
      onDrain: () => this.resumeIfRoom(),
      onNext: () => {
        this.inHand = undefined;
        this.reportGone();
      },
    });
  }

  /** True from `close()` on. */
  get closing(): boolean {
    return this.closingPromise !== undefined;
  }

  /** Frames waiting for the consumer. */
  get queued(): number {
    return this.queue.length;
  }

  /** Bytes of the frames waiting for the consumer. */
  get queuedBytes(): number {
    return this.queue.bytes;
  }

  /** Frames dropped from the queue before the consumer took them, all senders together. */
  get framesDiscarded(): number {
    return this.discardedCount;
  }

  /** Senders open now. */
  get size(): number {
    return this.senders.size;
  }

  /** Senders known now, in the order they were opened (with `afterDelivery`, ended ones until their `disconnect`). */
  openSenders(): IterableIterator<S> {
    return this.senders.values();
  }

  /** A new sender's identity and counters, to spread into the transport's own record. */
  newSender(peer: string, link: SenderLink): CoreSender {
    return { connectionId: this.nextConnectionId++, peer, link, completed: 0, delivered: 0, discarded: 0, unacknowledged: 0 };
  }

  /** A sender began: it is a connection from now on. */
  open(sender: S): void {
    this.senders.set(sender.connectionId, sender);
    this.options.events.emit('connection', { connectionId: sender.connectionId, peer: sender.peer });
  }

  get(connectionId: number): S | undefined {
    return this.senders.get(connectionId);
  }

  /**
   * A sender completed a frame: it is replied to (`ackWhen: 'received'`) and queued; a sender
   * whose frame finds the queue full is paused. `meta`: what the transport knows of the frame
   * itself, instead of the payload's metadata segment.
   */
  frame(sender: S, data: Buffer, fallbackSeq: number, loss?: LossCounters, meta?: FrameMeta): ReceivedFrame {
    const frame = receivedFrame(data, sender, fallbackSeq, loss, meta);
    sender.completed += 1;
    if (this.options.ackWhen !== 'manual') this.reply(sender, frame);
    const live = this.options.liveReplaces && frame.meta?.live === true;
    // A live stream is never paused for the frame count: TCP would queue seconds of stale
    // video in the socket buffers. Its newer frame takes the waiting one's place instead.
    const room = this.queue.push(sender, frame, { live, bytes: data.length });
    this.options.onQueueChanged?.();
    if (!room && !live) this.pause(sender);
    return frame;
  }

  /** Replies to the frame's sender (with `ackWhen: 'manual'`), once per frame; a no-op without `ack`. */
  acknowledge(frame: ReceivedFrame): void {
    const sender = this.awaitingAck.get(frame);
    if (!sender) return;
    this.awaitingAck.delete(frame);
    sender.unacknowledged -= 1;
    this.reply(sender, frame);
  }

  /** Whether the receiver holds the sender up: it waits for the consumer, not the other way round. */
  holdsUp(sender: S): boolean {
    return this.paused.has(sender) || sender.unacknowledged > 0 || this.queue.waiting(sender) > 0;
  }

  /** Forgets a sender at once (it no longer counts against a limit); `end` still reports it. */
  remove(sender: S): void {
    this.senders.delete(sender.connectionId);
    this.paused.delete(sender);
  }

  /**
   * The sender is gone; `error` says why, if it was not a clean end. Waiting for delivery, it
   * stays known (`get`, `openSenders`) until its `disconnect`.
   */
  end(sender: S, error?: VstreamError): void {
    this.paused.delete(sender);
    const disconnect = this.options.disconnect;
    if (disconnect === 'at-end') {
      this.remove(sender);
      this.queue.forgetKey(sender);
      this.emitDisconnect(sender, error);
      return;
    }
    this.leaving.set(sender, error);
    if (!this.closing && this.leaving.size > disconnect.maxLeaving) this.queue.discard(this.leaving.keys().next().value!);
    this.reportGone();
  }

  isPaused(sender: S): boolean {
    return this.paused.has(sender);
  }

  /** Pauses a sender until the consumer has caught up. */
  pause(sender: S): void {
    sender.link.pause?.();
    this.paused.add(sender);
  }

  /** Pauses every sender (the transport ran out of room for frames). */
  pauseAll(): void {
    for (const sender of this.senders.values()) this.pause(sender);
  }

  /** Resumes the paused senders, unless the queue or the transport still has no room. */
  resumeIfRoom(): void {
    if (this.queue.full || this.options.holdBack?.()) return;
    for (const sender of this.paused) sender.link.resume?.();
    this.paused.clear();
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    return this.queue[Symbol.asyncIterator]();
  }

  /**
   * Stops: `stopTransport` stops accepting (its synchronous part runs first), every sender with
   * a connection of its own is closed, and once the transport has stopped (ending its senders)
   * those still waiting for delivery are reported gone; the iteration ends after the queued frames.
   */
  close(stopTransport: () => Promise<void>): Promise<void> {
    this.closingPromise ??= (async () => {
      const stopped = stopTransport();
      for (const sender of this.senders.values()) sender.link.close?.();
      await stopped;
      this.reportGone(true);
      this.queue.end();
    })();
    return this.closingPromise;
  }

  private reply(sender: S, frame?: ReceivedFrame): void {
    const asked = frame && this.options.frameReply?.(frame);
    const text = asked ?? this.options.ack;
    if (text === undefined || this.closing) return;
    sender.link.reply(text, asked !== undefined);
  }

  private dropped(sender: S, frame: ReceivedFrame, reason: DropReason): void {
    if (reason === 'replaced') return;
    this.options.onQueueChanged?.();
    sender.discarded += 1;
    this.discardedCount += 1;
    // Nobody will acknowledge it now, and a stop-and-wait sender waits for a reply. A replaced
    // live frame needs none: the reply to the frame that replaced it answers for both.
    if (this.options.ackWhen === 'manual' && this.options.frameReply?.(frame) === undefined) this.reply(sender);
  }

  private taken(sender: S, frame: ReceivedFrame, droppedBefore: number): ReceivedFrame {
    sender.delivered += 1;
    this.inHand = sender;
    // The frames dropped here are gaps in seq too; this says the receiver made them. The same
    // object is kept: it is the key of its pending reply.
    if (droppedBefore > 0) frame.droppedBefore = droppedBefore;
    if (this.options.ackWhen === 'manual' && (this.options.ack !== undefined || this.options.frameReply?.(frame) !== undefined)) {
      sender.unacknowledged += 1;
      this.awaitingAck.set(frame, sender);
    }
    this.options.onQueueChanged?.();
    return frame;
  }

  /** Emits `disconnect` for ended senders whose frames the consumer has all taken and finished. */
  private reportGone(all = false): void {
    for (const [sender, error] of this.leaving) {
      if (!all && (this.queue.waiting(sender) > 0 || this.inHand === sender)) continue;
      this.leaving.delete(sender);
      this.remove(sender);
      this.queue.forgetKey(sender);
      this.emitDisconnect(sender, error);
    }
  }

  private emitDisconnect(sender: S, error: VstreamError | undefined): void {
    const { frames, loss } = this.options.summary(sender);
    this.options.events.emit('disconnect', {
      connectionId: sender.connectionId,
      peer: sender.peer,
      frames,
      ...(loss && { loss }),
      ...(error && { error }),
    });
  }
}

/** Loss counters of a datagram sender: the reassembler's, with the frames the queue dropped moved from received to dropped. */
export function lossAfterQueue(counters: LossCounters | undefined, sender: CoreSender): LossCounters {
  return {
    framesReceived: (counters?.framesReceived ?? 0) - sender.discarded,
    framesDropped: (counters?.framesDropped ?? 0) + sender.discarded,
    datagramsLost: counters?.datagramsLost ?? 0,
  };
}
