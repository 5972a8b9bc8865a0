/**
 * Frames between a datagram socket and one async consumer. UDP cannot slow a sender down (the
 * TCP receiver pauses its sockets instead), so this queue is bounded and drops: a stream with
 * `perStream` frames waiting loses its oldest, and past `maxBytes` in total the oldest frame of
 * any stream goes. A live viewer wants the newest frames, and memory stays flat however fast
 * the senders are.
 */
export interface DroppingQueueOptions<K, T> {
  /** Frames of one stream waiting; one more drops that stream's oldest. */
  perStream: number;
  /** Bytes waiting over all streams; more drops the oldest frames (never the one just pushed). */
  maxBytes: number;
  onDrop: (key: K, item: T) => void;
  /** Turns an item into what the consumer gets, at the moment it gets it. */
  onTake: (key: K, item: T) => T;
  /** Runs each time the consumer asks for the next item or stops, i.e. once it is done with the previous one. */
  onNext?: () => void;
}

interface Entry<K, T> {
  key: K;
  item: T;
  bytes: number;
}

export class DroppingQueue<K, T> implements AsyncIterable<T> {
  private entries: Entry<K, T>[] = [];
  private readonly counts = new Map<K, number>();
  private bytes = 0;
  private waiter: ((result: IteratorResult<T>) => void) | undefined;
  private ended = false;

  constructor(private readonly options: DroppingQueueOptions<K, T>) {}

  get length(): number {
    return this.entries.length;
  }

  /** Items of `key` still waiting. */
  waiting(key: K): number {
    return this.counts.get(key) ?? 0;
  }

  /** True while the consumer is waiting for an item (it holds none). */
  get idle(): boolean {
    return this.waiter !== undefined;
  }

  push(key: K, item: T, bytes: number): void {
    if (this.ended) return;
    if (this.waiter) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: this.options.onTake(key, item), done: false });
      return;
    }
    if (this.waiting(key) >= this.options.perStream) {
      this.dropAt(this.entries.findIndex((e) => e.key === key));
    }
    this.entries.push({ key, item, bytes });
    this.counts.set(key, this.waiting(key) + 1);
    this.bytes += bytes;
    while (this.bytes > this.options.maxBytes && this.entries.length > 1) this.dropAt(0);
  }

  /** Drops every item of `key` still waiting, as if each had been pushed out (onDrop). */
  discard(key: K): void {
    if (this.waiting(key) === 0) return;
    const kept: Entry<K, T>[] = [];
    const dropped: Entry<K, T>[] = [];
    for (const entry of this.entries) (entry.key === key ? dropped : kept).push(entry);
    this.entries = kept;
    for (const entry of dropped) {
      this.forget(entry);
      this.options.onDrop(entry.key, entry.item);
    }
  }

  /** No more items: the iterator finishes once the waiting ones are taken. */
  end(): void {
    this.ended = true;
    if (this.waiter && this.entries.length === 0) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter({ value: undefined, done: true });
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        this.options.onNext?.();
        const entry = this.entries.shift();
        if (entry) {
          this.forget(entry);
          return Promise.resolve({ value: this.options.onTake(entry.key, entry.item), done: false });
        }
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          this.waiter = resolve;
        });
      },
      // The consumer stopped (a `break` out of `for await`): nobody will take what waits. Those
      // frames arrived after the consumer was done, so they are not counted as drops: a
      // `recv --frames N` that stops on time lost nothing.
      return: () => {
        this.end();
        this.entries = [];
        this.counts.clear();
        this.bytes = 0;
        this.options.onNext?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private dropAt(index: number): void {
    const [entry] = this.entries.splice(index, 1);
    if (!entry) return;
    this.forget(entry);
    this.options.onDrop(entry.key, entry.item);
  }

  private forget(entry: Entry<K, T>): void {
    this.bytes -= entry.bytes;
    const left = this.waiting(entry.key) - 1;
    if (left > 0) this.counts.set(entry.key, left);
    else this.counts.delete(entry.key);
  }
}
