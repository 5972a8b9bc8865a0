/**
 * A FIFO between network callbacks and one async consumer. It never refuses an item (frames
 * already parsed must not be lost); instead `push` returns false once `highWaterMark` items
 * wait, and the producer is expected to stop reading until `onDrain` fires.
 */
export class FrameQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;
  private overHighWater = false;

  /**
   * `onTake` runs synchronously when an item goes to the consumer, also when it is handed
   * straight to a waiting consumer inside `push`: the producer may still be in the same
   * synchronous run and must know the item is no longer in the queue.
   */
  constructor(
    private readonly highWaterMark: number,
    private readonly onDrain: () => void,
    private readonly onTake: (item: T) => void = () => {},
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** True from the push that reached `highWaterMark` until the queue has drained to half of it. */
  get full(): boolean {
    return this.overHighWater;
  }

  push(item: T): boolean {
    if (this.ended) return true;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      this.onTake(item);
      waiter({ value: item, done: false });
      return true;
    }
    this.items.push(item);
    if (this.length >= this.highWaterMark) this.overHighWater = true;
    return !this.overHighWater;
  }

  /** No more items: the iterator finishes once the queued ones are taken. */
  end(): void {
    this.ended = true;
    if (this.waiter && this.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  private take(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = undefined as T;
    this.head += 1;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    if (this.overHighWater && this.length <= this.highWaterMark / 2) {
      this.overHighWater = false;
      this.onDrain();
    }
    this.onTake(item);
    return item;
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.length > 0) return Promise.resolve({ value: this.take()!, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      return: () => {
        this.end();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }
}
