/**
 * Receives from the reference UDP programs: per image, one datagram holding the JPEG's length
 * as a C `long` (8 bytes little-endian on 64-bit Linux/macOS, 4 on 32-bit ARM and Windows),
 * then the JPEG in 1024-byte datagrams, then the receiver replies a short text. Nothing numbers
 * the datagrams, so the rules below (docs/PROTOCOL.md, "Legacy UDP") decide from lengths and
 * silence alone what belongs to which image, and never deliver one that is not whole.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { receivedFrame } from '../frame/received-frame.js';
import { EventEmitter } from 'node:events';
import { ProtocolError, UsageError } from '../errors.js';
import { DroppingQueue } from './dropping-queue.js';
import { EVICT_IDLE_MS } from '../reassemble/udp-reassembler.js';
import { bindUdp, datagramPeer } from './udp-socket.js';
import type { PeerInfo, Receiver, ReceiverEvents } from './types.js';
import type { LossCounters, ReceivedFrame } from '../frame/frame.js';

/** Phone and webcam JPEGs stay far below this; the legacy format has no other limit. */
export const DEFAULT_LEGACY_MAX_FRAME_BYTES = 16 * 1024 * 1024;
/** The reference servers reply after every image; the reference clients ignore the text. */
export const DEFAULT_LEGACY_REPLY = 'OK';
/** The size the reference client cuts images into; used to estimate lost datagrams. */
const REFERENCE_PIECE_BYTES = 1024;
/** What a held piece costs beyond its payload (Buffer object, list slot), as vstream UDP counts it. */
const PIECE_OVERHEAD_BYTES = 256;

export interface LegacyUdpReceiverOptions {
  /** UDP port; 0 picks a free one (see `receiver.port`). */
  port: number;
  /** Address to bind. Default: every IPv4 and IPv6 address on one socket. */
  host?: string;
  /** Largest image accepted; a length datagram announcing more is not taken for one. Default 16 MiB. */
  maxFrameBytes?: number;
  /** An incomplete image is abandoned after this long without a datagram from its sender (ms). Default 1000. */
  maxAgeMs?: number;
  /** The text sent back after each image. Default "OK". */
  reply?: string | Buffer;
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

type Attempt =
  | { kind: 'idle' }
  | { kind: 'receiving'; expected: number; chunks: Buffer[]; received: number; largestPiece: number; charged: number }
  /** Datagrams to throw away until the next length datagram: an image already counted as dropped, or pieces without a length. */
  | { kind: 'discarding'; counted: boolean };

interface Source extends PeerInfo {
  key: string;
  address: string;
  port: number;
  /** Frames completed whole (the consumer got `loss.framesReceived` of them). */
  frames: number;
  /** Frames of this sender dropped from the queue since the consumer last took one of its frames. */
  discarded: number;
  label?: string;
  loss: LossCounters;
  lastHeard: number;
  attempt: Attempt;
  /** Set with its first delivered image: only then is it a `connection` (and later a `disconnect`). */
  connected: boolean;
}

/** Where a delivered frame's reply goes, until it is acknowledged or dropped. */
interface ReplyTo {
  address: string;
  port: number;
}

/**
 * Any number of legacy UDP senders on one port, kept apart by source address, yielding their
 * images as an async iterator (newest kept when the consumer is slow).
 *
 * Every image a sender starts gets exactly one reply, delivered or not, because the reference
 * client blocks in `recvfrom` until it has one: an image with a lost piece is replied to when
 * its sender falls silent (`maxAgeMs`), so the sender goes on with the next image.
 */
export class LegacyUdpReceiver extends EventEmitter<ReceiverEvents> implements Receiver {
  private readonly sources = new Map<string, Source>();
  private readonly unacknowledged = new WeakMap<ReceivedFrame, ReplyTo>();
  private readonly queue: DroppingQueue<Source, ReceivedFrame>;
  private readonly reply: Buffer;
  private readonly maxFrameBytes: number;
  private readonly maxAgeMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxSources: number;
  private readonly maxPendingBytes: number;
  private readonly sweeper: NodeJS.Timeout;
  private pendingBytes = 0;
  /** Replies handed to the socket and not yet sent; close() waits for them. */
  private repliesInFlight = 0;
  private repliesFlushed: (() => void) | undefined;
  private nextConnectionId = 1;
  private discarded = 0;
  private dropped = 0;
  private refused = 0;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly options: LegacyUdpReceiverOptions,
  ) {
    super();
    this.reply = Buffer.from(options.reply ?? DEFAULT_LEGACY_REPLY);
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_LEGACY_MAX_FRAME_BYTES;
    this.maxAgeMs = options.maxAgeMs ?? 1000;
    this.idleTimeoutMs = Math.max(options.idleTimeoutMs ?? 5000, this.maxAgeMs);
    this.maxSources = options.maxSources ?? 64;
    this.maxPendingBytes = Math.max(options.maxPendingBytes ?? 4 * this.maxFrameBytes, this.maxFrameBytes);
    this.queue = new DroppingQueue<Source, ReceivedFrame>({
      perStream: options.maxQueuedFrames ?? 8,
      maxBytes: options.maxQueuedBytes ?? 32 * 1024 * 1024,
      onDrop: (source, frame) => {
        this.discarded += 1;
        source.discarded += 1;
        // As over vstream UDP: a frame the consumer never got was dropped, not received.
        source.loss.framesReceived -= 1;
        source.loss.framesDropped += 1;
        // Nobody will acknowledge it now, and its sender waits for a reply.
        this.acknowledge(frame);
      },
      onTake: (source, frame) => {
        if (source.discarded === 0) return frame;
        // The same object: it is the key of its pending reply.
        frame.droppedBefore = source.discarded;
        source.discarded = 0;
        return frame;
      },
    });
    socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo));
    // Unconnected UDP sockets get no ICMP errors; what is left (ENOBUFS, ...) costs at most a datagram.
    socket.on('error', () => {});
    // Silence is the only end-of-image and end-of-stream signal the legacy format has.
    this.sweeper = setInterval(() => this.sweep(), Math.max(10, Math.min(this.maxAgeMs, this.idleTimeoutMs) / 4));
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
    return this.discarded;
  }

  /** Senders forgotten before delivering an image: never a `connection`, so never a `disconnect`. */
  get sourcesDropped(): number {
    return this.dropped;
  }

  /** Datagrams of new senders ignored because every slot held a sender delivering images. */
  get refusedDatagrams(): number {
    return this.refused;
  }

  /** Bytes charged for incomplete images, over all senders (at most `maxPendingBytes`). */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  /** Frames waiting for the consumer. */
  get queued(): number {
    return this.queue.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    return this.queue[Symbol.asyncIterator]();
  }

  /** Sends the reply for a frame (with `ackWhen: 'manual'`); later calls for the same frame do nothing. */
  acknowledge(frame: ReceivedFrame): void {
    const to = this.unacknowledged.get(frame);
    if (!to) return;
    this.unacknowledged.delete(frame);
    this.sendReply(to);
  }

  /** Stops receiving, reports every sender gone, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweeper);
      // A send to an address leaves a tick later: closing at once would swallow the reply to
      // the last frame (`recv --frames N`), and a reference client would wait for it forever.
      if (this.repliesInFlight > 0) await new Promise<void>((resolve) => (this.repliesFlushed = resolve));
      await new Promise<void>((resolve) => this.socket.close(() => resolve()));
      for (const source of [...this.sources.values()]) this.forget(source);
      this.queue.end();
    })();
    return this.closing;
  }

  private onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closing || msg.length === 0) return;
    const source = this.sourceFor(rinfo);
    if (!source) return;
    source.lastHeard = performance.now();
    const length = this.announcedLength(msg);
    const attempt = source.attempt;

    if (attempt.kind === 'receiving') {
      const remaining = attempt.expected - attempt.received;
      // An exact fit is the last piece even if it could be read as a length: a JPEG ends in
      // FF D9, which as the top byte of a little-endian integer is negative anyway.
      if (msg.length === remaining || (length === undefined && msg.length < remaining)) {
        this.append(source, attempt, msg);
        return;
      }
      if (length === undefined) {
        // More bytes than announced: a duplicated or stray datagram got mixed in.
        this.drop(source, 0);
        source.attempt = { kind: 'discarding', counted: true };
        return;
      }
      // A new length mid-image: the sender gave up on this one (or the length was duplicated).
      if (attempt.received > 0) this.drop(source, this.missingPieces(attempt));
      else this.release(source);
    }
    if (length !== undefined) {
      source.attempt = { kind: 'receiving', expected: length, chunks: [], received: 0, largestPiece: 0, charged: 0 };
    } else if (source.attempt.kind === 'idle' && (msg.length === 8 || msg.length === 4)) {
      // A length out of range (over maxFrameBytes, zero, negative): refuse that image.
      this.countDropped(source, 0);
      source.attempt = { kind: 'discarding', counted: true };
    } else if (source.attempt.kind === 'idle') {
      // Pieces with no length before them: it was lost. The sender still waits for a reply.
      source.attempt = { kind: 'discarding', counted: false };
    }
  }

  /** The length a 4- or 8-byte datagram announces, if it is a plausible one. */
  private announcedLength(msg: Buffer): number | undefined {
    let value: number;
    if (msg.length === 8) {
      const big = msg.readBigInt64LE(0);
      if (big > BigInt(this.maxFrameBytes)) return undefined;
      value = Number(big);
    } else if (msg.length === 4) {
      value = msg.readInt32LE(0);
    } else {
      return undefined;
    }
    return value >= 1 && value <= this.maxFrameBytes ? value : undefined;
  }

  private append(source: Source, attempt: Extract<Attempt, { kind: 'receiving' }>, piece: Buffer): void {
    // Charged more than its payload, so that a flood of tiny pieces costs what it really costs.
    const cost = piece.length + PIECE_OVERHEAD_BYTES;
    this.makeRoom(cost);
    if (source.attempt !== attempt) return;
    attempt.chunks.push(piece);
    attempt.received += piece.length;
    attempt.largestPiece = Math.max(attempt.largestPiece, piece.length);
    attempt.charged += cost;
    this.pendingBytes += cost;
    if (attempt.received === attempt.expected) this.complete(source, attempt);
  }

  private complete(source: Source, attempt: Extract<Attempt, { kind: 'receiving' }>): void {
    const jpeg = attempt.chunks.length === 1 ? attempt.chunks[0]! : Buffer.concat(attempt.chunks, attempt.received);
    this.release(source);
    source.attempt = { kind: 'idle' };
    const to = { address: source.address, port: source.port };
    // Without sequence numbers a swapped or foreign piece can only show at the ends.
    if (!isWholeJpeg(jpeg)) {
      this.countDropped(source, 0);
      this.sendReply(to);
      return;
    }
    source.loss.framesReceived += 1;
    const frame = receivedFrame(jpeg, source, source.frames, { ...source.loss });
    source.frames += 1;
    if (!source.connected) {
      source.connected = true;
      this.emit('connection', { connectionId: source.connectionId, peer: source.peer });
    }
    if (this.options.ackWhen === 'manual') this.unacknowledged.set(frame, to);
    else this.sendReply(to);
    this.queue.push(source, frame, jpeg.length);
  }

  /** Abandons the image being received, counting it (and its missing datagrams) as dropped. */
  private drop(source: Source, lostDatagrams: number): void {
    this.release(source);
    this.countDropped(source, lostDatagrams);
  }

  private countDropped(source: Source, lostDatagrams: number): void {
    source.loss.framesDropped += 1;
    source.loss.datagramsLost += lostDatagrams;
  }

  /** Frees the pieces of the image being received, if any. */
  private release(source: Source): void {
    if (source.attempt.kind === 'receiving') this.pendingBytes -= source.attempt.charged;
    source.attempt = { kind: 'idle' };
  }

  private missingPieces(attempt: Extract<Attempt, { kind: 'receiving' }>): number {
    const piece = attempt.largestPiece || REFERENCE_PIECE_BYTES;
    return Math.ceil((attempt.expected - attempt.received) / piece);
  }

  /** Keeps incomplete images within `maxPendingBytes` by dropping the longest silent ones. */
  private makeRoom(bytes: number): void {
    while (this.pendingBytes + bytes > this.maxPendingBytes) {
      let victim: Source | undefined;
      for (const source of this.sources.values()) {
        if (source.attempt.kind !== 'receiving' || source.attempt.received === 0) continue;
        if (!victim || source.lastHeard < victim.lastHeard) victim = source;
      }
      if (!victim) return;
      this.drop(victim, 0);
      victim.attempt = { kind: 'discarding', counted: true };
    }
  }

  private sourceFor(rinfo: RemoteInfo): Source | undefined {
    const key = `${rinfo.address}|${rinfo.port}`;
    const known = this.sources.get(key);
    if (known) return known;
    if (this.sources.size >= this.maxSources) {
      const victim = this.victim(performance.now());
      if (!victim) {
        this.refused += 1;
        this.emit('problem', {
          code: 'ERR_TOO_MANY_SENDERS',
          message: `new legacy UDP sender ${datagramPeer(rinfo)} ignored: all ${this.maxSources} senders are delivering images`,
        });
        return undefined;
      }
      this.forget(
        victim,
        new ProtocolError(`more than ${this.maxSources} legacy UDP senders at once; this one, silent the longest, made room for a new one`, 'ERR_TOO_MANY_SENDERS'),
      );
    }
    const source: Source = {
      key,
      address: rinfo.address,
      port: rinfo.port,
      connectionId: this.nextConnectionId++,
      peer: datagramPeer(rinfo),
      frames: 0,
      discarded: 0,
      loss: { framesReceived: 0, framesDropped: 0, datagramsLost: 0 },
      lastHeard: performance.now(),
      attempt: { kind: 'idle' },
      connected: false,
    };
    this.sources.set(key, source);
    return source;
  }

  /**
   * The sender to make room for a new one: the longest silent that has delivered no image (so a
   * flood of new source ports only displaces itself), else the longest silent of those silent
   * for EVICT_IDLE_MS.
   */
  private victim(now: number): Source | undefined {
    let unproven: Source | undefined;
    let idle: Source | undefined;
    for (const source of this.sources.values()) {
      if (!source.connected) {
        if (!unproven || source.lastHeard < unproven.lastHeard) unproven = source;
      } else if (now - source.lastHeard > EVICT_IDLE_MS && (!idle || source.lastHeard < idle.lastHeard)) {
        idle = source;
      }
    }
    return unproven ?? idle;
  }

  /** Ends images whose sender fell silent, and forgets senders silent for `idleTimeoutMs`. */
  private sweep(): void {
    const now = performance.now();
    for (const source of [...this.sources.values()]) {
      const silent = now - source.lastHeard;
      const attempt = source.attempt;
      if (attempt.kind !== 'idle' && silent >= this.maxAgeMs) {
        if (attempt.kind === 'receiving') this.drop(source, this.missingPieces(attempt));
        // The length datagram of these pieces was lost.
        else if (!attempt.counted) this.countDropped(source, 1);
        source.attempt = { kind: 'idle' };
        this.sendReply({ address: source.address, port: source.port });
      }
      if (silent >= this.idleTimeoutMs) this.forget(source);
    }
  }

  private forget(source: Source, error?: ProtocolError): void {
    const attempt = source.attempt;
    if (attempt.kind === 'receiving' && attempt.received > 0) this.drop(source, this.missingPieces(attempt));
    else this.release(source);
    this.sources.delete(source.key);
    if (!source.connected) {
      this.dropped += 1;
      if (error) this.emit('problem', { code: error.code, message: `legacy UDP sender ${source.peer}, no image delivered: ${error.message}` });
      return;
    }
    this.emit('disconnect', {
      connectionId: source.connectionId,
      peer: source.peer,
      frames: source.loss.framesReceived,
      loss: { ...source.loss },
      ...(error && { error }),
    });
  }

  private sendReply(to: ReplyTo): void {
    if (this.closing) return;
    this.repliesInFlight += 1;
    // Best effort, like every datagram: a lost reply shows as the sender's reply timeout.
    this.socket.send(this.reply, to.port, to.address, () => {
      this.repliesInFlight -= 1;
      if (this.repliesInFlight === 0) this.repliesFlushed?.();
    });
  }
}

/** Starts with SOI (FF D8) and ends with EOI (FF D9). */
function isWholeJpeg(jpeg: Buffer): boolean {
  const n = jpeg.length;
  return n >= 4 && jpeg[0] === 0xff && jpeg[1] === 0xd8 && jpeg[n - 2] === 0xff && jpeg[n - 1] === 0xd9;
}
