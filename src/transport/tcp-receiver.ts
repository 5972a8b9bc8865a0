import { createServer, type Server, type Socket } from 'node:net';
import { receivedFrame } from './received-frame.js';
import { EventEmitter } from 'node:events';
import { FrameParser, DEFAULT_MAX_FRAME_BYTES } from '../reassemble/parser.js';
import { ProtocolError, type VstreamError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import type { PeerInfo, ReceivedFrame, Receiver, ReceiverEvents } from './types.js';
import { FrameQueue } from './frame-queue.js';

export interface FrameReceiverOptions {
  /** Port to listen on; 0 picks a free one (see `receiver.port`). */
  port: number;
  /** Address to bind. Default: every IPv4 and IPv6 address on one socket. */
  host?: string;
  /** Largest frame accepted; a longer length header closes that connection. */
  maxFrameBytes?: number;
  /** Written back after each frame, for senders that wait for a reply. */
  ack?: string | Buffer;
  /**
   * When the reply is written: `'received'` (default) as soon as the frame is complete;
   * `'manual'` only when `acknowledge(frame)` is called, so that a reply can mean "processed"
   * (saved, shown) and a stop-and-wait sender never gets ahead of the consumer.
   */
  ackWhen?: 'received' | 'manual';
  /** Frames held for a slow consumer before the senders are paused (TCP backpressure). */
  maxQueuedFrames?: number;
}


interface Connection extends PeerInfo {
  socket: Socket;
  frames: number;
  label?: string;
  /** The live frame of this connection still waiting in the queue, if any. */
  waiting?: Slot;
}

/** A queue entry. A live sender's waiting frame is replaced in its slot by a newer one. */
interface Slot {
  frame: ReceivedFrame;
  connection: Connection;
}

/**
 * Accepts any number of TCP senders and yields their frames, in arrival order, as an async
 * iterator. A bad stream closes only its own connection (reported as a `disconnect` event with
 * the error); the receiver and the other connections go on.
 *
 * Frames wait in a small bounded queue; when the consumer falls behind, the senders' sockets
 * are paused, which pushes back through TCP to the senders (where live sources drop frames).
 */
export class FrameReceiver extends EventEmitter<ReceiverEvents> implements Receiver {
  private readonly queue: FrameQueue<Slot>;
  private readonly connections = new Map<number, Connection>();
  private readonly paused = new Set<Socket>();
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly server: Server,
    private readonly options: FrameReceiverOptions,
  ) {
    super();
    this.queue = new FrameQueue<Slot>(
      options.maxQueuedFrames ?? 8,
      () => this.resumeAll(),
      // From here on the slot is the consumer's: a newer live frame must queue, not replace it.
      (slot) => {
        if (slot.connection.waiting === slot) slot.connection.waiting = undefined;
      },
    );
    server.on('connection', (socket) => this.accept(socket));
  }

  /** Starts listening. Fails with a NetworkError for a busy port or an address not on this host. */
  static async listen(options: FrameReceiverOptions): Promise<FrameReceiver> {
    const server = createServer({ noDelay: true });
    const host = options.host;
    const where = host ? formatAddress(host, options.port) : `port ${options.port}`;
    try {
      if (host) {
        await listenOn(server, { port: options.port, host });
      } else {
        // One dual-stack socket serves IPv4 (as ::ffff:a.b.c.d) and IPv6; hosts without IPv6
        // fall back to IPv4 only.
        await listenOn(server, { port: options.port, host: '::', ipv6Only: false }).catch(async (err) => {
          if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
          await listenOn(server, { port: options.port, host: '0.0.0.0' });
        });
      }
    } catch (err) {
      throw networkError(`cannot listen on ${where}`, err);
    }
    return new FrameReceiver(server, options);
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Frames still waiting for the consumer. */
  get queued(): number {
    return this.queue.length;
  }

  [Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    const slots = this.queue[Symbol.asyncIterator]();
    return {
      next: async () => {
        const result = await slots.next();
        if (result.done) return result;
        return { value: result.value.frame, done: false };
      },
      return: async () => {
        await slots.return?.();
        return { value: undefined, done: true };
      },
    };
  }

  /** Writes the ack text to the frame's sender (with `ackWhen: 'manual'`); a no-op without `ack`. */
  acknowledge(frame: ReceivedFrame): void {
    if (this.options.ack === undefined) return;
    const socket = this.connections.get(frame.connectionId)?.socket;
    if (socket?.writable) socket.write(this.options.ack);
  }

  /** Stops accepting, closes every connection, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const connection of this.connections.values()) connection.socket.destroy();
      await closed;
      this.queue.end();
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    const connection: Connection = {
      connectionId: this.nextConnectionId++,
      peer: formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0),
      socket,
      frames: 0,
    };
    this.connections.set(connection.connectionId, connection);
    const parser = new FrameParser({ maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES });
    let failure: VstreamError | undefined;
    const autoAck = this.options.ack !== undefined && this.options.ackWhen !== 'manual' ? this.options.ack : undefined;

    parser.on('frame', (jpeg: Buffer) => {
      const frame = receivedFrame(jpeg, connection, connection.frames);
      const meta = frame.meta;
      connection.frames += 1;
      if (autoAck !== undefined && socket.writable) socket.write(autoAck);
      if (meta?.live) {
        // A live stream is never paused: TCP would queue seconds of stale video in the socket
        // buffers. While its previous frame still waits, the newer one takes its place.
        const waiting = connection.waiting;
        if (waiting) {
          waiting.frame = { ...frame, droppedBefore: (waiting.frame.droppedBefore ?? 0) + 1 };
          return;
        }
        connection.waiting = { frame, connection };
        this.queue.push(connection.waiting);
        return;
      }
      if (!this.queue.push({ frame, connection })) this.pause(socket);
    });
    parser.on('error', (err: VstreamError) => {
      failure ??= err;
      socket.destroy();
    });
    socket.on('data', (chunk: Buffer) => parser.write(chunk));
    socket.on('error', (err) => {
      failure ??= networkError(`connection from ${connection.peer}`, err);
    });
    socket.on('close', () => {
      this.connections.delete(connection.connectionId);
      this.paused.delete(socket);
      // A stream that stops inside a frame lost that frame: say so, unless the receiver is closing.
      if (!failure && !this.closing) {
        const pending = parser.pendingBytes;
        if (pending > 0) {
          failure = new ProtocolError(
            `connection closed in the middle of a frame (${pending} bytes of it received)`,
            'ERR_TRUNCATED_FRAME',
          );
        }
      }
      this.emit('disconnect', { connectionId: connection.connectionId, peer: connection.peer, frames: connection.frames, ...(failure && { error: failure }) });
    });
    this.emit('connection', { connectionId: connection.connectionId, peer: connection.peer });
  }

  private pause(socket: Socket): void {
    socket.pause();
    this.paused.add(socket);
  }

  private resumeAll(): void {
    for (const socket of this.paused) socket.resume();
    this.paused.clear();
  }
}

function listenOn(server: Server, options: { port: number; host: string; ipv6Only?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
