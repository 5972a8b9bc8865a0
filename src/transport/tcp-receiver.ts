import { createServer, type Server, type Socket } from 'node:net';
import { TcpFrameParser, DEFAULT_MAX_FRAME_BYTES } from '../reassemble/tcp-parser.js';
import { NetworkError, ProtocolError, type VstreamError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import type { Receiver } from './types.js';
import { CoreReceiver } from './core-receiver.js';
import { DEFAULT_MAX_QUEUED_FRAMES, ReceiverCore, type CoreSender } from './receiver-core.js';
import { senderToReplace } from '../reassemble/make-room.js';
import { DEFAULT_MAX_BUFFERED_BYTES, MemoryBudget } from './memory-budget.js';
import { connectionLimit } from './fd-limit.js';
import { listenTcp } from './listen.js';
import { acceptSecurely, type SecureAccept } from './secure-accept.js';
import type { Secret } from '../secret/secret.js';
import { FolderConnection, opensFolderTransfer } from './folder-connection.js';
import type { FrameMeta } from '../frame/frame.js';
import { ReplyDetector } from './reply-detector.js';
import { ackReplyFor } from '../frame/ack-reply.js';

/** Connections held open at once (lowered to what the open-file limit allows). */
export const DEFAULT_MAX_CONNECTIONS = 256;
/** A TCP connection that completes no frame for this long is closed (ERR_IDLE_TIMEOUT). */
export const DEFAULT_TCP_IDLE_TIMEOUT_MS = 30_000;
/** The name the command line knows DEFAULT_TCP_IDLE_TIMEOUT_MS by. */
export const DEFAULT_IDLE_TIMEOUT_MS = DEFAULT_TCP_IDLE_TIMEOUT_MS;

export interface TcpFrameReceiverOptions {
  /** Set: every connection is TLS authenticated by this shared secret. */
  secret?: Secret | undefined;
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
  /**
   * Which senders get `ack`: `'always'` (default) every one; `'auto'` only those that wait for
   * it, learnt per connection (src/transport/reply-detector.ts); `'never'` none.
   */
  ackMode?: 'auto' | 'always' | 'never';
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
  /**
   * Bytes that end a connection's stream where a header would start (`EOF` from the reference
   * video servers): the connection then closes cleanly. With one set, a connection that closes
   * without it lost the end of its stream (`ERR_CONNECTION_CLOSED`).
   */
  endMarker?: Buffer;
}

interface Connection extends CoreSender {
  socket: Socket;
  /** A FolderConnection once the first bytes opened a folder transfer. */
  parser: TcpFrameParser | FolderConnection;
  /** performance.now() at accept, at its last frame, or when the receiver stopped holding it up. */
  lastProgress: number;
  /** Why the receiver closed it, or what went wrong. */
  failure?: VstreamError;
  closed: boolean;
  /** Whether and when it is replied to; undefined without replies. */
  replies: ReplyDetector | undefined;
}

/** The budget's holder for all queued frames together. */
const QUEUED_FRAMES = 'queued frames';

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
export class TcpFrameReceiver extends CoreReceiver<Connection> implements Receiver {
  protected readonly core: ReceiverCore<Connection>;
  /** Paused for holding about the most of an unfinished frame when the budget is full. */
  private readonly budgetPaused = new Set<Connection>();
  private readonly budget: MemoryBudget<Connection | typeof QUEUED_FRAMES>;
  /** Set while queued frames fill their half of the budget: every socket is paused. */
  private queueBytesFull = false;
  private readonly idleTimer: NodeJS.Timeout | undefined;
  private readonly acceptor: SecureAccept;
  /** Connections held open at most. */
  readonly connectionLimit: number;

  private constructor(
    /** Undefined for a receiver that only reads connections it is handed (`adopt`): one that connects out. */
    private readonly server: Server | undefined,
    private readonly options: TcpFrameReceiverOptions,
  ) {
    super();
    const maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
    if (!Number.isSafeInteger(maxConnections) || maxConnections < 1) {
      throw new RangeError(`maxConnections must be a positive integer, got ${maxConnections}`);
    }
    this.connectionLimit = connectionLimit(maxConnections);
    this.budget = new MemoryBudget(options.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED_BYTES);
    this.core = new ReceiverCore<Connection>({
      events: this,
      ...(options.ack !== undefined && options.ackMode !== 'never' && { ack: Buffer.from(options.ack) }),
      ...(options.ackWhen !== undefined && { ackWhen: options.ackWhen }),
      highWater: options.maxQueuedFrames ?? DEFAULT_MAX_QUEUED_FRAMES,
      liveReplaces: true,
      disconnect: 'at-end',
      summary: (connection) => ({ frames: connection.completed }),
      onQueueChanged: () => this.queueChanged(),
      holdBack: () => this.queueBytesFull,
      // A frame that asks (a resumable transfer) is answered by its own seq, whatever `ack`.
      frameReply: (frame) => ackReplyFor(frame.meta),
    });
    this.acceptor = acceptSecurely(options.secret, (socket) => this.adopt(socket), (problem) => this.emit('problem', problem));
    server?.on('connection', this.acceptor);
    // After listen, only accept fails (EMFILE, ENFILE, ECONNABORTED): the server goes on.
    server?.on('error', (err) => {
      const { code, message } = networkError('cannot accept a connection', err);
      this.emit('problem', { code, message });
    });
    const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_TCP_IDLE_TIMEOUT_MS;
    if (idleTimeoutMs > 0) {
      // One sweep for all connections, not a timer each; a quarter of the timeout late at most.
      this.idleTimer = setInterval(() => this.closeIdle(idleTimeoutMs), Math.min(1000, Math.max(10, idleTimeoutMs / 4)));
      this.idleTimer.unref();
    }
  }

  /** Starts listening. Fails with a NetworkError for a busy port or an address not on this host. */
  static async listen(options: TcpFrameReceiverOptions): Promise<TcpFrameReceiver> {
    const server = createServer({ noDelay: true });
    await listenTcp(server, options.port, options.host);
    return new TcpFrameReceiver(server, options);
  }

  /**
   * A receiver with no listening socket, reading only the connections given to `adopt`: the
   * same limits, queue and replies for a receiver that connects out to its senders.
   */
  static unbound(options: Omit<TcpFrameReceiverOptions, 'port' | 'host'>): TcpFrameReceiver {
    return new TcpFrameReceiver(undefined, { ...options, port: 0 });
  }

  /** The port actually bound (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Connections open now. */
  get connectionCount(): number {
    return this.core.size;
  }

  /** Bytes charged to the memory budget now: partial frames and queued frames. */
  get bufferedBytes(): number {
    return this.budget.held;
  }

  /** Stops accepting, closes every connection, and ends the iterator after the queued frames. */
  close(): Promise<void> {
    return this.core.close(async () => {
      clearInterval(this.idleTimer);
      // Resolves once the core has closed every connection and their sockets are gone.
      const server = this.server;
      const closed = server && new Promise<void>((resolve) => server.close(() => resolve()));
      this.acceptor.close();
      await closed;
    });
  }

  /**
   * Reads frames from a connected socket as from an accepted one: what the server does with each
   * connection, and what a receiver that connected out does with its own. False when it was
   * refused (closing, or at the connection limit): the socket is destroyed.
   */
  adopt(socket: Socket): boolean {
    const peer = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.core.closing || (this.core.size >= this.connectionLimit && !this.makeRoom(peer))) {
      socket.destroy();
      return false;
    }
    // Replies (acks) are a few bytes that a waiting sender needs at once.
    socket.setNoDelay(true);
    const connection: Connection = {
      ...this.core.newSender(peer, {
        // A reply the frame asked for (a resumable transfer's ACK) is owed whatever the ack mode.
        reply: (text, asked) => {
          if (!asked) return connection.replies?.reply();
          connection.lastProgress = performance.now();
          if (socket.writable) socket.write(text);
        },
        pause: () => socket.pause(),
        resume: () => {
          if (!this.budgetPaused.has(connection)) socket.resume();
          connection.lastProgress = performance.now();
        },
        close: () => {
          connection.replies?.finish();
          socket.destroy();
        },
      }),
      socket,
      parser: new TcpFrameParser({
        maxFrameBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        onHeader: (length) => this.admit(length),
        ...(this.options.endMarker !== undefined && { endMarker: this.options.endMarker }),
      }),
      lastProgress: performance.now(),
      closed: false,
      replies: this.replyDetector(socket, peer, () => {
        // The sender could not send its next frame before this reply: its idle clock starts now.
        connection.lastProgress = performance.now();
      }),
    };
    const onFrame = (jpeg: Buffer, meta?: FrameMeta): void => {
      connection.lastProgress = performance.now();
      // A folder transfer's files (given their metadata) are answered by its own protocol.
      if (meta === undefined) connection.replies?.frameEnded();
      const frame = this.core.frame(connection, jpeg, connection.completed, undefined, meta);
      if (frame.meta?.waitsForReply === true) connection.replies?.saysItWaits();
    };

    socket.on('data', (chunk: Buffer) => {
      if (connection.closed) return;
      try {
        // Nothing received yet: a folder transfer's first message (`jpg|holiday`) is told from a frame header here.
        if (connection.parser instanceof TcpFrameParser && connection.completed === 0 && connection.parser.pendingBytes === 0 && opensFolderTransfer(chunk)) {
          connection.parser = this.folderConnection(connection);
        }
        connection.parser.push(chunk, onFrame);
      } catch (err) {
        this.drop(connection, err as VstreamError);
        return;
      }
      if (connection.closed) return;
      if (connection.parser.ended) {
        socket.destroy();
        return;
      }
      if (connection.parser.pendingBytes > 0) connection.replies?.bytesArrived();
      this.budget.hold(connection, connection.parser.retainedBytes);
      if (this.budget.exceeded) this.makeBudgetRoom(connection);
    });
    socket.on('error', (err) => {
      connection.failure ??= networkError(`connection from ${connection.peer}`, err);
    });
    socket.on('close', () => {
      // A stream that stops inside a frame lost that frame: say so, unless the receiver is closing.
      if (!connection.failure && !this.core.closing) {
        const pending = connection.parser.pendingBytes;
        if (pending > 0) {
          connection.failure = connection.parser instanceof FolderConnection ? connection.parser.truncation() : new ProtocolError(
            `connection closed in the middle of a frame (${pending} bytes of it received)`,
            'ERR_TRUNCATED_FRAME',
          );
        } else if (this.options.endMarker !== undefined && !connection.parser.ended) {
          connection.failure = new NetworkError(`connection closed before the end of the stream (no ${this.options.endMarker.toString('latin1')})`, 'ERR_CONNECTION_CLOSED');
        }
      }
      this.forget(connection);
      connection.replies?.dispose();
      this.core.end(connection, connection.failure);
    });
    // Time paused is time the sender could not be heard: its silence counts from here.
    socket.on('resume', () => connection.replies?.resumed());
    if (this.queueBytesFull) this.core.pause(connection);
    this.core.open(connection);
    return true;
  }

  /** The folder transfer's parser for a connection, with the limits frames have. */
  private folderConnection(connection: Connection): FolderConnection {
    return new FolderConnection(connection.socket, {
      maxFileBytes: this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      onHeader: (size) => this.admit(size),
      fail: (error) => this.drop(connection, error),
    });
  }

  /** How one connection is replied to, per `ackMode`; undefined when nobody is. */
  private replyDetector(socket: Socket, peer: string, onWrite: () => void): ReplyDetector | undefined {
    const { ack, ackMode = 'always' } = this.options;
    if (ack === undefined || ackMode === 'never') return undefined;
    const text = Buffer.from(ack);
    return new ReplyDetector({
      mode: ackMode,
      write: () => {
        onWrite();
        if (socket.writable) socket.write(text);
      },
      unreadBytes: () => socket.writableLength,
      reading: () => !socket.isPaused(),
      onStopped: (unread) =>
        this.emit('problem', {
          code: 'ERR_REPLIES_UNREAD',
          message: `${peer}: stopped replying: ${unread} bytes of replies are still unread`,
        }),
    });
  }

  /**
   * At the connection limit: closes the oldest connection that has not completed a frame
   * (a slowloris, or a sender not started yet) for the newcomer. False when every
   * connection delivers frames: then the newcomer is the one refused.
   */
  private makeRoom(peer: string): boolean {
    // Map order is accept order: the first frameless connection is the oldest.
    const victim = senderToReplace(this.core.openSenders(), (connection) => connection.completed > 0);
    if (victim) {
      this.drop(
        victim,
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

  /** Queued frames are charged to the budget; past half of it every sender waits for the consumer. */
  private queueChanged(): void {
    const queuedBytes = this.core.queuedBytes;
    this.budget.hold(QUEUED_FRAMES, queuedBytes);
    this.budgetFreed();
    if (!this.queueBytesFull && queuedBytes >= this.budget.maxBytes / 2) {
      this.queueBytesFull = true;
      this.core.pauseAll();
    } else if (this.queueBytesFull && queuedBytes < this.budget.maxBytes / 2) {
      this.queueBytesFull = false;
      this.core.resumeIfRoom();
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
      for (const connection of this.core.openSenders()) {
        if (connection.parser.pendingBytes === 0) continue;
        if (!largest || this.budget.heldBy(connection) > this.budget.heldBy(largest)) largest = connection;
      }
      if (!largest) return;
      const unfinished = grower.parser.pendingBytes > 0;
      if (unfinished && (largest === grower || grower.parser.frameBytes >= this.budget.heldBy(largest))) {
        grower.socket.pause();
        this.budgetPaused.add(grower);
        return;
      }
      this.drop(
        largest,
        new NetworkError(
          `${largest.parser.pendingBytes} bytes of an unfinished frame, the most of any connection, when the receiver held ${this.budget.held} bytes, over its budget of ${this.budget.maxBytes} (--max-buffered-bytes)`,
          'ERR_BUDGET',
        ),
      );
    }
  }

  /** Once half the budget is free again, the connections that waited for it read on. */
  private budgetFreed(): void {
    if (this.budgetPaused.size === 0 || this.budget.held > this.budget.maxBytes / 2) return;
    for (const connection of this.budgetPaused) {
      if (!this.core.isPaused(connection)) connection.socket.resume();
    }
    this.budgetPaused.clear();
  }

  /**
   * Closes connections that completed no frame for `timeoutMs`, unless the consumer holds
   * them up. One waiting for budget is not spared: it is the one holding the most.
   */
  private closeIdle(timeoutMs: number): void {
    const now = performance.now();
    for (const connection of this.core.openSenders()) {
      if (this.core.holdsUp(connection)) continue;
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
    this.core.remove(connection);
    this.budgetPaused.delete(connection);
    this.budget.release(connection);
    this.budgetFreed();
  }
}
