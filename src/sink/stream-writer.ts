import { OutputError } from '../errors.js';

/**
 * Writes to a stream (a file, stdout) with backpressure: `write` resolves once the stream can
 * take more, so a slow disk or reader pauses the receiver instead of queueing frames in memory.
 * A write error is kept and thrown from the next `write`; a reader that went away (EPIPE) is
 * `ERR_OUTPUT_CLOSED`, which the CLI treats as a normal end.
 */
export class StreamWriter {
  private failure: OutputError | undefined;

  constructor(
    readonly stream: NodeJS.WritableStream,
    where: string,
  ) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??=
        err.code === 'EPIPE'
          ? new OutputError(`${where} was closed by the reader`, 'ERR_OUTPUT_CLOSED', { cause: err })
          : new OutputError(`cannot write ${where}: ${err.message}`, 'ERR_OUTPUT', { cause: err });
    });
  }

  get failed(): boolean {
    return this.failure !== undefined;
  }

  /**
   * `flushed` runs once the stream is done with the parts (written, or failed): from then on
   * their memory may be reused.
   */
  async write(parts: readonly (Buffer | string)[], flushed?: () => void): Promise<void> {
    if (this.failure) {
      flushed?.();
      throw this.failure;
    }
    let ok = true;
    parts.forEach((part, i) => {
      ok = i === parts.length - 1 && flushed ? this.stream.write(part, () => flushed()) : this.stream.write(part);
    });
    if (!ok) await this.drained();
    if (this.failure) throw this.failure;
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
