/**
 * The receiving end of a video asked for by name: the frames of one connection, read by a
 * TcpFrameReceiver with all its limits, replying `Rec` once the sinks are done with each frame,
 * and `EOF` instead when the user has seen enough (`--frames N`, a signal). The video's `EOF`
 * ends the iteration; a connection lost before it is the iteration's error.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import type { VstreamError } from '../../errors.js';
import type { ReceivedFrame } from '../../frame/frame.js';
import { TcpFrameReceiver } from '../tcp-receiver.js';
import type { Receiver, ReceiverEvents } from '../types.js';
import { END, RECEIVED } from './wire.js';

/** After sending `EOF`, how long the server has to close before the connection is dropped. */
const END_GRACE_MS = 1000;

export interface RequestedVideoOptions {
  socket: Socket;
  /** `host:port` of the server, for messages. */
  address: string;
  /** The frames that came in the same segments as `True`. */
  rest: Buffer;
  maxFrameBytes: number | undefined;
  maxBufferedBytes: number | undefined;
  /** After this many frames `EOF` is the reply instead of `Rec`. */
  frames: number | undefined;
}

export class RequestedVideo extends EventEmitter<ReceiverEvents> implements Receiver {
  private readonly inner: TcpFrameReceiver;
  private readonly socket: Socket;
  private acknowledged = 0;
  /** Set once this end has said `EOF`: then the connection may close any way it likes. */
  private endSent = false;
  private failure: VstreamError | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: RequestedVideoOptions) {
    super();
    this.socket = options.socket;
    this.inner = TcpFrameReceiver.unbound({
      maxFrameBytes: options.maxFrameBytes,
      maxBufferedBytes: options.maxBufferedBytes,
      ack: RECEIVED,
      ackWhen: 'manual',
      endMarker: END,
    });
    this.inner.on('connection', (info) => this.emit('connection', info));
    this.inner.on('problem', (problem) => this.emit('problem', problem));
    this.inner.on('disconnect', ({ error, ...info }) => {
      // Said once, as the command's error, when the iteration ends.
      if (error && !this.endSent) {
        error.message = `${options.address}: ${error.message}, after ${info.frames} frames`;
        this.failure = error;
      }
      this.emit('disconnect', info);
      void this.inner.close();
    });
    // Adopted once the caller has its listeners on, so that it hears of the connection.
    setImmediate(() => {
      if (this.closing) return;
      if (options.rest.length > 0) this.socket.unshift(options.rest);
      if (this.inner.adopt(this.socket)) this.socket.resume();
    });
  }

  /** The server's port. */
  get port(): number {
    return this.socket.remotePort ?? 0;
  }

  get queued(): number {
    return this.inner.queued;
  }

  acknowledge(frame: ReceivedFrame): void {
    this.acknowledged += 1;
    if (this.options.frames !== undefined && this.acknowledged >= this.options.frames) this.sayEnd();
    else this.inner.acknowledge(frame);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<ReceivedFrame> {
    for await (const frame of this.inner) yield frame;
    if (this.failure) throw this.failure;
  }

  /** Says `EOF` unless the video has ended, gives the server a moment to close, and stops. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (!this.socket.destroyed) {
        this.sayEnd();
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, END_GRACE_MS);
          timer.unref();
          this.socket.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      this.socket.destroy();
      await this.inner.close();
    })();
    return this.closing;
  }

  private sayEnd(): void {
    if (this.endSent) return;
    this.endSent = true;
    if (this.socket.writable) this.socket.end(END);
  }
}
