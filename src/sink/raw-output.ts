import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { OutputError } from '../errors.js';
import { bytesPerPixel, decodePixels, imageSize, noSizeReason, type PixelFormat } from '../decode/pixels.js';
import { PixelLimitError, exceedsPixelLimit } from '../decode/limits.js';
import { MAX_DECODE_PIXELS } from '../decode/turbo.js';
import type { ProblemReporter } from '../problems.js';
import { wireText } from '../text/wire-text.js';
import type { Size } from '../frame/frame.js';
import type { ReceivedFrame } from '../frame/frame.js';
import type { DropListener, FrameSink } from './types.js';
import { StreamWriter } from './stream-writer.js';
import { UsageError } from '../errors.js';
import { parseBytes, parseSize } from '../options/parsers.js';
import { value, valueOr } from '../options/schema.js';
import { PIXEL_FORMATS } from '../decode/pixels.js';

/** What `recv --output` writes: the JPEGs as sent (PNGs as JPEGs), or decoded pixels. */
export type OutputFormat = 'jpeg' | PixelFormat;

/** `--format`, `--size` and `--max-pixels`, the options of decoded output; see outputSinkKind. */
export const rawOutputOptions = {
  format: valueOr(
    '--format <jpeg|rgb24|bgr24|gray>',
    'what --output writes: JPEGs as sent (default), or decoded frames back to back',
    (text): OutputFormat => {
      if (text !== 'jpeg' && !(PIXEL_FORMATS as readonly string[]).includes(text)) {
        throw new UsageError(`invalid --format "${text}": expected jpeg, ${PIXEL_FORMATS.join(', ')}`);
      }
      return text as OutputFormat;
    },
    'jpeg' as OutputFormat,
  ),
  size: value('--size <WxH>', "with a pixel --format: scale every frame to this size (default: the first decoded frame's)", parseSize),
  maxPixels: valueOr('--max-pixels <n>', `decode no frame claiming more pixels, e.g. 16M (default ${MAX_DECODE_PIXELS / 2 ** 20}M)`, (text) => parseBytes('--max-pixels', text), MAX_DECODE_PIXELS),
};

/** Decodes running at once: decodes run on libuv's pool, so two keep two cores busy. */
const DEFAULT_CONCURRENCY = 2;
/** Enough for the decodes in flight plus the frames the output still holds. */
const MAX_FREE_BUFFERS = 4;
/**
 * Frame buffers kept for reuse, in bytes. A peer can make the first frame that decodes 64 Mpx
 * (192 MB a frame in rgb24): then no buffer is kept beyond the ones in use.
 */
const MAX_FREE_BYTES = 64 * 1024 * 1024;
/** Frames bigger than this decode one at a time: two in flight would be hundreds of MB. */
const MAX_PARALLEL_FRAME_BYTES = 32 * 1024 * 1024;
/** Longest reason from a decoder (libjpeg, sharp) a problem line carries. */
const MAX_REASON_CHARS = 160;

export interface RawOutputOptions {
  /** The size every frame is scaled to. Unset: the size of the first frame that decodes. */
  size?: Size;
  /** Frames whose header claims more pixels are dropped undecoded. Default `MAX_DECODE_PIXELS`. */
  maxPixels?: number;
  /** Told of every frame dropped: `ERR_PIXEL_LIMIT`, or `ERR_BAD_JPEG` for one that did not decode (as the window names it). */
  report?: ProblemReporter;
  /** Decodes running at once. */
  concurrency?: number;
}

/**
 * `recv --format rgb24|bgr24|gray`: decoded frames of one fixed size written back to back, in
 * arrival order, so a numpy script reads `width * height * channels` bytes a frame. Without
 * `--size` the size of the first frame that decodes is used for all; frames of other sizes are
 * scaled to it. A frame over the pixel limit, or one that fails to decode, is dropped (counted
 * and reported) rather than ending the stream.
 */
export class RawOutputSink implements FrameSink {
  /** Frames decoding or waiting to be written, oldest first: each entry settles once written. */
  private readonly inFlight: Array<Promise<void>> = [];
  private writing: Promise<void> = Promise.resolve();
  private size: Size | undefined;
  /** Frame buffers ready for reuse (all of the one output size). */
  private readonly free: Buffer[] = [];
  private readonly maxPixels: number;
  private readonly report: ProblemReporter;
  private readonly concurrency: number;
  /** Frames dropped: over the pixel limit, or not decodable. */
  skipped = 0;
  private onDrop: DropListener = () => {};

  private constructor(
    private readonly out: StreamWriter,
    private readonly ownsStream: boolean,
    private readonly format: PixelFormat,
    options: RawOutputOptions,
  ) {
    this.size = options.size;
    this.maxPixels = options.maxPixels ?? MAX_DECODE_PIXELS;
    this.report = options.report ?? (() => {});
    this.concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  }

  static async open(target: string, format: PixelFormat, options: RawOutputOptions = {}): Promise<RawOutputSink> {
    if (target === '-') return new RawOutputSink(new StreamWriter(process.stdout, 'standard output'), false, format, options);
    const stream = createWriteStream(target);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw new OutputError(`cannot write ${target}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new RawOutputSink(new StreamWriter(stream, target), true, format, options);
  }

  reportDropsTo(listener: DropListener): void {
    this.onDrop = listener;
  }

  /** Resolves when another decode may start: at most `concurrency` run at once. */
  async write(frame: ReceivedFrame): Promise<void> {
    // The header's claim is checked before a byte is allocated or decoded for the frame.
    const image = imageSize(frame);
    if (image && exceedsPixelLimit(image, this.maxPixels)) return this.drop(frame, new PixelLimitError(image, this.maxPixels));
    if (this.size === undefined) return this.writeFirst(frame, image);
    const size = this.size;
    const into = this.takeBuffer(size);
    const decoded = decodePixels(frame, this.format, size, into, this.maxPixels).catch((err: unknown) => err as Error);
    // Written strictly in order: each write waits for the previous one and its own decode.
    this.writing = this.writing.then(async () => {
      const pixels = await decoded;
      // sharp's results are new Buffers: then `into` was never used.
      const inInto = Buffer.isBuffer(pixels) && pixels.buffer === into.buffer;
      if (!inInto) this.releaseBuffer(into);
      if (Buffer.isBuffer(pixels)) await this.out.write([pixels], inInto ? () => this.releaseBuffer(into) : undefined);
      else this.drop(frame, pixels);
    });
    await this.queued(this.writing);
  }

  /**
   * Until the output size is fixed, frames decode one at a time at their own size: the first
   * that decodes fixes it. One that claims a size and then fails to decode must not.
   */
  private async writeFirst(frame: ReceivedFrame, image: Size | undefined): Promise<void> {
    if (!image) return this.drop(frame, new Error(noSizeReason(frame.type)));
    const pixels = await decodePixels(frame, this.format, image, undefined, this.maxPixels).catch((err: unknown) => err as Error);
    if (!Buffer.isBuffer(pixels)) return this.drop(frame, pixels);
    this.size ??= image;
    this.writing = this.writing.then(() => this.out.write([pixels]));
    await this.queued(this.writing);
  }

  /** Tracks a queued write; holds the caller while `concurrency` are pending or the output failed. */
  private async queued(write: Promise<void>): Promise<void> {
    const written = write.finally(() => {
      this.inFlight.shift();
    });
    this.inFlight.push(written.catch(() => undefined));
    // Backpressure: a slow reader of the output holds the receiver here, not in memory.
    const frameBytes = this.size ? this.frameBytes(this.size) : 0;
    const concurrency = frameBytes > MAX_PARALLEL_FRAME_BYTES ? 1 : this.concurrency;
    while (this.inFlight.length >= concurrency) await this.inFlight[0];
    if (this.out.failed) await this.writing;
  }

  private drop(frame: ReceivedFrame, why: Error): void {
    this.skipped += 1;
    this.onDrop(frame);
    const code = why instanceof PixelLimitError || (why as NodeJS.ErrnoException).code === 'ERR_JPEG_TOO_LARGE' ? 'ERR_PIXEL_LIMIT' : 'ERR_BAD_JPEG';
    const reason = wireText(why.message.split('\n')[0] ?? '', MAX_REASON_CHARS);
    this.report({ code, message: `frame ${frame.seq} from ${wireText(frame.sender)} dropped: ${reason}` });
  }

  /**
   * A frame buffer: one the output is done with, else a new one. Decoding into the same few
   * buffers spares the allocator, fresh pages and the garbage collector a megabyte a frame.
   */
  private takeBuffer(size: Size): Buffer {
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.frameBytes(size));
  }

  private releaseBuffer(buffer: Buffer): void {
    if (this.free.length < MAX_FREE_BUFFERS && (this.free.length + 1) * buffer.length <= MAX_FREE_BYTES) this.free.push(buffer);
  }

  private frameBytes(size: Size): number {
    return size.width * size.height * bytesPerPixel(this.format);
  }

  async close(): Promise<void> {
    await this.writing.catch(() => undefined);
    if (!this.ownsStream || this.out.failed) return;
    const finished = once(this.out.stream, 'finish');
    this.out.stream.end();
    await finished;
  }
}
