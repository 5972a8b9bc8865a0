import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { withoutMetadata } from '../frame/metadata.js';
import { OutputError } from '../errors.js';
import type { ReceivedFrame } from '../frame/frame.js';
import type { FrameSink } from './types.js';
import { StreamWriter } from './stream-writer.js';
import { UsageError } from '../errors.js';
import { value } from '../options/schema.js';
import type { SinkKind } from './kind.js';
import { RawOutputSink, rawOutputOptions } from './raw-output.js';

const outputOptions = {
  output: value('--output <file|->', 'write frames to a file, or - for stdout: MJPEG, or raw pixels with --format', (text) => text),
  ...rawOutputOptions,
};

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
    if (format === 'jpeg') return MjpegOutputSink.open(output);
    return RawOutputSink.open(output, format, { size, maxPixels, report });
  },
};

/**
 * Writes frames back to back as MJPEG (concatenated JPEGs) to a file or to stdout, which is
 * what `ffplay -f mjpeg -i -` and `vstream send --stdin` read. The vstream metadata segment is
 * left out so that the output holds exactly the JPEGs that were sent.
 */
export class MjpegOutputSink implements FrameSink {
  private constructor(
    private readonly out: StreamWriter,
    private readonly ownsStream: boolean,
  ) {}

  /** `-` is standard output. A file is created or truncated. */
  static async open(target: string): Promise<MjpegOutputSink> {
    if (target === '-') return new MjpegOutputSink(new StreamWriter(process.stdout, 'standard output'), false);
    const stream = createWriteStream(target);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw new OutputError(`cannot write ${target}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new MjpegOutputSink(new StreamWriter(stream, target), true);
  }

  write(frame: ReceivedFrame): Promise<void> {
    return this.out.write(withoutMetadata(frame.data));
  }

  async close(): Promise<void> {
    if (!this.ownsStream || this.out.failed) return;
    const finished = once(this.out.stream, 'finish');
    this.out.stream.end();
    await finished;
  }
}
