import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { OutputError } from '../errors.js';
import { jpegDimensions } from '../decode/jpeg-info.js';
import { bytesPerPixel, decodePixels, type PixelFormat } from '../decode/pixels.js';
import type { Size } from '../source/types.js';
import type { ReceivedFrame } from '../transport/types.js';
import type { FrameSink } from './types.js';
import { StreamWriter } from './stream-writer.js';

/** Decodes running at once: decodes run on libuv's pool, so two keep two cores busy. */
const DEFAULT_CONCURRENCY = 2;
/** Enough for the decodes in flight plus the frames the output still holds. */
const MAX_FREE_BUFFERS = 4;

/**
 * `recv --format rgb24|bgr24|gray`: decoded frames of one fixed size written back to back, in
 * arrival order, so a numpy script reads `width * height * channels` bytes a frame. Without
 * `--size` the first frame's size is used for all. A frame that fails to decode is skipped
 * (counted) rather than ending the stream.
 */
export class RawOutputSink implements FrameSink {
  /** Frames decoding or waiting to be written, oldest first: each entry settles once written. */
  private readonly inFlight: Array<Promise<void>> = [];
  private writing: Promise<void> = Promise.resolve();
  private size: Size | undefined;
  /** Frame buffers ready for reuse (all of the one output size). */
  private readonly free: Buffer[] = [];
  skipped = 0;

  private constructor(
    private readonly out: StreamWriter,
    private readonly ownsStream: boolean,
    private readonly format: PixelFormat,
    size: Size | undefined,
    private readonly concurrency: number,
  ) {
    this.size = size;
  }

  static async open(target: string, format: PixelFormat, size?: Size, concurrency = DEFAULT_CONCURRENCY): Promise<RawOutputSink> {
    if (target === '-') return new RawOutputSink(new StreamWriter(process.stdout, 'standard output'), false, format, size, concurrency);
    const stream = createWriteStream(target);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw new OutputError(`cannot write ${target}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new RawOutputSink(new StreamWriter(stream, target), true, format, size, concurrency);
  }

  /** Resolves when another decode may start: at most `concurrency` run at once. */
  async write(frame: ReceivedFrame): Promise<void> {
    this.size ??= jpegDimensions(frame.jpeg);
    const size = this.size;
    const into = size && this.takeBuffer(size);
    const decoded = size
      ? decodePixels(frame.jpeg, this.format, size, into).catch(() => undefined)
      : Promise.resolve(undefined);
    // Written strictly in order: each write waits for the previous one and its own decode.
    this.writing = this.writing.then(async () => {
      const pixels = await decoded;
      // sharp's results are new Buffers: then `into` was never used.
      const inInto = pixels !== undefined && into !== undefined && pixels.buffer === into.buffer;
      if (into && !inInto) this.releaseBuffer(into);
      if (pixels) await this.out.write([pixels], inInto ? () => this.releaseBuffer(into) : undefined);
      else this.skipped += 1;
    });
    const written = this.writing.finally(() => {
      this.inFlight.shift();
    });
    this.inFlight.push(written.catch(() => undefined));
    // Backpressure: a slow reader of the output holds the receiver here, not in memory.
    while (this.inFlight.length >= this.concurrency) await this.inFlight[0];
    if (this.out.failed) await this.writing;
  }

  /**
   * A frame buffer: one the output is done with, else a new one. Decoding into the same few
   * buffers spares the allocator, fresh pages and the garbage collector a megabyte a frame.
   */
  private takeBuffer(size: Size): Buffer {
    const bytes = size.width * size.height * bytesPerPixel(this.format);
    return this.free.pop() ?? Buffer.allocUnsafeSlow(bytes);
  }

  private releaseBuffer(buffer: Buffer): void {
    if (this.free.length < MAX_FREE_BUFFERS) this.free.push(buffer);
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    if (!this.ownsStream || this.out.failed) return;
    const finished = once(this.out.stream, 'finish');
    this.out.stream.end();
    await finished;
  }
}
