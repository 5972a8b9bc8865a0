/**
 * The one-place mailbox between a live producer and its consumer: "latest frame wins". A put
 * while a frame is already waiting replaces it and counts a drop, so a slow consumer always
 * gets the newest frame and nothing queues up behind it. One consumer at a time.
 */
export class LatestFrameSlot<T> implements AsyncIterable<T> {
  private waiting: { value: T } | undefined;
  private reader: { resolve(result: IteratorResult<T>): void; reject(error: unknown): void } | undefined;
  private finished = false;
  private failure: { error: unknown } | undefined;
  private droppedCount = 0;

  /** Frames replaced before anyone took them. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** Offers a frame: handed straight to a waiting reader, else kept until taken or replaced. */
  put(value: T): void {
    if (this.finished) return;
    if (this.reader) {
      const { resolve } = this.reader;
      this.reader = undefined;
      resolve({ value, done: false });
      return;
    }
    if (this.waiting) this.droppedCount += 1;
    this.waiting = { value };
  }

  /** The producer is done: a waiting frame is still delivered, then iteration ends. */
  end(): void {
    if (this.finished) return;
    this.finished = true;
    this.settleReader();
  }

  /** The producer failed: a waiting frame is still delivered, then `next()` rejects once. */
  fail(error: unknown): void {
    if (this.finished) return;
    this.finished = true;
    this.failure = { error };
    this.settleReader();
  }

  /** The consumer is done: drops any waiting frame and ignores later puts. */
  close(): void {
    this.finished = true;
    this.waiting = undefined;
    this.failure = undefined;
    this.settleReader();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.waiting) {
      const { value } = this.waiting;
      this.waiting = undefined;
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    if (this.reader) return Promise.reject(new Error('LatestFrameSlot: only one next() may be pending'));
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** A reader waits only while nothing is waiting, so after end/fail/close it gets the outcome. */
  private settleReader(): void {
    if (!this.reader) return;
    const reader = this.reader;
    this.reader = undefined;
    const { failure } = this;
    this.failure = undefined;
    if (failure) reader.reject(failure.error);
    else reader.resolve({ value: undefined, done: true });
  }
}
