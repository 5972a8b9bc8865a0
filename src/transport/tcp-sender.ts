import type { Socket } from 'node:net';
import { connectSocket } from './connect-socket.js';
import type { Secret } from '../secret/secret.js';
import { once } from 'node:events';
import { tcpFrame } from '../frame/framer.js';
import { opensWithTlsAlert } from '../frame/header.js';
import { frameMeta } from '../frame/frame-meta.js';
import { partsLength, payloadParts } from '../frame/payload.js';
import { AuthError, NetworkError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import type { Frame } from '../frame/frame.js';
import type { Sender, SendOptions } from './types.js';
import { AckReplyParser, type AckListener } from '../frame/ack-reply.js';

export interface TcpFrameSenderOptions {
  /** Set: every connection is TLS authenticated by this shared secret. */
  secret?: Secret | undefined;
  host: string;
  port: number;
  /** Sent in every frame's metadata; a vstream receiver names the stream by it. */
  label?: string;
  /** Put vstream metadata (sequence, capture time, label, name) inside each JPEG. Default true. */
  metadata?: boolean;
  /** After each frame, wait for the receiver's reply before `send` resolves (stop-and-wait). */
  waitAck?: boolean;
  /** How long to wait for a reply with `waitAck` before failing (ms). Default 10 s. */
  ackTimeoutMs?: number;
  /** How long connecting may take (ms). Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * How long the receiver may take no bytes at all before `send` fails with ERR_STALLED (ms).
   * Default 10 s. A receiver that stopped reading would otherwise hold the sender forever.
   */
  stallTimeoutMs?: number;
  /**
   * Read the receiver's replies as `ACK <stream> <seq>` lines of this stream (a transfer that
   * keeps frames until they are acknowledged); frames sent with `askAck` ask for them.
   */
  acks?: {
    stream: string;
    listener: AckListener;
    /** The connection failed: no acknowledgement will come on it. */
    lost?: (error: ConnectionFailure) => void;
  };
}

export const DEFAULT_STALL_TIMEOUT_MS = 10_000;

/** Why a connection ended: the network, or a receiver that refused this sender for lacking its secret. */
export type ConnectionFailure = NetworkError | AuthError;

/**
 * Sends JPEG frames to one receiver over TCP, each as a 16-byte length header and the JPEG.
 *
 * `send` resolves once the socket can take more (or, with `waitAck`, once the receiver has
 * replied), so a caller that awaits it never builds a queue: a live source keeps only its newest
 * frame while this one is in flight.
 */
export class TcpFrameSender implements Sender {
  readonly address: string;
  framesSent = 0;
  bytesSent = 0;
  private readonly socket: Socket;
  private failure: ConnectionFailure | undefined;
  /** The first bytes this connection received, until they tell whether they are a TLS alert; unset once told. */
  private opening: Buffer | undefined;
  private ackWaiter: ((err?: Error) => void) | undefined;
  private pendingAcks = 0;
  private readonly ackParser: AckReplyParser | undefined;

  private constructor(socket: Socket, private readonly options: TcpFrameSenderOptions) {
    this.socket = socket;
    this.address = formatAddress(options.host, options.port);
    this.ackParser = options.acks && new AckReplyParser(options.acks.stream, options.acks.listener);
    // With the secret the connection is TLS and its alerts are TLS's to handle.
    if (!options.secret) this.opening = Buffer.alloc(0);
    socket.setNoDelay(true);
    socket.on('error', (err) => this.fail(networkError(`connection to ${this.address}`, err)));
    socket.on('close', () =>
      this.fail(new NetworkError(`${this.address} closed the connection`, 'ERR_CONNECTION_CLOSED')),
    );
    // Replies are only meaningful with waitAck or acks; otherwise reading keeps the socket healthy.
    socket.on('data', (received: Buffer) => {
      const chunk = this.refusedByAlert(received);
      if (chunk === undefined) return;
      this.ackParser?.push(chunk);
      if (!this.options.waitAck) return;
      this.pendingAcks += chunk.length > 0 ? 1 : 0;
      this.settleAck();
    });
  }

  /**
   * A receiver with a shared secret answers a plain sender with a TLS alert before it closes
   * (src/transport/secure-socket.ts): as the first bytes of the connection, that is the refusal,
   * said as such, where the close alone would look like a network fault worth retrying.
   */
  private refusedByAlert(chunk: Buffer): Buffer | undefined {
    const held = this.opening;
    if (held === undefined) return chunk;
    const start = Buffer.concat([held, chunk.subarray(0, 2)]);
    const alert = opensWithTlsAlert(start);
    this.opening = alert === 'maybe' ? start : undefined;
    // Not an alert: what was held back while it could have been is the replies' as well.
    if (alert === 'no') return held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
    if (alert === 'yes') {
      this.fail(new AuthError(`${this.address} refused this sender: it has a shared secret and this sender none (give both the same --secret-file)`));
      this.socket.destroy();
    }
    return undefined;
  }

  /** Connects to `host:port`. Fails with a NetworkError naming the address and the reason. */
  static async connect(options: TcpFrameSenderOptions): Promise<TcpFrameSender> {
    const socket = await connectSocket({ host: options.host, port: options.port, timeoutMs: options.connectTimeoutMs, secret: options.secret });
    return new TcpFrameSender(socket, options);
  }

  /** Sends one frame (or bare JPEG). Rejects with a NetworkError once the connection is gone. */
  async send(frame: Frame | Buffer, options: SendOptions = {}): Promise<void> {
    if (this.failure) throw this.failure;
    const asks = options.askAck === true && this.options.acks !== undefined;
    const meta = frameMeta(frame, {
      ...this.options,
      ...options,
      seq: options.seq ?? this.framesSent,
      ...(asks && { stream: this.options.acks!.stream, ack: true }),
    });
    const parts = tcpFrame(payloadParts(frame, meta));
    // Stop-and-wait has one frame in flight: bytes that arrive before this frame is written are
    // the tail of the previous reply, not this frame's.
    this.pendingAcks = 0;
    // Corked, the header and JPEG pieces leave in one write without being copied together.
    this.socket.cork();
    for (const part of parts) this.socket.write(part);
    this.socket.uncork();
    this.framesSent += 1;
    this.bytesSent += partsLength(parts);
    if (this.socket.writableNeedDrain) await this.waitFor('drain');
    if (this.options.waitAck) await this.waitForAck();
    if (this.failure) throw this.failure;
  }

  /** Ends the connection after everything written so far has been flushed. */
  async close(): Promise<void> {
    // Refused, the frames written were not taken, however cleanly the connection closed.
    if (this.socket.destroyed) {
      if (this.failure instanceof AuthError) throw this.failure;
      return;
    }
    const closed = once(this.socket, 'close').catch(() => undefined);
    const stall = this.watchStall();
    this.socket.end();
    await Promise.race([closed, stall.stalled]);
    stall.stop();
    if (this.failure?.code === 'ERR_STALLED' || this.failure instanceof AuthError) throw this.failure;
  }

  /** Drops the connection at once. */
  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves on 'drain'; rejects once the connection fails or the receiver stalls. */
  private waitFor(event: 'drain'): Promise<void> {
    const stall = this.watchStall();
    return new Promise<void>((resolve, reject) => {
      const done = () => {
        stall.stop();
        this.socket.off(event, done);
        this.socket.off('close', done);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      stall.stalled.then(done);
      this.socket.on(event, done);
      this.socket.on('close', done);
    });
  }

  /**
   * Resolves `stalled` (after failing the sender and dropping the connection) once the kernel
   * has taken no byte for `stallTimeoutMs`. The clock restarts whenever the bytes not yet
   * handed to the kernel shrink, so a slow but reading receiver is never cut off.
   */
  private watchStall(): { stalled: Promise<void>; stop(): void } {
    const stallMs = this.options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS;
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<void>((resolve) => {
      let unsent = unsentBytes(this.socket);
      let quietSince = performance.now();
      timer = setInterval(() => {
        const now = unsentBytes(this.socket);
        if (now < unsent) quietSince = performance.now();
        unsent = now;
        if (performance.now() - quietSince < stallMs) return;
        clearInterval(timer);
        this.fail(new NetworkError(`${this.address} stopped reading: nothing could be sent for ${formatSeconds(stallMs)}`, 'ERR_STALLED'));
        this.socket.destroy();
        resolve();
      }, Math.min(1000, Math.max(10, stallMs / 10)));
    });
    return { stalled, stop: () => clearInterval(timer) };
  }

  private waitForAck(): Promise<void> {
    if (this.pendingAcks > 0) {
      this.pendingAcks -= 1;
      return Promise.resolve();
    }
    const timeoutMs = this.options.ackTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.ackWaiter = undefined;
        reject(
          new NetworkError(
            `no reply from ${this.address} within ${timeoutMs} ms after a frame (does the receiver send acks? try without --wait-ack)`,
            'ERR_ACK_TIMEOUT',
          ),
        );
      }, timeoutMs);
      this.ackWaiter = (err) => {
        clearTimeout(timer);
        this.ackWaiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.settleAck();
    });
  }

  private settleAck(): void {
    if (this.ackWaiter && this.pendingAcks > 0) {
      this.pendingAcks -= 1;
      this.ackWaiter();
    }
  }

  private fail(err: ConnectionFailure): void {
    const first = this.failure === undefined;
    this.failure ??= err;
    this.ackWaiter?.(this.failure);
    if (first) this.options.acks?.lost?.(this.failure);
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Bytes written but not yet taken by the kernel: Node's own buffer plus libuv's write queue
 * (`writeQueueSize`, on the handle; `bytesWritten` counts bytes as they are queued, so it
 * cannot tell a reading receiver from a stalled one).
 */
export function unsentBytes(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { writeQueueSize?: number } })._handle;
  return socket.writableLength + (handle?.writeQueueSize ?? 0);
}
