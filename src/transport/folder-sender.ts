/**
 * The sending side of the folder transfer (docs/PROTOCOL.md, "Folder transfer"), written as
 * the reference client does it, so that the reference server takes it: `fmt|dirname`, then per
 * file `size|name` and its bytes in 1024-byte pieces, waiting for a reply after each of these,
 * and `continue` before every later file, `over` at the end.
 *
 * Replies are counted, not read: any bytes count as a reply, a reply split in two (`o`, `k`)
 * counts once, and bytes left over from an earlier reply (`okok`) are forgotten before the next
 * message, so they cannot answer it.
 */
import type { Socket } from 'node:net';
import { connectSocket } from './connect-socket.js';
import { once } from 'node:events';
import { extname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AuthError, NetworkError } from '../errors.js';
import { tlsRecordAt } from '../frame/header.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import type { Frame, ImageType } from '../frame/frame.js';
import type { Sender } from './types.js';

/** Piece size of the reference client: each piece waits for its reply. */
export const FOLDER_SEND_PIECE_BYTES = 1024;
/**
 * `continue` gets no reply and has no terminator, and the next header follows it: this pause
 * keeps the two from arriving in one `recv(1024)` of a reference server, which would then
 * misread both.
 */
export const FLAG_PAUSE_MS = 50;
/** How long a first reply byte that may be half of `ok` waits for the other half. */
const SPLIT_REPLY_MS = 50;
const DEFAULT_REPLY_TIMEOUT_MS = 10_000;

export interface FolderSenderOptions {
  host: string;
  port: number;
  /** The folder name the first message gives (the base name of `--dir`). */
  dirname: string;
  /** The first message's source type; default: the first file's extension, without the dot. */
  sourceType?: string;
  /** A server that sends no reply for this long fails the transfer (ERR_FOLDER_NO_REPLY). */
  replyTimeoutMs?: number;
  connectTimeoutMs?: number;
}

export class FolderSender implements Sender {
  readonly address: string;
  framesSent = 0;
  bytesSent = 0;
  private failure: NetworkError | AuthError | undefined;
  private receivedAny = false;
  /** Reply bytes since the last message was written, and the first of them. */
  private replyBytes = 0;
  private firstReplyByte = 0;
  private replied: (() => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    private readonly options: FolderSenderOptions,
  ) {
    this.address = formatAddress(options.host, options.port);
    socket.on('error', (err) => this.fail(networkError(`connection to ${this.address}`, err)));
    socket.on('close', () => this.fail(new NetworkError(`${this.address} closed the connection`, 'ERR_CONNECTION_CLOSED')));
    socket.on('data', (chunk: Buffer) => {
      // A receiver with a shared secret refuses a plain peer with a TLS alert (secure-socket.ts).
      if (!this.receivedAny && tlsRecordAt(chunk) === 'alert') {
        this.fail(new AuthError(`${this.address} refused this sender: it has a shared secret, and the folder protocol has none (send the folder with --dir over vstream's own protocol, or drop the receiver's secret)`));
        socket.destroy();
        return;
      }
      this.receivedAny = true;
      if (this.replyBytes === 0) this.firstReplyByte = chunk[0]!;
      this.replyBytes += chunk.length;
      this.replied?.();
    });
  }

  static async connect(options: FolderSenderOptions): Promise<FolderSender> {
    const socket = await connectSocket({ host: options.host, port: options.port, timeoutMs: options.connectTimeoutMs });
    return new FolderSender(socket, options);
  }

  /** Sends one file: its bytes as they are, under its name. */
  async send(frame: Frame | Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    const data = Buffer.isBuffer(frame) ? frame : frame.data;
    const type: ImageType = Buffer.isBuffer(frame) ? 'other' : frame.type;
    const name = (Buffer.isBuffer(frame) ? undefined : frame.name) ?? `${String(this.framesSent).padStart(6, '0')}.${typeSuffix(type)}`;
    if (this.framesSent === 0) {
      const sourceType = this.options.sourceType ?? (extname(name).slice(1) || typeSuffix(type));
      await this.message(Buffer.from(`${sourceType}|${this.options.dirname}`), 'the first message');
    } else {
      this.write(Buffer.from('continue'));
      await sleep(FLAG_PAUSE_MS);
    }
    await this.message(Buffer.from(`${data.length}|${name}`), `the header of ${name}`);
    for (let offset = 0; offset < data.length; offset += FOLDER_SEND_PIECE_BYTES) {
      await this.message(data.subarray(offset, offset + FOLDER_SEND_PIECE_BYTES), `a piece of ${name}`);
    }
    this.framesSent += 1;
  }

  /** Ends the transfer with `over` (after at least one file) and closes the connection. */
  async close(): Promise<void> {
    if (this.socket.destroyed) return;
    if (this.framesSent > 0 && !this.failure) this.write(Buffer.from('over'));
    const closed = once(this.socket, 'close').catch(() => undefined);
    this.socket.end();
    const timeoutMs = this.options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    const timer = setTimeout(() => this.socket.destroy(), timeoutMs);
    await closed;
    clearTimeout(timer);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private write(bytes: Buffer): void {
    this.socket.write(bytes);
    this.bytesSent += bytes.length;
  }

  /** Writes a message and waits for its reply, as the reference client's `send` + `recv(1024)`. */
  private async message(bytes: Buffer, what: string): Promise<void> {
    if (this.failure) throw this.failure;
    this.replyBytes = 0;
    this.write(bytes);
    await this.reply(what);
  }

  private reply(what: string): Promise<void> {
    const timeoutMs = this.options.replyTimeoutMs ?? DEFAULT_REPLY_TIMEOUT_MS;
    return new Promise<void>((resolve, reject) => {
      let split: NodeJS.Timeout | undefined;
      const done = (error?: NetworkError | AuthError) => {
        clearTimeout(timer);
        clearTimeout(split);
        this.replied = undefined;
        if (error) reject(error);
        else resolve();
      };
      const timer = setTimeout(
        () => done(new NetworkError(`no reply from ${this.address} within ${timeoutMs / 1000} s after ${what} (is a folder-transfer server listening there?)`, 'ERR_FOLDER_NO_REPLY')),
        timeoutMs,
      );
      const check = () => {
        if (this.failure) return done(this.failure);
        if (this.replyBytes === 0) return;
        // One `o` or `O` may be the first half of `ok`: its second half must not answer the next message.
        if (this.replyBytes >= 2 || (this.firstReplyByte !== 0x6f && this.firstReplyByte !== 0x4f)) return done();
        split ??= setTimeout(() => done(), SPLIT_REPLY_MS);
      };
      this.replied = check;
      check();
    });
  }

  private fail(err: NetworkError | AuthError): void {
    this.failure ??= err;
    this.replied?.();
  }
}

function typeSuffix(type: ImageType): string {
  return type === 'jpeg' ? 'jpg' : type === 'png' ? 'png' : 'bin';
}
