import { createServer, type Server, type Socket } from 'node:net';
import { receivedFrame } from '../frame/received-frame.js';
import { EventEmitter } from 'node:events';
import { FrameDecoder, DEFAULT_MAX_FRAME_BYTES } from '../reassemble/parser.js';
import { NetworkError, ProtocolError, type VstreamError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import type { PeerInfo, Receiver, ReceiverEvents } from './types.js';
import type { ReceivedFrame } from '../frame/frame.js';
import { FrameQueue } from './frame-queue.js';
import { DEFAULT_MAX_BUFFERED_BYTES, MemoryBudget } from './memory-budget.js';
import { connectionLimit } from './fd-limit.js';

/** Connections held open at once (lowered to what the open-file limit allows). */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** A connection that completes no frame for this long is closed. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** Frames held for a slow consumer before the senders are paused. */
export const DEFAULT_MAX_QUEUED_FRAMES = 8;

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
  /**
   * Bytes held over all connections for partly received frames and queued frames. Complete
   * frames may fill half of it before every sender is paused; past all of it, the connection
   * with the largest unfinished frame is closed (`ERR_BUDGET`). Default 256 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * Connections open at once (default 256, lowered to the open-file limit minus a reserve).
   * A new one replaces the oldest that has not completed a frame; when every one has, the
   * new one is refused (a `problem` event, `ERR_TOO_MANY_CONNECTIONS`).
   */
  maxConnections?: number;
  /** A connection that completes no frame for this long is closed (`ERR_IDLE_TIMEOUT`); 0: never. */
  idleTimeoutMs?: number;
}

interface Connection extends PeerInfo {
  socket: Socket;
  decoder: FrameDecoder;
  frames: number;
  label?: string;
  /** The live frame of this connection still waiting in the queue, if any. */
  waiting?: Slot;
  /** performance.now() at accept, at its last frame, or when the receiver stopped holding it up. */
  lastProgress: number;
  /** Its frames in the queue, or (with manual acks) delivered and not acknowledged yet. */
  outstanding: number;
  /** Why the receiver closed it, or what went wrong. */
  failure?: VstreamError;
  closed: boolean;
}

/** A queue entry. A live sender's waiting frame is replaced in its slot by a newer one. */
interface Slot {
  frame: ReceivedFrame;
  connection: Connection;
}

/**
 * Accepts TCP senders and yields their frames, in arrival order, as an async iterator. A bad
 * stream closes only its own connection (reported as a `disconnect` event with the error);
 * the receiver and the other connections go on.
 *
 * What peers can make it hold is bounded: frames wait in a small queue, and when the consumer
 * falls behind the senders' sockets are paused, which pushes back through TCP to the senders
 * (where live sources drop frames); the bytes of partial and queued frames over all
 * connections have one budget; the number of connections has a limit that leaves file
 * descriptors for the receiver's own files; a connection that completes no frame is closed
 * after the idle timeout.
 */
export class FrameReceiver extends EventEmitter<ReceiverEvents> implements Receiver {
  private readonly queue: FrameQueue<Slot>;
  private readonly connections = new Map<number, Connection>();
  /** Paused for the consumer: the queue is full. Never idle while here. */
  private readonly paused = new Set<Connection>();
  /** Paused for holding about the most of an unfinished frame when the budget is full. */
  private readonly budgetPaused = new Set<Connection>();
  private readonly budget: MemoryBudget<Connection | Slot>;
  /** Bytes of the frames in the queue (also charged to the budget). */
  private queuedBytes = 0;
  /** Set while queued frames fill their half of the budget: every socket is paused. */
  private queueBytesFull = false;
  private readonly awaitsAck: boolean;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private nextConnectionId = 1;
  private closing: Promise<void> | undefined;
  /** Connections held open at most. */
  readonly connectionLimit: number;

  private constructor(
    private readonly server: Server,
    private readonly options: FrameReceiverOptions,
  ) {
    super();
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`);
    }
    this.connectionLimit = connectionLimit(maxConnections);
    this.budget = new MemoryBudget(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    this.awaitsAck = options.ack !== undefined && options.ackWhen === 'manual';
    this.queue = new FrameQueue<Slot>(
      options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
      () => this.resumeIfRoom(),
      (slot) => this.taken(slot),
    );
    server.on('connection', (socket) => this.accept(socket));
    // After listen, only accept fails (EMFILE, ENFILE, ECONNABORTED): the server goes on.
    server.on('error', (err) => {
      const { code, message } = networkError('cannot accept a connection', err);
      this.emit('problem', { code, message });
    });
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    if (idleTimeoutMs > 0) {
      // One sweep for all connections, not a timer each; a quarter of the timeout late at most.
      this.idleTimer = setInterval(() => this.closeIdle(idleTimeoutMs), Math.min(1000, Math.max(10, idleTimeoutMs / 4)));
      this.idleTimer.unref();
    }
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

  /** Connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Bytes charged to the memory budget now: partial frames and queued frames. */
  get bufferedBytes(): number {
    return this.budget.held;
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
    const connection = this.connections.get(frame.connectionId);
    if (!connection) return;
    if (this.awaitsAck && connection.outstanding > 0) {
      connection.outstanding -= 1;
      // The sender could not send its next frame before this reply: its idle clock starts now.
      connection.lastProgress = performance.now();
    }
    if (connection.socket.writable) connection.socket.write(this.options.ack);
  }

  /** Stops accepting, closes every connection, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.idleTimer);
      const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
      for (const connection of this.connections.values()) connection.socket.destroy();
      await closed;
      this.queue.end();
    })();
    return this.closing;
  }

  private accept(socket: Socket): void {
    const peer = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.closing || (this.connections.size >= this.connectionLimit && !this.makeRoom(peer))) {
      socket.destroy();
      return;
    }
    const connection: Connection = {
      connectionId: this.nextConnectionId++,
      peer,
      socket,
      decoder: new FrameDecoder({
        maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        onHeader: (length) => this.admit(length),
      }),
      frames: 0,
      lastProgress: performance.now(),
      outstanding: 0,
      closed: false,
    };
    this.connections.set(connection.connectionId, connection);
    const onFrame = (jpeg: Buffer): void => this.received(connection, jpeg);

    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      try {
        connection.decoder.push(chunk, onFrame);
      } catch (err) {
        this.drop(connection, err as VstreamError);
        return;
      }
      if (connection.closed) return;
      this.budget.hold(connection, connection.decoder.retainedBytes);
      if (this.budget.exceeded) this.makeBudgetRoom(connection);
    });
    socket.on('error', (err) => {
      connection.failure ??= networkError(`connection from ${connection.peer}`, err);
    });
    socket.on('close', () => {
      // A stream that stops inside a frame lost that frame: say so, unless the receiver is closing.
      if (!connection.failure && !this.closing) {
        const pending = connection.decoder.pendingBytes;
        if (pending > 0) {
          connection.failure = new ProtocolError(
            `connection closed in the middle of a frame (${pending} bytes of it received)`,
            'ERR_TRUNCATED_FRAME',
          );
        }
      }
      this.forget(connection);
      const { connectionId, frames, failure } = connection;
      this.emit('disconnect', { connectionId, peer, frames, ...(failure && { error: failure }) });
    });
    if (this.queueBytesFull) this.pause(connection);
    this.emit('connection', { connectionId: connection.connectionId, peer });
  }

  /**
   * At the connection limit: closes the oldest connection that has not completed a frame
   * (a slowloris, or a sender not started yet) for the newcomer. False when every
   * connection delivers frames: then the newcomer is the one refused.
   */
  private makeRoom(peer: string): boolean {
    // Map order is accept order: the first frameless connection is the oldest.
    for (const connection of this.connections.values()) {
      if (connection.frames > 0) continue;
      this.drop(
        connection,
        new NetworkError(`replaced by a newer connection: ${this.connectionLimit} connections open (--max-connections) and this one had completed no frame`, 'ERR_REPLACED'),
      );
      return true;
    }
    this.emit('problem', {
      code: 'ERR_TOO_MANY_CONNECTIONS',
      message: `refused a connection from ${peer}: all ${this.connectionLimit} connections (--max-connections) are delivering frames`,
    });
    return false;
  }

  /** A header the budget can never hold is refused before its payload comes. */
  private admit(length: number): void {
    if (length <= this.budget.maxBytes) return;
    throw new NetworkError(
      `frame of ${length} bytes refused: over the receiver's whole memory budget of ${this.budget.maxBytes} bytes (--max-buffered-bytes)`,
      'ERR_BUDGET',
    );
  }

  private received(connection: Connection, jpeg: Buffer): void {
    const frame = receivedFrame(jpeg, connection, connection.frames);
    const socket = connection.socket;
    connection.frames += 1;
    connection.lastProgress = performance.now();
    if (this.options.ack !== undefined && !this.awaitsAck && socket.writable) socket.write(this.options.ack);
    if (frame.meta?.live) {
      // A live stream is never paused for the frame count: TCP would queue seconds of stale
      // video in the socket buffers. While its previous frame still waits, the newer one
      // takes its place.
      const waiting = connection.waiting;
      if (waiting) {
        this.charge(waiting, jpeg.length);
        waiting.frame = { ...frame, droppedBefore: (waiting.frame.droppedBefore ?? 0) + 1 };
        return;
      }
      connection.waiting = { frame, connection };
      this.enqueue(connection.waiting);
      return;
    }
    if (!this.enqueue({ frame, connection })) this.pause(connection);
  }

  /** Queues a frame; false once the queue holds its count of frames (pause that sender). */
  private enqueue(slot: Slot): boolean {
    slot.connection.outstanding += 1;
    this.charge(slot, slot.frame.data.length);
    // May hand the slot straight to a waiting consumer, which calls taken() before it returns.
    return this.queue.push(slot);
  }

  /** Sets what a queued slot holds; past half the budget every sender waits for the consumer. */
  private charge(slot: Slot, bytes: number): void {
    this.queuedBytes += bytes - this.budget.heldBy(slot);
    this.budget.hold(slot, bytes);
    if (!this.queueBytesFull && this.queuedBytes >= this.budget.maxBytes / 2) {
      this.queueBytesFull = true;
      for (const connection of this.connections.values()) this.pause(connection);
    }
  }

  /** The consumer has the slot: a newer live frame must queue, not replace it. */
  private taken(slot: Slot): void {
    const connection = slot.connection;
    if (connection.waiting === slot) connection.waiting = undefined;
    if (!this.awaitsAck) connection.outstanding -= 1;
    this.queuedBytes -= this.budget.heldBy(slot);
    this.budget.release(slot);
    this.budgetFreed();
    if (this.queueBytesFull && this.queuedBytes < this.budget.maxBytes / 2) {
      this.queueBytesFull = false;
      this.resumeIfRoom();
    }
  }

  /**
   * Over budget after `grower` read more. If closing the connection with the largest
   * unfinished frame frees room for all of the grower's frame (a sender of small frames),
   * that connection is closed. Otherwise the grower waits, its socket paused, until half the
   * budget is free again or a smaller sender needs its room. So peers that declare huge frames
   * and trickle them stop being read once the budget is full (instead of being read and
   * closed over and over), while a good sender still gets through at once.
   */
  private makeBudgetRoom(grower: Connection): void {
    while (this.budget.exceeded) {
      let largest: Connection | undefined;
      for (const connection of this.connections.values()) {
        if (connection.decoder.pendingBytes === 0) continue;
        if (!largest || this.budget.heldBy(connection) > this.budget.heldBy(largest)) largest = connection;
      }
      if (!largest) return;
      const unfinished = grower.decoder.pendingBytes > 0;
      if (unfinished && (largest === grower || grower.decoder.frameBytes >= this.budget.heldBy(largest))) {
        grower.socket.pause();
        this.budgetPaused.add(grower);
        return;
      }
      this.drop(
        largest,
        new NetworkError(
          `${largest.decoder.pendingBytes} bytes of an unfinished frame, the most of any connection, when the receiver held ${this.budget.held} bytes, over its budget of ${this.budget.maxBytes} (--max-buffered-bytes)`,
          'ERR_BUDGET',
        ),
      );
    }
  }

  /** Once half the budget is free again, the connections that waited for it read on. */
  private budgetFreed(): void {
    if (this.budgetPaused.size === 0 || this.budget.held > this.budget.maxBytes / 2) return;
    for (const connection of this.budgetPaused) {
      if (!this.paused.has(connection)) connection.socket.resume();
    }
    this.budgetPaused.clear();
  }

  /**
   * Closes connections that completed no frame for `timeoutMs`, unless the consumer holds
   * them up. One waiting for budget is not spared: it is the one holding the most.
   */
  private closeIdle(timeoutMs: number): void {
    const now = performance.now();
    for (const connection of this.connections.values()) {
      if (connection.outstanding > 0 || this.paused.has(connection)) continue;
      if (now - connection.lastProgress < timeoutMs) continue;
      this.drop(connection, new NetworkError(`no frame completed in ${timeoutMs / 1000} s (--idle-timeout)`, 'ERR_IDLE_TIMEOUT'));
    }
  }

  /** Closes a connection for a reason of the receiver's; its `disconnect` event carries `reason`. */
  private drop(connection: Connection, reason: VstreamError): void {
    if (connection.closed) return;
    connection.failure ??= reason;
    this.forget(connection);
    connection.socket.destroy();
  }

  /** Leaves nothing of a closed connection behind but its frames still queued. */
  private forget(connection: Connection): void {
    connection.closed = true;
    this.connections.delete(connection.connectionId);
    this.paused.delete(connection);
    this.budgetPaused.delete(connection);
    this.budget.release(connection);
    this.budgetFreed();
  }

  private pause(connection: Connection): void {
    connection.socket.pause();
    this.paused.add(connection);
  }

  private resumeIfRoom(): void {
    if (this.queue.full || this.queueBytesFull) return;
    const now = performance.now();
    for (const connection of this.paused) {
      if (!this.budgetPaused.has(connection)) connection.socket.resume();
      connection.lastProgress = now;
    }
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
