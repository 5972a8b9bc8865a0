/**
 * Sends to the reference UDP servers: per JPEG, its length as a C `long` in one datagram, the
 * JPEG in 1024-byte datagrams (or, `format: 'whole'`, the JPEG as one datagram, for servers that
 * decode every datagram), then a wait for the server's text reply (stop-and-wait). The format
 * is in docs/PROTOCOL.md, "Legacy UDP".
 */
import type { Socket } from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { frameMeta } from '../frame/frame-meta.js';
import { isPng } from '../frame/png-chunks.js';
import { LEGACY_PIECE_BYTES, legacyLengthDatagram, legacyPieces, MAX_LEGACY_PIECE_BYTES, maxDatagramBytes } from '../frame/legacy-udp.js';
import { frameBytes, partsLength, payloadParts } from '../frame/payload.js';
import { NetworkError, UsageError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import { connectUdp } from './udp-socket.js';
import type { Frame } from '../frame/frame.js';
import type { Sender, SendOptions } from './types.js';

/** Pieces sent back to back between pauses. */
const PACE_BURST = 16;
/**
 * The time allowed per piece: the larger of a floor and twice what the reference server needs.
 * It appends each piece to a `bytes` object (`data += piece`), copying all it holds: measured
 * at ~6 µs plus ~0.5 µs per KiB already received (x86-64, Python 3.11), so a 1 MB image costs
 * it ~250 ms, and a burst overflows its 208 KiB socket buffer (~150 pieces). The floor, 8
 * pieces per ms, is for a server the scheduler keeps waiting: on a loopback with both CPUs
 * busy, 16 per ms lost a piece in 6 of 40 runs of ten 640x480 images, 8 per ms in none.
 */
const MIN_PIECE_MS = 0.125;
const PIECE_COST_MS = 0.012;
const PIECE_COST_MS_PER_KIB = 0.001;

/** How an image travels: a length datagram and pieces (the reference client), or one datagram. */
export type LegacyFormat = 'chunked' | 'whole';

export interface LegacyUdpSenderOptions {
  host: string;
  port: number;
  /** `'chunked'` (default): a length datagram, then pieces. `'whole'`: each image as one datagram, nothing else. */
  format?: LegacyFormat;
  /**
   * With `format: 'whole'`, told of each image too large for one datagram, which is then
   * skipped (counted in `framesSkipped`) instead of rejecting `send` with ERR_UDP_FRAME_TOO_LARGE.
   */
  onTooLarge?: (error: UsageError) => void;
  /**
   * With `format: 'whole'`: a receiver that has not replied to the first image within the
   * reply timeout is taken for one that never replies (a server that only decodes each
   * datagram); this is told why, and the later images are sent without waiting.
   */
  onNoReplies?: (error: NetworkError) => void;
  /** How long to wait for the receiver's reply after each image (ms). Default 2000. */
  replyTimeoutMs?: number;
  /** Bytes per data datagram. Default 1024, what the reference server reads; larger only for vstream receivers. */
  pieceSize?: number;
  /**
   * Size of the length datagram: 8 (default) is a `long` on 64-bit Linux and macOS; 4 is a
   * `long` on 32-bit ARM (Raspberry Pi OS armhf) and Windows. Little-endian either way.
   */
  lengthBytes?: 4 | 8;
  /** Put vstream metadata inside each JPEG (an APP7 segment cv2.imdecode skips). Default true. */
  metadata?: boolean;
  /** Sent in every frame's metadata; a vstream receiver names the stream by it. */
  label?: string;
  /**
   * Scales the pauses between bursts of pieces: 1 (default) suits a Python reference server on
   * a desktop CPU, more for a slower machine, 0 sends without pauses (a vstream receiver keeps
   * up).
   */
  pacing?: number;
}

/**
 * One legacy UDP receiver, one image at a time: `send` resolves when the receiver has replied,
 * so a live source keeps only its newest frame meanwhile. A missing reply rejects that `send`
 * with ERR_ACK_TIMEOUT and leaves the sender usable (the receiver may have lost one datagram).
 */
export class LegacyUdpSender implements Sender {
  readonly address: string;
  framesSent = 0;
  bytesSent = 0;
  /** Images not sent because one datagram cannot hold them (`format: 'whole'` with `onTooLarge`). */
  framesSkipped = 0;
  /** The largest datagram this socket's family can send. */
  readonly maxDatagramBytes: number;
  private readonly replyTimeoutMs: number;
  /** With `whole`: some image was replied to, so a missing reply later is a lost datagram. */
  private everReplied = false;
  /** With `whole`: the first image got no reply, so none is waited for. */
  private repliesNever = false;
  private readonly pieceSize: number;
  private readonly pacing: number;
  private replies = 0;
  private socketError: Error | undefined;
  private replyWaiter: ((err?: Error) => void) | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly options: LegacyUdpSenderOptions,
  ) {
    this.address = formatAddress(options.host, options.port);
    this.replyTimeoutMs = options.replyTimeoutMs ?? 2000;
    this.pieceSize = options.pieceSize ?? LEGACY_PIECE_BYTES;
    this.pacing = options.pacing ?? 1;
    const remote = socket.remoteAddress();
    // An IPv4-mapped address (::ffff:a.b.c.d) leaves as IPv4, with IPv4's header and limit.
    this.maxDatagramBytes = maxDatagramBytes(remote.family === 'IPv6' && !/^::ffff:/i.test(remote.address) ? 'IPv6' : 'IPv4');
    // The socket is connected: only the receiver's datagrams arrive, and any of them is a reply.
    socket.on('message', () => {
      this.replies += 1;
      this.settle();
    });
    socket.on('error', (err) => {
      this.socketError = err;
      this.settle();
    });
  }

  /** Resolves the host and opens a socket towards it; nothing is sent until the first `send`. */
  static async open(options: LegacyUdpSenderOptions): Promise<LegacyUdpSender> {
    const pieceSize = options.pieceSize ?? LEGACY_PIECE_BYTES;
    if (!Number.isSafeInteger(pieceSize) || pieceSize < 1 || pieceSize > MAX_LEGACY_PIECE_BYTES) {
      throw new UsageError(`piece size must be 1 to ${MAX_LEGACY_PIECE_BYTES} bytes, got ${pieceSize}`, 'ERR_BAD_PACKET_SIZE');
    }
    if (options.format !== undefined && options.format !== 'chunked' && options.format !== 'whole') {
      throw new UsageError(`legacy format must be chunked or whole, got ${String(options.format)}`);
    }
    if (options.lengthBytes !== undefined && options.lengthBytes !== 4 && options.lengthBytes !== 8) {
      throw new UsageError(`length datagram must be 4 or 8 bytes, got ${String(options.lengthBytes)}`);
    }
    if (options.pacing !== undefined && !(Number.isFinite(options.pacing) && options.pacing >= 0)) {
      throw new UsageError(`pacing must be a number >= 0, got ${options.pacing}`);
    }
    const timeout = options.replyTimeoutMs ?? 2000;
    if (!(Number.isFinite(timeout) && timeout > 0)) throw new UsageError(`reply timeout must be a positive number of ms, got ${timeout}`);
    const socket = await connectUdp({ host: options.host, port: options.port });
    return new LegacyUdpSender(socket, options);
  }

  /**
   * Sends one frame (or bare JPEG) and waits for the reply. Rejects with a NetworkError
   * (ERR_ACK_TIMEOUT, ...), or with `format: 'whole'` a UsageError ERR_UDP_FRAME_TOO_LARGE for
   * an image one datagram cannot hold (unless `onTooLarge` is set: then it is skipped).
   */
  async send(frame: Frame | Buffer, options: SendOptions = {}): Promise<void> {
    if (this.closed) throw new NetworkError(`the sender to ${this.address} is closed`, 'ERR_CONNECTION_CLOSED');
    // Metadata goes inside a JPEG (a segment) or a PNG (a chunk); other bytes travel as they are.
    const bytes = frameBytes(frame);
    const meta = isJpeg(bytes) || isPng(bytes) ? frameMeta(frame, { ...this.options, ...options, seq: options.seq ?? this.framesSent }) : undefined;
    const payload = payloadParts(frame, meta);
    const imageBytes = partsLength(payload);
    if (this.options.format === 'whole') return this.sendWhole(frame, payload, imageBytes);
    const header = legacyLengthDatagram(imageBytes, this.options.lengthBytes ?? 8);
    const pieces = legacyPieces(payload, this.pieceSize);

    // Stop-and-wait: replies and errors from before this image belong to an earlier one.
    this.replies = 0;
    this.socketError = undefined;
    await this.datagram(header);
    for (const [n, piece] of pieces.entries()) {
      // A Python recvfrom loop falls behind a burst of hundreds of datagrams and the kernel
      // drops the overflow; a short pause now and then lets it drain its socket buffer.
      if (n > 0 && n % PACE_BURST === 0 && this.pacing > 0) await sleep(this.pauseMs(n * this.pieceSize));
      await this.datagram(piece);
    }
    this.framesSent += 1;
    this.bytesSent += header.length + imageBytes;
    await this.waitForReply();
  }

  /** The image as one datagram, then the wait for the reply. */
  private async sendWhole(frame: Frame | Buffer, payload: Buffer[], imageBytes: number): Promise<void> {
    if (imageBytes > this.maxDatagramBytes) {
      const name = Buffer.isBuffer(frame) || frame.name === undefined ? 'an image' : `image ${JSON.stringify(frame.name)}`;
      const error = new UsageError(
        `${name} of ${imageBytes} bytes does not fit one UDP datagram (at most ${this.maxDatagramBytes} bytes to ${this.address}): use --legacy chunked, or a smaller --size or --quality`,
        'ERR_UDP_FRAME_TOO_LARGE',
      );
      if (!this.options.onTooLarge) throw error;
      this.framesSkipped += 1;
      this.options.onTooLarge(error);
      return;
    }
    this.replies = 0;
    this.socketError = undefined;
    await this.datagram(payload);
    this.framesSent += 1;
    this.bytesSent += imageBytes;
    if (this.repliesNever) return;
    try {
      await this.waitForReply();
      this.everReplied = true;
    } catch (err) {
      const silent = err instanceof NetworkError && err.code === 'ERR_ACK_TIMEOUT' && !this.everReplied && this.framesSent === 1;
      if (!silent || !this.options.onNoReplies) throw err;
      // Servers that cv2.imdecode every datagram often answer nothing: waiting would stop here.
      this.repliesNever = true;
      this.options.onNoReplies(err);
    }
  }

  /** Closes the socket (nothing is pending on a datagram socket once `send` has resolved). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.replyWaiter?.(new NetworkError(`the sender to ${this.address} was closed`, 'ERR_CONNECTION_CLOSED'));
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  destroy(): void {
    void this.close();
  }

  /** The pause before the burst that starts at `offset`. */
  private pauseMs(offset: number): number {
    const perPiece = Math.max(MIN_PIECE_MS, PIECE_COST_MS + (PIECE_COST_MS_PER_KIB * offset) / 1024);
    return this.pacing * PACE_BURST * perPiece;
  }

  private datagram(data: Buffer | Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.send(data, (err) => {
        if (err) reject(this.failure(err));
        else resolve();
      });
    });
  }

  private waitForReply(): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.replyWaiter = undefined;
        reject(
          new NetworkError(
            `no reply from ${this.address} within ${this.replyTimeoutMs} ms (is it a legacy UDP receiver?)`,
            'ERR_ACK_TIMEOUT',
          ),
        );
      }, this.replyTimeoutMs);
      this.replyWaiter = (err) => {
        clearTimeout(timer);
        this.replyWaiter = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.settle();
    });
  }

  private settle(): void {
    if (!this.replyWaiter) return;
    if (this.replies > 0) {
      this.replies -= 1;
      this.replyWaiter();
    } else if (this.socketError) {
      this.replyWaiter(this.failure(this.socketError));
    }
  }

  private failure(err: Error): NetworkError {
    if ((err as NodeJS.ErrnoException).code === 'ECONNREFUSED') {
      return new NetworkError(
        `no reply from ${this.address}: nothing listens on that UDP port (is a legacy UDP receiver running there?)`,
        'ERR_CONNECTION_REFUSED',
        { cause: err },
      );
    }
    return networkError(`sending to ${this.address}`, err);
  }
}

function isJpeg(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8;
}
