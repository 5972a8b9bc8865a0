/**
 * An HTTP answer's body read in two steps: first a head (enough bytes to tell what the stream
 * is, or to ask ffmpeg), within a time limit, then the whole body from its first byte on. A
 * read still waiting when the limit passed is kept for the body, so no chunk is lost.
 */
import type { VstreamError } from '../../errors.js';

export type FillResult = 'enough' | 'ended' | 'late';

export class BodyReader {
  private head: Buffer[] = [];
  private headBytes = 0;
  private ended = false;
  private pending: Promise<IteratorResult<Buffer>> | undefined;

  constructor(
    private readonly chunks: AsyncIterator<Buffer>,
    /** A read's failure as the user sees it. */
    private readonly failure: (error: unknown) => VstreamError,
  ) {}

  /** Bytes read so far and not yet given to `body()`. */
  get bytes(): number {
    return this.headBytes;
  }

  /** The head read so far, as one buffer. */
  prefix(): Buffer {
    return Buffer.concat(this.head);
  }

  /** Reads until `wanted` bytes are in, the body ends, or `withinMs` passed. */
  async fill(wanted: number, withinMs: number): Promise<FillResult> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), withinMs);
    });
    try {
      while (this.headBytes < wanted && !this.ended) {
        const step = await Promise.race([this.read(), late]);
        if (step === 'late') return 'late';
        this.pending = undefined;
        if (step.done) this.ended = true;
        else {
          this.head.push(step.value);
          this.headBytes += step.value.length;
        }
      }
      return this.ended ? 'ended' : 'enough';
    } finally {
      clearTimeout(timer);
    }
  }

  /** The head, then every chunk after it; fails with `failure`'s error. */
  async *body(): AsyncGenerator<Buffer> {
    const head = this.head;
    this.head = [];
    this.headBytes = 0;
    yield* head;
    while (!this.ended) {
      const step = await this.read();
      this.pending = undefined;
      if (step.done) return;
      yield step.value;
    }
  }

  private read(): Promise<IteratorResult<Buffer>> {
    if (!this.pending) {
      const pending = this.chunks.next().catch((error: unknown) => {
        throw this.failure(error);
      });
      // A read left waiting by a late fill() may fail after the session is given up: not unhandled.
      pending.catch(() => {});
      this.pending = pending;
    }
    return this.pending;
  }
}
