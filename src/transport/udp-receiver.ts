import type { RemoteInfo, Socket } from 'node:dgram';
import { NetworkError, ProtocolError, UsageError, type ErrorCode, type VstreamError } from '../errors.js';
import { UdpReassembler, type CompletedFrame, type StreamCounters, type StreamState } from '../reassemble/udp-reassembler.js';
import type { Problem } from '../problems.js';
import { bindUdp, datagramPeer, DatagramReplies, DEFAULT_UDP_SILENCE_MS } from './udp-socket.js';
import { CoreReceiver } from './core-receiver.js';
import { DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_FRAMES, lossAfterQueue, ReceiverCore, type CoreSender } from './receiver-core.js';
import type { Receiver } from './types.js';
import type { LossCounters } from '../frame/frame.js';
import { DatagramOpener, isSealed, type SealDrop } from '../frame/udp-seal.js';
import type { Secret } from '../secret/secret.js';

/** A UDP stream silent this long is over (ERR_STREAM_SILENT); unlike over TCP, silence, not a lack of frames. */
export const DEFAULT_IDLE_TIMEOUT_MS = DEFAULT_UDP_SILENCE_MS;
/** Codes of datagrams that are not vstream UDP at all, as a reference-program sender makes. */
const FOREIGN_CODES = new Set(['ERR_UDP_SHORT', 'ERR_UDP_MAGIC', 'ERR_UDP_VERSION', 'ERR_UDP_TYPE']);

export interface UdpFrameReceiverOptions {
  /** UDP port; 0 picks a free one (see `receiver.port`). */
  port: number;
  /** Address to bind. Default: every IPv4 and IPv6 address on one socket. */
  host?: string;
  /** Frames announcing more bytes are ignored (counted invalid). Default 64 MiB. */
  maxFrameBytes?: number;
  /** An incomplete frame older than this is dropped (ms). Default 250. */
  maxAgeMs?: number;
  /** Socket receive buffer asked for; the kernel caps it (Linux: net.core.rmem_max). Default 4 MiB. */
  recvBufferSize?: number;
  /** A stream silent this long is over: `disconnect` with ERR_STREAM_SILENT (ms). Default 5000. */
  idleTimeoutMs?: number;
  /** Frames of one stream waiting for a slow consumer; one more drops the oldest. Default 8, as over TCP. */
  maxQueuedFrames?: number;
  /** Bytes of frames waiting, all streams together; more drops the oldest. Default 32 MiB. */
  maxQueuedBytes?: number;
  /** Bytes held in incomplete frames, all streams together (see UdpReassembler). Default 32 MiB. */
  maxPendingBytes?: number;
  /**
   * Streams at once. One more replaces a stream that has completed no frame, or none for 2 s;
   * if every stream is delivering, the newcomer is refused. Default 64.
   */
  maxStreams?: number;
  /**
   * Replied to the frame's source address after each frame. vstream's UDP senders never wait
   * for it (that is the point of UDP); it is for other programs that do.
   */
  ack?: string | Buffer;
  /** `'received'` (default): reply when the frame is complete; `'manual'`: on `acknowledge(frame)`. */
  ackWhen?: 'received' | 'manual';
  /**
   * Accept only datagrams sealed with this secret (docs/PROTOCOL.md, "Shared secret: UDP"):
   * plain, forged, altered and replayed ones are dropped and counted in `sealDrops`.
   */
  secret?: Secret;
}

const SEAL_DROP_CODE = { plain: 'ERR_UDP_UNSEALED', forged: 'ERR_UDP_FORGED', replayed: 'ERR_UDP_REPLAYED' } as const satisfies Record<SealDrop, ErrorCode>;
const SEAL_DROP_WHY: Record<SealDrop, string> = {
  plain: 'not sealed with a secret (the sender has none? give it the same --secret-file)',
  forged: 'failed authentication (a wrong secret, or altered or made up on the way)',
  replayed: 'replayed (a copy of one already received, or older than the replay window)',
};

interface Stream extends CoreSender {
  key: string;
  /** Where replies go: the datagram's source as the socket saw it. */
  address: string;
  port: number;
  /** The reassembler's counters, as they stood when the stream ended. */
  final?: StreamCounters;
  /** The first invalid datagram from this stream's source, reported when the stream ends. */
  invalid?: ProtocolError;
}

/**
 * Receives vstream UDP streams (docs/PROTOCOL.md, "UDP") from any number of senders on one
 * port, kept apart by source address and stream id, and yields whole frames as an async
 * iterator. A frame with a missing piece is never delivered: it is dropped after `maxAgeMs`,
 * or as soon as a newer frame of its stream completes, and counted in `loss`.
 *
 * Each stream is a "connection" to the CLI: `connection` when it completes its first frame,
 * `disconnect` on its END datagram or after `idleTimeoutMs` of silence, once the consumer has
 * taken its last frame, with the final loss counters. A stream that never completes a frame
 * (stray pieces, a flood of made-up stream ids) is no connection: it goes away counted in
 * `streamsDropped`, and what peers did wrong is reported as `problem` events, which the CLI
 * rate-limits, so that no datagram costs a log line of its own.
 */
export class UdpFrameReceiver extends CoreReceiver<Stream> implements Receiver {
  private readonly reassembler: UdpReassembler;
  protected readonly core: ReceiverCore<Stream>;
  /** Streams that have completed a frame and not ended, by key. */
  private readonly streams = new Map<string, Stream>();
  private readonly replies: DatagramReplies;
  private readonly idleTimeoutMs: number;
  private readonly sweeper: NodeJS.Timeout;
  private dropped = 0;
  private readonly opener: DatagramOpener | undefined;

  private constructor(
    private readonly socket: Socket,
    options: UdpFrameReceiverOptions,
  ) {
    super();
    this.opener = options.secret && new DatagramOpener(options.secret);
    this.reassembler = new UdpReassembler({
      ...(options.maxAgeMs !== undefined && { maxAgeMs: options.maxAgeMs }),
      ...(options.maxFrameBytes !== undefined && { maxFrameBytes: options.maxFrameBytes }),
      ...(options.maxPendingBytes !== undefined && { maxPendingBytes: options.maxPendingBytes }),
      ...(options.maxStreams !== undefined && { maxStreams: options.maxStreams }),
    });
    this.replies = new DatagramReplies(socket);
    this.idleTimeoutMs = Math.max(options.idleTimeoutMs ?? DEFAULT_UDP_SILENCE_MS, this.reassembler.maxAgeMs);
    this.core = new ReceiverCore<Stream>({
      events: this,
      ...(options.ack !== undefined && { ack: Buffer.from(options.ack) }),
      ...(options.ackWhen !== undefined && { ackWhen: options.ackWhen }),
      // UDP cannot slow a sender down: the queue is bounded and drops the oldest instead.
      perSender: options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
      maxBytes: options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES,
      liveReplaces: false,
      // A sender can make a stream and end it in two datagrams, so past maxStreams of them the
      // oldest one's frames are dropped: a stalled consumer must not let them pile up.
      disconnect: { afterDelivery: true, maxLeaving: this.reassembler.maxStreams },
      summary: (stream) => ({ frames: stream.delivered, loss: this.loss(stream) }),
    });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Unconnected, the socket gets no ICMP errors; what is left (ENOBUFS, ...) costs a datagram at most.
    socket.on('error', () => {});
    // Timeouts are the only way a frame with a lost piece, or a sender that vanished, is settled.
    const tick = Math.max(10, Math.min(this.reassembler.maxAgeMs, this.idleTimeoutMs) / 4);
    this.sweeper = setInterval(() => this.sweep(), tick);
    this.sweeper.unref();
  }

  /** Binds the port. Fails with a NetworkError: ERR_PORT_IN_USE, ERR_BAD_BIND, ... */
  static async listen(options: UdpFrameReceiverOptions): Promise<UdpFrameReceiver> {
    const integers = ['maxFrameBytes', 'recvBufferSize', 'idleTimeoutMs', 'maxQueuedFrames', 'maxQueuedBytes', 'maxPendingBytes', 'maxStreams'] as const;
    for (const key of integers) {
      const value = options[key];
      if (value !== undefined && !(Number.isSafeInteger(value) && value > 0)) throw new UsageError(`${key} must be a positive integer, got ${value}`);
    }
    if (options.maxAgeMs !== undefined && !(Number.isFinite(options.maxAgeMs) && options.maxAgeMs > 0)) {
      throw new UsageError(`maxAgeMs must be a positive number, got ${options.maxAgeMs}`);
    }
    if (options.ack !== undefined && options.ack.length === 0) throw new UsageError('the ack text must not be empty');
    const socket = await bindUdp({
      port: options.port,
      ...(options.host !== undefined && { host: options.host }),
      ...(options.recvBufferSize !== undefined && { recvBufferSize: options.recvBufferSize }),
    });
    return new UdpFrameReceiver(socket, options);
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    return this.socket.address().port;
  }

  /** The socket receive buffer the kernel granted (Linux reports twice what it counts for data). */
  get recvBufferSize(): number {
    return this.socket.getRecvBufferSize();
  }

  /** Bytes held in incomplete frames. */
  get pendingBytes(): number {
    return this.reassembler.pendingBytes;
  }

  /** Invalid datagrams ignored since listening, from any source. */
  get invalidDatagrams(): number {
    return this.reassembler.invalidDatagrams;
  }

  /** Streams forgotten without completing a frame: never a `connection`, so never a `disconnect`. */
  get streamsDropped(): number {
    return this.dropped;
  }

  /** Streams the reassembler holds now, connections or not (at most `maxStreams`). */
  get streamCount(): number {
    return this.reassembler.streamCount;
  }

  /** Datagrams of new streams refused because every stream slot held a live one. */
  get refusedDatagrams(): number {
    return this.reassembler.refusedDatagrams;
  }

  /** Datagrams dropped by the secret's check, by why (all 0 without a secret). */
  get sealDrops(): Readonly<Record<SealDrop, number>> {
    return this.opener?.drops ?? { plain: 0, forged: 0, replayed: 0 };
  }

  /** A stream's loss counters now, until its `disconnect` (which carries the final ones). */
  lossOf(connectionId: number): LossCounters | undefined {
    const stream = this.core.get(connectionId);
    return stream && this.loss(stream);
  }

  /** Stops receiving, reports every stream gone with its counters, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    return this.core.close(async () => {
      clearInterval(this.sweeper);
      // The reply to the last frame must not be cut off by the close.
      await this.replies.flushed();
      await new Promise<void>((resolve) => this.socket.close(() => resolve()));
      for (const stream of this.streams.values()) this.end(stream.key, this.reassembler.stream(stream.key));
    });
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.core.closing) return;
    const source = datagramPeer(rinfo);
    let datagram = msg;
    if (this.opener) {
      const opened = this.opener.open(msg);
      if (opened.drop) {
        // Before the reassembler: nothing unauthenticated can start, end, evict or stall a stream.
        const total = this.opener.drops[opened.drop];
        this.report({ code: SEAL_DROP_CODE[opened.drop], message: `${source}: UDP datagram ${SEAL_DROP_WHY[opened.drop]}; dropped (${total} ${opened.drop} so far)` });
        return;
      }
      datagram = opened.plain;
    } else if (isSealed(msg)) {
      this.report({ code: 'ERR_UDP_SEALED', message: `${source}: UDP datagram sealed with a shared secret, and this receiver has none (give it the same --secret-file); ignored` });
      return;
    }
    const result = this.reassembler.push(datagram, source, performance.now());
    if (result.evicted) this.evict(result.evicted);
    for (const frame of result.frames) this.deliver(frame, rinfo);
    if (result.error) this.invalid(source, result.error);
    if (result.problem) this.report(result.problem);
  }

  /** A stream removed to make room for a new one (maxStreams). */
  private evict(state: StreamState): void {
    const streams = `more than ${this.reassembler.maxStreams} UDP streams at once`;
    if (this.streams.has(state.key)) {
      this.end(state.key, state, new ProtocolError(`${streams}; this one, idle the longest, made room for a new one`, 'ERR_TOO_MANY_SENDERS'));
      return;
    }
    // The usual case in a flood of made-up stream ids: no Error (and its stack) per datagram.
    this.dropped += 1;
    this.report({ code: 'ERR_TOO_MANY_SENDERS', message: `${streams}: UDP stream ${state.streamId} from ${state.source}, no frame completed, made room for a new one` });
  }

  /** A stream's first complete frame makes it a connection. */
  private start(completed: CompletedFrame, rinfo: RemoteInfo): Stream {
    const { address, port } = rinfo;
    const stream: Stream = {
      ...this.core.newSender(completed.source, { reply: (ack) => this.replies.send(ack, port, address) }),
      key: completed.key,
      address,
      port,
    };
    this.streams.set(stream.key, stream);
    this.core.open(stream);
    return stream;
  }

  private deliver(completed: CompletedFrame, rinfo: RemoteInfo): void {
    const stream = this.streams.get(completed.key) ?? this.start(completed, rinfo);
    // Without metadata the datagrams' frame counter still shows gaps where frames were lost.
    // Loss as the frame completes, not as the consumer takes it: then the counters depend only
    // on what arrived, in which order, not on how busy the consumer was.
    this.core.frame(stream, completed.payload, completed.frameSeq, this.loss(stream));
  }

  /** The stream is over (END, silence, eviction, close); `disconnect` waits for its queued frames. */
  private end(key: string, state: StreamState | undefined, error?: VstreamError): void {
    const stream = this.streams.get(key);
    if (!stream) {
      // Never a connection: counted, and reported as what happened to it, not as a sender gone.
      this.dropped += 1;
      if (error && state) this.report({ code: error.code, message: `UDP stream ${state.streamId} from ${state.source}, no frame completed: ${error.message}` });
      return;
    }
    this.streams.delete(key);
    if (state) stream.final = state.counters;
    const invalid = stream.final && stream.final.invalid > 0 && stream.invalid;
    const reason = error ?? (invalid ? new ProtocolError(`${stream.final!.invalid} invalid datagram(s) ignored, the first: ${invalid.message}`, invalid.code) : undefined);
    this.core.end(stream, reason);
  }

  private loss(stream: Stream): LossCounters {
    return lossAfterQueue(stream.final ?? this.reassembler.stream(stream.key)?.counters, stream);
  }

  /**
   * A datagram that is not valid vstream UDP. From a source with a connection, it is kept for
   * that stream's `disconnect`; from any other source, it is a problem (a reference-program
   * sender pointed at a vstream receiver is the usual cause).
   */
  private invalid(source: string, error: ProtocolError): void {
    for (const stream of this.streams.values()) {
      if (stream.peer === source) {
        stream.invalid ??= error;
        return;
      }
    }
    const hint = FOREIGN_CODES.has(error.code) ? ' (not a vstream UDP sender? the reference programs need `recv --udp --legacy`)' : '';
    this.report({ code: error.code, message: `${source}: ${error.message}${hint}; ignored` });
  }

  private report(problem: Problem): void {
    this.emit('problem', problem);
  }

  private sweep(): void {
    const { ended, silent } = this.reassembler.expire(performance.now(), this.idleTimeoutMs);
    for (const state of ended) this.end(state.key, state);
    for (const state of silent) {
      const error = new NetworkError(
        `silent for ${(this.idleTimeoutMs / 1000).toFixed(1)} s without an end-of-stream datagram (sender stopped or network down)`,
        'ERR_STREAM_SILENT',
      );
      this.end(state.key, state, error);
    }
  }
}
