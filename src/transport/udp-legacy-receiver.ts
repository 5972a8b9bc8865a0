/**
 * The receiving end of the reference UDP programs' format (docs/PROTOCOL.md, "Legacy UDP"):
 * a socket, the pure LegacyUdpReassembler that turns its datagrams into whole images, and the
 * receiver core that hands them to the consumer and replies.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { ProtocolError, UsageError } from '../errors.js';
import { DEFAULT_LEGACY_MAX_FRAME_BYTES, LegacyUdpReassembler, type LegacySender, type LegacySourceState } from '../reassemble/legacy-udp-reassembler.js';
import { bindUdp, datagramPeer, DatagramReplies, DEFAULT_UDP_SILENCE_MS } from './udp-socket.js';
import { CoreReceiver } from './core-receiver.js';
import { DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_FRAMES, lossAfterQueue, ReceiverCore, type CoreSender } from './receiver-core.js';
import type { Receiver } from './types.js';
import type { LossCounters } from '../frame/frame.js';

export { DEFAULT_LEGACY_MAX_FRAME_BYTES };
/** The reference servers reply after every image; the reference clients ignore the text. */
export const DEFAULT_LEGACY_REPLY = 'OK';

export interface LegacyUdpReceiverOptions {
  /** UDP port; 0 picks a free one (see `receiver.port`). */
  port: number;
  /** Address to bind. Default: every IPv4 and IPv6 address on one socket. */
  host?: string;
  /** Largest image accepted; a length datagram announcing more is not taken for one. Default 16 MiB. */
  maxFrameBytes?: number;
  /** An incomplete image is abandoned after this long without a datagram from its sender (ms). Default 1000. */
  maxAgeMs?: number;
  /** The text sent back after each image. Default "OK"; null: no reply at all (`--ack-mode never`). */
  reply?: string | Buffer | null;
  /**
   * When the reply to a delivered image is sent: `'received'` (default) once it is complete;
   * `'manual'` when `acknowledge(frame)` is called, so that a stop-and-wait sender never gets
   * ahead of the consumer. Images not delivered are replied to without it (docs/PROTOCOL.md).
   */
  ackWhen?: 'received' | 'manual';
  /** A sender silent this long is reported gone with a `disconnect` event (ms). Default 5000. */
  idleTimeoutMs?: number;
  /**
   * Senders tracked at once. One more replaces the longest silent that has delivered no image,
   * else one silent for 2 s; if every sender is delivering, the newcomer is ignored. Default 64.
   */
  maxSources?: number;
  /** Bytes of incomplete images held over all senders, each piece counted as its payload + 256. Default 4 x maxFrameBytes. */
  maxPendingBytes?: number;
  /** Frames of one sender held for a slow consumer; one more drops its oldest (UDP cannot push back). Default 8. */
  maxQueuedFrames?: number;
  /** Bytes of frames held for a slow consumer, all senders together; more drops the oldest. Default 32 MiB. */
  maxQueuedBytes?: number;
}

interface Source extends CoreSender {
  key: string;
  /** The reassembler's counters for it, as of its latest image or its end. */
  counters: LossCounters;
}

/**
 * Any number of legacy UDP senders on one port, kept apart by source address, yielding their
 * images as an async iterator (newest kept when the consumer is slow), and their JSON
 * datagrams as `message` events (replied to at once, never queued as frames).
 *
 * Every image a sender starts gets exactly one reply, delivered or not, because the reference
 * client blocks in `recvfrom` until it has one: an image with a lost piece is replied to when
 * its sender falls silent (`maxAgeMs`), so the sender goes on with the next image. A sender is
 * a connection from its first whole image on.
 */
export class LegacyUdpReceiver extends CoreReceiver<Source> implements Receiver {
  private readonly reassembler: LegacyUdpReassembler;
  protected readonly core: ReceiverCore<Source>;
  /** Senders that have delivered an image, by the reassembler's key. */
  private readonly sources = new Map<string, Source>();
  private readonly replies: DatagramReplies;
  private readonly reply: Buffer | undefined;
  private readonly idleTimeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private dropped = 0;
  private messageCount = 0;

  private constructor(
    private readonly socket: Socket,
    options: LegacyUdpReceiverOptions,
  ) {
    super();
    this.reassembler = new LegacyUdpReassembler({
      ...(options.maxFrameBytes !== undefined && { maxFrameBytes: options.maxFrameBytes }),
      ...(options.maxAgeMs !== undefined && { maxAgeMs: options.maxAgeMs }),
      ...(options.maxSources !== undefined && { maxSources: options.maxSources }),
      ...(options.maxPendingBytes !== undefined && { maxPendingBytes: options.maxPendingBytes }),
    });
    this.reply = options.reply === null ? undefined : Buffer.from(options.reply ?? DEFAULT_LEGACY_REPLY);
    this.replies = new DatagramReplies(socket);
    this.idleTimeoutMs = Math.max(options.idleTimeoutMs ?? DEFAULT_UDP_SILENCE_MS, this.reassembler.maxAgeMs);
    this.core = new ReceiverCore<Source>({
      events: this,
      ...(this.reply && { ack: this.reply }),
      ...(options.ackWhen !== undefined && { ackWhen: options.ackWhen }),
      // UDP cannot slow a sender down: the queue is bounded and drops the oldest instead.
      perSender: options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
      maxBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      liveReplaces: false,
      disconnect: 'at-end',
      // As over vstream UDP: a frame the consumer never got was dropped, not received.
      summary: (source) => {
        const loss = lossAfterQueue(source.counters, source);
        return { frames: loss.framesReceived, loss };
      },
    });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Unconnected UDP sockets get no ICMP errors; what is left (ENOBUFS, ...) costs at most a datagram.
    socket.on('error', () => {});
    // Silence is the only end-of-image and end-of-stream signal the legacy format has.
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(this.reassembler.maxAgeMs, this.idleTimeoutMs) / 4));
    this.sweeper.unref();
  }

  /** Binds the port. Fails with a NetworkError: ERR_PORT_IN_USE, ERR_BAD_BIND, ... */
  static async listen(options: LegacyUdpReceiverOptions): Promise<LegacyUdpReceiver> {
    for (const key of ['maxFrameBytes', 'maxAgeMs', 'idleTimeoutMs', 'maxSources', 'maxPendingBytes', 'maxQueuedFrames', 'maxQueuedBytes'] as const) {
      const value = options[key];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) {
        throw new UsageError(`${key} must be a positive integer, got ${value}`);
      }
    }
    const socket = await bindUdp({ port: options.port, ...(options.host !== undefined && { host: options.host }) });
    return new LegacyUdpReceiver(socket, options);
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.socket.address().port;
  }

  /** Whole frames dropped because the consumer was slower than the senders (also in their `framesDropped`). */
  get framesDiscarded(): number {
    return this.core.framesDiscarded;
  }

  /** Senders forgotten before delivering an image: never a `connection`, so never a `disconnect`. */
  get sourcesDropped(): number {
    return this.dropped;
  }

  /** JSON messages received (each a `message` event, replied to like an image). */
  get messagesReceived(): number {
    return this.messageCount;
  }

  /** Datagrams of new senders ignored because every slot held a sender delivering images. */
  get refusedDatagrams(): number {
    return this.reassembler.refusedDatagrams;
  }

  /** Bytes charged for incomplete images, over all senders (at most `maxPendingBytes`). */
  get bufferedBytes(): number {
    return this.reassembler.pendingBytes;
  }

  /** Stops receiving, reports every sender gone, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    return this.core.close(async () => {
      clearInterval(this.sweeper);
      // A send to an address leaves a tick later: closing at once would swallow the reply to
      // the last frame (`recv --frames N`), and a reference client would wait for it forever.
      await this.replies.flushed();
      await new Promise<void>((resolve) => this.socket.close(() => resolve()));
      for (const state of this.reassembler.forgetAll()) this.gone(state);
    });
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.core.closing) return;
    const sender: LegacySender = { address: rinfo.address, port: rinfo.port, peer: datagramPeer(rinfo) };
    const result = this.reassembler.push(msg, sender, performance.now());
    if (result.refused) this.emit('problem', result.refused);
    if (result.replaced) {
      const many = `more than ${this.reassembler.maxSources} legacy UDP senders at once; this one, silent the longest, made room for a new one`;
      this.gone(result.replaced, new ProtocolError(many, 'ERR_TOO_MANY_SENDERS'));
    }
    for (const problem of result.problems ?? []) this.emit('problem', problem);
    // Listeners run first, so a message is printed before its sender hears the reply.
    if (result.message) this.emitMessage(result.message.value, result.message.bytes, result.message.source);
    if (result.reply) this.sendReply(result.reply);
    if (result.frame) this.deliver(result.frame.payload, result.frame.source);
  }

  private emitMessage(value: unknown, bytes: number, state: LegacySourceState): void {
    this.messageCount += 1;
    const { peer } = state.sender;
    const known = this.sources.get(sourceKey(state.sender));
    this.emit('message', { message: value, sender: known?.label ?? peer, peer, bytes, receivedAt: performance.timeOrigin + performance.now() });
  }

  private deliver(payload: Buffer, state: LegacySourceState): void {
    const key = sourceKey(state.sender);
    let source = this.sources.get(key);
    if (!source) {
      const { address, port, peer } = state.sender;
      source = { ...this.core.newSender(peer, { reply: (text) => this.replies.send(text, port, address) }), key, counters: state.loss };
      this.sources.set(key, source);
      this.core.open(source);
    }
    source.counters = state.loss;
    this.core.frame(source, payload, state.frames - 1, lossAfterQueue(state.loss, source));
  }

  /** Ends images whose sender fell silent, and forgets senders silent for `idleTimeoutMs`. */
  private sweep(): void {
    const { replies, gone, problems } = this.reassembler.sweep(performance.now(), this.idleTimeoutMs);
    for (const problem of problems) this.emit('problem', problem);
    for (const sender of replies) this.sendReply(sender);
    for (const state of gone) this.gone(state);
  }

  /** The reassembler forgot a sender: a connection's `disconnect`, else just counted. */
  private gone(state: LegacySourceState, error?: ProtocolError): void {
    const key = sourceKey(state.sender);
    const source = this.sources.get(key);
    if (!source) {
      this.dropped += 1;
      if (error) this.emit('problem', { code: error.code, message: `legacy UDP sender ${state.sender.peer}, no image delivered: ${error.message}` });
      return;
    }
    this.sources.delete(key);
    source.counters = state.loss;
    this.core.end(source, error);
  }

  /** The reply to an image that is not delivered: the sender waits for one all the same. */
  private sendReply(to: LegacySender): void {
    if (this.core.closing || !this.reply) return;
    this.replies.send(this.reply, to.port, to.address);
  }
}

function sourceKey(sender: LegacySender): string {
  return `${sender.address}|${sender.port}`;
}
