import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { withoutMetadata } from '../frame/metadata.js';
import { OutputError } from '../errors.js';
import type { ReceivedFrame } from '../transport/types.js';
import type { FrameSink } from './types.js';

/**
 * Writes frames back to back as MJPEG (concatenated JPEGs) to a file or to stdout, which is
 * what `ffplay -f mjpeg -i -` and `vstream send --stdin` read. The vstream metadata segment is
 * left out so that the output holds exactly the JPEGs that were sent.
 */
export class MjpegOutputSink implements FrameSink {
  private failure: OutputError | undefined;

  private constructor(
    private readonly stream: NodeJS.WritableStream & { writableNeedDrain?: boolean },
    private readonly where: string,
    private readonly ownsStream: boolean,
  ) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??=
        err.code === 'EPIPE'
          ? new OutputError(`${where} was closed by the reader`, 'ERR_OUTPUT_CLOSED', { cause: err })
          : new OutputError(`cannot write ${where}: ${err.message}`, 'ERR_OUTPUT', { cause: err });
    });
  }

  /** `-` is standard output. A file is created or truncated. */
  static async open(target: string): Promise<MjpegOutputSink> {
    if (target === '-') return new MjpegOutputSink(process.stdout, 'standard output', false);
    const stream = createWriteStream(target);
    try {
      await once(stream, 'open');
    } catch (err) {
      throw new OutputError(`cannot write ${target}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new MjpegOutputSink(stream, target, true);
  }

  async write(frame: ReceivedFrame): Promise<void> {
    if (this.failure) throw this.failure;
    let ok = true;
    for (const part of withoutMetadata(frame.jpeg)) ok = this.stream.write(part);
    if (!ok) await this.drained();
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    if (!this.ownsStream || this.failure) return;
    const finished = once(this.stream, 'finish');
    this.stream.end();
    await finished;
  }

  private drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.stream.off('drain', done);
        this.stream.off('error', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('error', done);
      this.stream.on('close', done);
    });
  }
}
