/**
 * A FrameSource over a byte stream of concatenated JPEGs: ffmpeg's stdout or standard input.
 *
 * Not live: frames are read only as the consumer asks for them, so a busy consumer leaves the
 * stream paused and the pipe full, and the writer (ffmpeg, or whatever feeds stdin) waits.
 * Live: the stream is drained as fast as it comes into a LatestFrameSlot, which drops stale
 * frames instead of letting them queue.
 */
import { SourceError } from '../errors.js';
import type { SourceFrame } from '../frame/types.js';
import { LatestFrameSlot } from './latest-frame.js';
import { MjpegSplitter } from './mjpeg-splitter.js';
import type { FrameSource } from './types.js';

/** The process writing the stream, when there is one. */
export interface Producer {
  /** Resolves when it ended cleanly (or was stopped); rejects with its typed error otherwise. */
  wait(): Promise<void>;
  /** Stops it; resolves once it is gone. */
  stop(): Promise<void>;
}

export interface MjpegStreamOptions {
  input: AsyncIterable<unknown> & { destroy?(): unknown };
  live: boolean;
  description: string;
  producer?: Producer;
  maxFrameBytes?: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function mjpegStreamSource(options: MjpegStreamOptions): FrameSource {
  return new MjpegStreamSource(options);
}

class MjpegStreamSource implements FrameSource {
  readonly live: boolean;
  readonly description: string;
  private readonly slot: LatestFrameSlot<SourceFrame> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private iterated = false;

  constructor(private readonly options: MjpegStreamOptions) {
    this.live = options.live;
    this.description = options.description;
    if (options.live) {
      this.slot = new LatestFrameSlot();
      void this.pump(this.slot);
    }
  }

  get dropped(): number {
    return this.slot?.dropped ?? 0;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SourceFrame> {
    if (this.iterated) throw new Error(`${this.description}: a FrameSource can be iterated only once`);
    this.iterated = true;
    try {
      yield* (this.slot ?? this.readFrames());
    } finally {
      await this.close();
    }
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true;
      this.slot?.close();
      this.options.input.destroy?.();
      await this.options.producer?.stop();
    })();
    return this.closing;
  }

  private async pump(slot: LatestFrameSlot<SourceFrame>): Promise<void> {
    try {
      for await (const frame of this.readFrames()) slot.put(frame);
      slot.end();
    } catch (error) {
      slot.fail(error);
    }
  }

  /** Frames in stream order; ends quietly once closed, and with the producer's error if it failed. */
  private async *readFrames(): AsyncGenerator<SourceFrame> {
    const { input, producer, maxFrameBytes } = this.options;
    const splitter = new MjpegSplitter(maxFrameBytes === undefined ? {} : { maxFrameBytes });
    const chunks = input[Symbol.asyncIterator]();
    try {
      for (;;) {
        let step: IteratorResult<unknown>;
        try {
          step = await chunks.next();
        } catch (error) {
          if (this.closed) return;
          throw new SourceError(`cannot read ${this.description}: ${(error as Error).message}`, 'ERR_SOURCE_READ', { cause: error });
        }
        if (this.closed) return;
        if (step.done) break;
        const captureTime = nowMs();
        for (const jpeg of splitter.push(toBuffer(step.value))) yield { jpeg, captureTime };
      }
      // The producer's exit status explains an early end better than a truncated frame does.
      await producer?.wait();
      if (this.closed) return;
      splitter.end();
    } finally {
      await chunks.return?.();
    }
  }
}

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError('an MJPEG stream must yield bytes; do not set an encoding on it');
}
