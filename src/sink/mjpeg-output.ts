import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { withoutMetadata } from '../frame/metadata.js';
import { OutputError } from '../errors.js';
import type { ReceivedFrame } from '../frame/frame.js';
import type { DropListener, FrameSink } from './types.js';
import { pngAsJpeg } from '../decode/png-as-jpeg.js';
import { PixelLimitError } from '../decode/limits.js';
import type { ProblemReporter } from '../problems.js';
import { wireText } from '../text/wire-text.js';
import { StreamWriter } from './stream-writer.js';
import { UsageError } from '../errors.js';
import { value } from '../options/schema.js';
import type { SinkKind } from './kind.js';
import { RawOutputSink, rawOutputOptions } from './raw-output.js';

const outputOptions = {
  output: value('--output <file|->', 'write frames to a file, or - for stdout: MJPEG, or raw pixels with --format', (text) => text),
  ...rawOutputOptions,
};

/** How PNG frames, which MJPEG output re-encodes, are held to the decoders' pixel limit. */
export interface PngOptions {
  maxPixels?: number;
  report?: ProblemReporter;
}

/** `recv --output`: MJPEG, or decoded pixels with a pixel `--format`. */
export const outputSinkKind: SinkKind<typeof outputOptions> = {
  name: 'output',
  options: outputOptions,
  check({ output, format, size }) {
    if (format !== 'jpeg' && output === undefined) throw new UsageError(`--format ${format} needs --output FILE or --output -`);
    if (size !== undefined && format === 'jpeg') throw new UsageError('--size applies to the pixel formats (--format rgb24, bgr24, gray)');
  },
  async open({ output, format, size, maxPixels }, { report }) {
    if (output === undefined) return undefined;
    if (format === 'jpeg') return MjpegOutputSink.open(output, { maxPixels, report });
    return RawOutputSink.open(output, format, { size, maxPixels, report });
  },
};

/**
 * Writes frames back to back as MJPEG (concatenated JPEGs) to a file or to stdout, which is
 * what `ffplay -f mjpeg -i -` and `vstream send --stdin` read. The vstream metadata segment is
 * left out so that the output holds exactly the JPEGs that were sent. A PNG frame is written
 * as a JPEG (src/decode/png-as-jpeg.ts); one that cannot be is dropped and reported.
 */
export class MjpegOutputSink implements FrameSink {
  private onDrop: DropListener = () => {};

  private constructor(
    private readonly out: StreamWriter,
    private readonly ownsStream: boolean,
    private readonly pngs: PngOptions,
  ) {}

  /** `-` is standard output. A file is created or truncated. */
  static async open(target: string, pngs: PngOptions = {}): Promise<MjpegOutputSink> {
    if (target === '-') return new MjpegOutputSink(new StreamWriter(process.stdout, 'standard output'), false, pngs);
    const stream = createWriteStream(target);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw new OutputError(`cannot write ${target}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new MjpegOutputSink(new StreamWriter(stream, target), true, pngs);
  }

  reportDropsTo(listener: DropListener): void {
    this.onDrop = listener;
  }

  async write(frame: ReceivedFrame): Promise<void> {
    if (frame.type !== 'png') return this.out.write(withoutMetadata(frame.data));
    const jpeg = await pngAsJpeg(frame, this.pngs.maxPixels).catch((err: unknown) => err as Error);
    if (Buffer.isBuffer(jpeg)) return this.out.write([jpeg]);
    this.onDrop(frame);
    const code = jpeg instanceof PixelLimitError ? 'ERR_PIXEL_LIMIT' : 'ERR_BAD_JPEG';
    this.pngs.report?.({ code, message: `PNG frame ${frame.seq} from ${wireText(frame.sender)} not written to --output: ${wireText(jpeg.message.split('\n')[0] ?? '', 160)}` });
  }

  async close(): Promise<void> {
    if (!this.ownsStream || this.out.failed) return;
    const finished = once(this.out.stream, 'finish');
    this.out.stream.end();
    await finished;
  }
}
