/**
 * A FrameSource over a byte stream cut into frames by a splitter: ffmpeg's stdout (MJPEG, or
 * Y4M that the libjpeg-turbo addon encodes) or standard input (MJPEG).
 *
 * Not live: frames are read only as the consumer asks for them, so a busy consumer leaves the
 * stream paused and the pipe full, and the writer (ffmpeg, or whatever feeds stdin) waits; one
 * frame is encoded ahead while the consumer sends the previous one.
 * Live: the stream is drained as fast as it comes into a NewestWinsQueue (one key, every item live), which drops stale
 * frames instead of letting them queue; only the frames taken from it are encoded.
 */
import { SourceError } from '../errors.js';
import type { Frame } from '../frame/frame.js';
import { NewestWinsQueue } from '../flow/newest-wins-queue.js';
import type { FrameSource } from './types.js';

/** The process writing the stream, when there is one. */
export interface Producer {
  /** Resolves when it ended cleanly (or was stopped); rejects with its typed error otherwise. */
  wait(): Promise<void>;
  /** Stops it; resolves once it is gone. */
  stop(): Promise<void>;
}

/** Cuts a byte stream into items (JPEGs, raw frames); throws a typed error on bad input. */
export interface Splitter<T> {
  push(chunk: Buffer): Iterable<T>;
  /** The stream ended: throws if it ended inside an item. */
  end(): void;
}

export interface StreamSourceOptions<T> {
  input: AsyncIterable<unknown> & { destroy?(): unknown };
  live: boolean;
  description: string;
  producer?: Producer;
  splitter: Splitter<T>;
  /** Makes the frame of an item (encodes a raw frame; a JPEG is already one). */
  toFrame(item: T, captureTime: number): Frame | Promise<Frame>;
  /** Not live: start making the next frame while the consumer has the current one. */
  encodeAhead?: boolean;
}

/** An item with the time its last byte arrived. */
interface Captured<T> {
  item: T;
  captureTime: number;
}

/** Wall-clock milliseconds with sub-millisecond resolution. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export class StreamSource<T> implements FrameSource {
  readonly live: boolean;
  readonly description: string;
  private readonly slot: NewestWinsQueue<0, Captured<T>> | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private iterated = false;

  constructor(private readonly options: StreamSourceOptions<T>) {
    this.live = options.live;
    this.description = options.description;
    if (options.live) {
      this.slot = new NewestWinsQueue();
      void this.pump(this.slot);
    }
  }

  get dropped(): number {
    return this.slot?.dropped ?? 0;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Frame> {
    if (this.iterated) throw new Error(`${this.description}: a FrameSource can be iterated only once`);
    this.iterated = true;
    const toFrame = ({ item, captureTime }: Captured<T>) => this.options.toFrame(item, captureTime);
    try {
      if (this.slot) {
        for await (const captured of this.slot) yield await toFrame(captured);
        return;
      }
      if (!this.options.encodeAhead) {
        for await (const captured of this.readItems()) yield await toFrame(captured);
        return;
      }
      // One frame encoded ahead, on the thread pool, while the consumer sends the one before.
      let ahead: Promise<Frame> | undefined;
      try {
        for await (const captured of this.readItems()) {
          const next = Promise.resolve(toFrame(captured));
          next.catch(() => {}); // awaited in turn; this only stops it counting as unhandled meanwhile
          if (ahead) yield await ahead;
          ahead = next;
        }
      } catch (error) {
        // The frames before a failure are delivered before it.
        if (ahead) yield await ahead;
        throw error;
      }
      if (ahead) yield await ahead;
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

  private async pump(slot: NewestWinsQueue<0, Captured<T>>): Promise<void> {
    try {
      for await (const captured of this.readItems()) slot.push(0, captured, { live: true });
      slot.end();
    } catch (error) {
      slot.fail(error);
    }
  }

  /** Items in stream order; ends quietly once closed, and with the producer's error if it failed. */
  private async *readItems(): AsyncGenerator<Captured<T>> {
    const { input, producer, splitter } = this.options;
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
        for (const item of splitter.push(toBuffer(step.value))) yield { item, captureTime };
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
  throw new TypeError('a frame stream must yield bytes; do not set an encoding on it');
}
