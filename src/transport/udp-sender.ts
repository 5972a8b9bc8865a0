import type { Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { frameMeta } from '../frame/frame-meta.js';
import { frameBytes, partsLength, payloadParts } from '../frame/payload.js';
import { DEFAULT_PACKET_SIZE, endDatagram, MAX_PACKET_SIZE, MIN_PACKET_SIZE, splitFrame } from '../frame/udp-datagram.js';
import { NetworkError, UsageError } from '../errors.js';
import { formatAddress } from './address.js';
import { Pacer, DEFAULT_RATE_BYTES_PER_SECOND } from './pacer.js';
import { networkError } from './socket-errors.js';
import { connectUdp } from './udp-socket.js';
import { DatagramSealer, SEAL_OVERHEAD } from '../frame/udp-seal.js';
import type { Secret } from '../secret/secret.js';
import type { Frame } from '../frame/frame.js';
import type { Sender, SendOptions } from './types.js';

export interface UdpFrameSenderOptions {
  host: string;
  port: number;
  /** Sent in every frame's metadata; a vstream receiver names the stream by it. */
  label?: string;
  /** Put vstream metadata (sequence, capture time, label, name) inside each JPEG. Default true. */
  metadata?: boolean;
  /** Whole datagram size, header included: 64 to 65507. Default 1200 (no IP fragmentation). */
  packetSize?: number;
  /** Pacing, in bytes per second of datagrams. Default 50 MB/s; `Infinity` sends back to back. */
  rate?: number;
  /**
   * What an ICMP "port unreachable" (or host/network unreachable) does: `'report'` (default)
   * counts it in `refused` and calls `onRefused`, and sending goes on, since a UDP receiver may
   * start later or restart; `'fail'` makes the next `send` reject with ERR_CONNECTION_REFUSED.
   */
  whenRefused?: 'report' | 'fail';
  /** Called for each unreachable report with `whenRefused: 'report'`. */
  onRefused?: (err: NetworkError) => void;
  /** Seal every datagram with AES-256-GCM under a key derived from it (docs/PROTOCOL.md, "Shared secret: UDP"). */
  secret?: Secret;
}

/** Unreachable reports: the kernel's translation of an ICMP error about an earlier datagram. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN']);
/** The kernel had no buffer for a datagram: that one is lost, like any datagram may be. */
const TRANSIENT = new Set(['ENOBUFS', 'EAGAIN', 'EWOULDBLOCK']);
/** END is a single datagram; a few copies spaced apart make a lost END (and a 5 s wait for silence) unlikely. */
const END_COPIES = 3;
const END_SPACING_MS = 1;
/**
 * Datagrams sent before yielding to the event loop. libuv reads at most 32 datagrams from a
 * socket per loop turn, so a receiver in the same process (a test, a relay) keeps up only if
 * the sender does not put more than that on the wire per turn.
 */
const DATAGRAMS_PER_TURN = 32;

/**
 * Sends JPEG frames to one receiver as vstream UDP datagrams (docs/PROTOCOL.md, "UDP"): each
 * frame is split into pieces of at most `packetSize` bytes, sent without copying the JPEG, and
 * paced so that a burst does not overflow the receiver's socket buffer.
 *
 * `send` resolves once the frame's datagrams are with the kernel. Nothing comes back: a lost
 * datagram loses its frame, and the receiver recovers with the next one.
 */
export class UdpFrameSender implements Sender {
  readonly address: string;
  /** Random per sender, so a receiver tells this run apart from an earlier one on the same port. */
  readonly streamId: number;
  framesSent = 0;
  /** Datagram bytes handed to the kernel, headers included. */
  bytesSent = 0;
  /** Unreachable reports received (ICMP port/host unreachable): nobody was listening at that time. */
  refused = 0;
  private frameSeq = 0;
  private sinceTurn = 0;
  private readonly packetSize: number;
  private readonly pacer: Pacer;
  private readonly sealer: DatagramSealer | undefined;
  private failure: NetworkError | undefined;
  private closing: Promise<void> | undefined;
  private closed = false;
  private drainWaiters: Array<() => void> = [];
  /** One callback for every datagram: errors of unacknowledged sends would otherwise vanish. */
  private readonly onSent = (err: Error | null): void => {
    if (err) this.onError(err);
    if (this.drainWaiters.length > 0 && (this.closed || this.socket.getSendQueueCount() === 0)) {
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  };

  private constructor(
    private readonly socket: Socket,
    private readonly options: UdpFrameSenderOptions,
  ) {
    this.address = formatAddress(options.host, options.port);
    this.streamId = randomBytes(4).readUInt32BE(0);
    this.sealer = options.secret && new DatagramSealer(options.secret);
    // packetSize is what goes on the wire, so the seal's bytes come out of the plain datagram.
    this.packetSize = (options.packetSize ?? DEFAULT_PACKET_SIZE) - (this.sealer ? SEAL_OVERHEAD : 0);
    this.pacer = new Pacer(options.rate ?? DEFAULT_RATE_BYTES_PER_SECOND);
    // ICMP errors about earlier datagrams arrive here, from the socket's receive side.
    socket.on('error', (err) => this.onError(err));
    // Nothing is expected back; reading keeps the socket's receive queue empty.
    socket.on('message', () => {});
  }

  /**
   * Resolves `host` (a name, IPv4 or IPv6; the first address wins) and opens a socket connected
   * to it. Nothing is sent yet, so this succeeds whether or not a receiver listens.
   */
  static async open(options: UdpFrameSenderOptions): Promise<UdpFrameSender> {
    const packetSize = options.packetSize ?? DEFAULT_PACKET_SIZE;
    if (!Number.isSafeInteger(packetSize) || packetSize < MIN_PACKET_SIZE || packetSize > MAX_PACKET_SIZE) {
      throw new UsageError(`packet size must be ${MIN_PACKET_SIZE} to ${MAX_PACKET_SIZE} bytes, got ${packetSize}`, 'ERR_BAD_PACKET_SIZE');
    }
    if (options.secret && packetSize - SEAL_OVERHEAD < MIN_PACKET_SIZE) {
      throw new UsageError(`with a secret the packet size must be at least ${MIN_PACKET_SIZE + SEAL_OVERHEAD} bytes (${SEAL_OVERHEAD} go to the seal), got ${packetSize}`, 'ERR_BAD_PACKET_SIZE');
    }
    if (options.rate !== undefined && !(options.rate > 0)) {
      throw new UsageError(`rate must be a positive number of bytes per second, got ${options.rate}`);
    }
    const socket = await connectUdp({ host: options.host, port: options.port });
    return new UdpFrameSender(socket, options);
  }

  /** Sends one frame (or bare JPEG). Rejects with a NetworkError once the socket has failed (or, with `whenRefused: 'fail'`, nobody listens). */
  async send(frame: Frame | Buffer, options: SendOptions = {}): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.closing) throw new NetworkError(`the sender to ${this.address} is closed`, 'ERR_CONNECTION_CLOSED');
    const meta = frameMeta(frame, { ...this.options, ...options, seq: options.seq ?? this.framesSent });
    const payload = payloadParts(frame, meta);
    let datagrams: Buffer[][];
    try {
      datagrams = splitFrame(payload, { streamId: this.streamId, frameSeq: this.frameSeq, packetSize: this.packetSize });
    } catch (err) {
      throw new UsageError(`cannot send a frame of ${frameBytes(frame).length} bytes over UDP: ${(err as Error).message}`, 'ERR_UDP_FRAME_TOO_LARGE');
    }
    this.frameSeq = (this.frameSeq + 1) >>> 0;
    for (const plain of datagrams) {
      const size = partsLength(plain) + (this.sealer ? SEAL_OVERHEAD : 0);
      await this.pace(size);
      if (this.failure) throw this.failure;
      if (this.closed) throw new NetworkError(`the sender to ${this.address} was closed during a frame`, 'ERR_CONNECTION_CLOSED');
      // Sealed at the last moment, so a datagram's counter follows the order on the wire.
      this.socket.send(this.sealer ? this.sealer.seal(plain) : plain, this.onSent);
      this.bytesSent += size;
    }
    this.framesSent += 1;
  }

  /**
   * Sends the END datagram (so the receiver ends the stream at once) and closes the socket.
   * Rejects like `send` when the socket failed, or with `whenRefused: 'fail'` when nobody
   * listened: a short transfer can be over before the ICMP answer to its first datagram is in.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.closed) {
        for (let i = 0; i < END_COPIES && !this.closed; i++) {
          if (i > 0) await sleep(END_SPACING_MS);
          // Each copy sealed on its own: the receiver drops a repeated counter as a replay.
          if (!this.closed) this.socket.send(this.endDatagram(), this.onSent);
        }
        await this.drained();
      }
      this.shut();
      if (this.failure) throw this.failure;
    })();
    return this.closing;
  }

  /** Closes at once; a single END still goes out, so the receiver does not wait for silence. */
  destroy(): void {
    if (this.closed) return;
    if (!this.closing) this.socket.send(this.endDatagram(), () => {});
    this.shut();
  }

  private endDatagram(): Buffer {
    const end = endDatagram(this.streamId, this.frameSeq);
    return this.sealer ? this.sealer.seal([end]) : end;
  }

  private shut(): void {
    if (this.closed) return;
    this.closed = true;
    for (const resolve of this.drainWaiters.splice(0)) resolve();
    this.socket.close();
  }

  /** Waits for the pacer, and for the kernel when its send buffer is full (a real link slower than the rate). */
  private async pace(bytes: number): Promise<void> {
    if (++this.sinceTurn > DATAGRAMS_PER_TURN) {
      this.sinceTurn = 1;
      await nextTurn();
    }
    for (let wait = this.pacer.take(bytes); wait > 0; wait = this.pacer.take(bytes)) {
      this.sinceTurn = 1;
      await sleep(wait);
    }
    await this.drained();
  }

  private drained(): Promise<void> {
    if (this.closed || this.socket.getSendQueueCount() === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private onError(err: Error): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (TRANSIENT.has(code)) return;
    if (UNREACHABLE.has(code)) {
      this.refused += 1;
      const refusal =
        code === 'ECONNREFUSED'
          ? new NetworkError(
              `nobody is listening on UDP ${this.address} (ICMP port unreachable; is \`vstream recv --udp\` running there?)`,
              'ERR_CONNECTION_REFUSED',
              { cause: err },
            )
          : networkError(`cannot reach ${this.address}`, err);
      if (this.options.whenRefused === 'fail') this.failure ??= refusal;
      else this.options.onRefused?.(refusal);
      return;
    }
    this.failure ??= networkError(`sending to ${this.address}`, err);
  }
}
