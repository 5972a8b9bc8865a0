/**
 * The one live-drop policy, wherever a producer can outrun its consumer: a source and its
 * sender, a socket and the receiver's consumer, the receiver and each sink, a sink and a
 * window's renderer.
 *
 * Items are kept per key (a sender, a stream, or just one key) in arrival order, and go to one
 * consumer. A live item never waits behind an older item of its key: it takes that item's place
 * in the line ("newest frame wins"), because a late live frame is worth nothing. An item that is
 * not live is never dropped for being late: past `highWater` items `push()` returns false and the
 * producer is expected to pause (TCP backpressure) until `onDrain`. Producers that cannot pause
 * (UDP) bound what waits instead: `perKey` and `maxBytes` drop the oldest.
 */

/** Why an item was dropped. */
export type DropReason = 'replaced' | 'overflow' | 'discarded';

export interface NewestWinsOptions<K, T> {
  /** Items waiting, over all keys, from which `push()` returns false (pause the producer). Default: never. */
  highWater?: number;
  /** Items of one key waiting; one more drops that key's oldest. Default: unbounded. */
  perKey?: number;
  /** Bytes waiting over all keys; more drops the oldest items (never the one just pushed). Default: unbounded. */
  maxBytes?: number;
  /** An item left the queue without reaching the consumer. */
  onDrop?: (key: K, item: T, reason: DropReason) => void;
  /**
   * An item goes to the consumer, also when it is handed straight to a waiting consumer inside
   * `push()` (the producer may still be in the same synchronous run). `droppedBefore` counts the
   * items of its key dropped since the consumer last took one of that key.
   */
  onTake?: (key: K, item: T, droppedBefore: number) => T | void;
  /** After `push()` returned false: the queue has drained to half of `highWater`. */
  onDrain?: () => void;
  /** The consumer asks for its next item (or stops): it is done with the previous one. */
  onNext?: () => void;
}

export interface PushOptions {
  /** A live item replaces the waiting item of its key instead of queueing behind it. */
  live?: boolean;
  /** What the item costs, for `maxBytes` and `bytes`. */
  bytes?: number;
}

interface Entry<K, T> {
  key: K;
  item: T;
  bytes: number;
  live: boolean;
}

export class NewestWinsQueue<K, T> implements AsyncIterable<T> {
  private entries: (Entry<K, T> | undefined)[] = [];
  private head = 0;
  /** Entries between head and the end that are not holes. */
  private count = 0;
  /** Per key: items waiting, the newest live entry, drops since the consumer took one. */
  private readonly keys = new Map<K, { waiting: number; live: Entry<K, T> | undefined; dropped: number }>();
  private queuedBytes = 0;
  private reader: { resolve(result: IteratorResult<T>): void; reject(error: unknown): void } | undefined;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private overHighWater = false;
  private droppedCount = 0;

  constructor(private readonly options: NewestWinsOptions<K, T> = {}) {}

  /** Items waiting. */
  get length(): number {
    return this.count;
  }

  /** Bytes of the items waiting. */
  get bytes(): number {
    return this.queuedBytes;
  }

  /** Items dropped since the queue was made, for any reason. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** True from the push that reached `highWater` until the queue has drained to half of it. */
  get full(): boolean {
    return this.overHighWater;
  }

  /** True while the consumer waits for an item (it holds none). */
  get idle(): boolean {
    return this.reader !== undefined;
  }

  /** Items of `key` waiting. */
  waiting(key: K): number {
    return this.keys.get(key)?.waiting ?? 0;
  }

  /**
   * Offers an item: handed straight to a waiting consumer, else queued (a live one in the place
   * of its key's waiting live item). False while the queue is `full`: pause the producer.
   * Ignored once the queue has ended.
   */
  push(key: K, item: T, { live = false, bytes = 0 }: PushOptions = {}): boolean {
    if (this.ended) return true;
    if (this.reader) {
      const { resolve } = this.reader;
      this.reader = undefined;
      resolve({ value: this.taken(key, item), done: false });
      return true;
    }
    const state = this.state(key);
    if (live && state.live) {
      const entry = state.live;
      this.queuedBytes += bytes - entry.bytes;
      const old = entry.item;
      entry.item = item;
      entry.bytes = bytes;
      this.countDrop(key, old, 'replaced');
      this.trimBytes(entry);
      return !this.overHighWater;
    }
    if (state.waiting >= (this.options.perKey ?? Infinity)) this.dropOldestOf(key);
    const entry: Entry<K, T> = { key, item, bytes, live };
    this.entries.push(entry);
    this.count += 1;
    state.waiting += 1;
    if (live) state.live = entry;
    this.queuedBytes += bytes;
    this.trimBytes(entry);
    if (this.length >= (this.options.highWater ?? Infinity)) this.overHighWater = true;
    return !this.overHighWater;
  }

  /** Takes the next item without waiting, for consumers that poll (a renderer's frame loop). */
  shift(): T | undefined {
    const entry = this.nextEntry();
    return entry && this.taken(entry.key, entry.item);
  }

  /** Drops every item of `key` waiting, each reported to `onDrop` as 'discarded'. */
  discard(key: K): void {
    if (this.waiting(key) === 0) return;
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry?.key !== key) continue;
      this.entries[i] = undefined;
      this.forget(entry);
      this.countDrop(key, entry.item, 'discarded');
    }
    this.compact();
  }

  /** Forgets what the queue counted for `key` (its drops since the last take), once it is gone. */
  forgetKey(key: K): void {
    if (this.waiting(key) === 0) this.keys.delete(key);
  }

  /** The producer is done: waiting items are still delivered, then iteration ends. */
  end(): void {
    this.ended = true;
    this.settleReader();
  }

  /** The producer failed: waiting items are still delivered, then `next()` rejects once. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.failure = { error };
    this.settleReader();
  }

  /**
   * The consumer is done: what waits is let go and later pushes are ignored. Those items came
   * after the consumer stopped, so they are not counted as drops: a `recv --frames N` that stops
   * on time lost nothing.
   */
  close(): void {
    this.ended = true;
    this.entries = [];
    this.head = 0;
    this.count = 0;
    this.keys.clear();
    this.queuedBytes = 0;
    this.failure = undefined;
    this.settleReader();
  }

  next(): Promise<IteratorResult<T>> {
    this.options.onNext?.();
    const entry = this.nextEntry();
    if (entry) return Promise.resolve({ value: this.taken(entry.key, entry.item), done: false });
    if (this.failure) {
      const { error } = this.failure;
      this.failure = undefined;
      return Promise.reject(error);
    }
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.reader) return Promise.reject(new Error('NewestWinsQueue: one consumer, one next() at a time'));
    return new Promise((resolve, reject) => {
      this.reader = { resolve, reject };
    });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => this.next(),
      return: () => {
        this.close();
        this.options.onNext?.();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  private state(key: K): { waiting: number; live: Entry<K, T> | undefined; dropped: number } {
    let state = this.keys.get(key);
    if (!state) {
      state = { waiting: 0, live: undefined, dropped: 0 };
      this.keys.set(key, state);
    }
    return state;
  }

  private nextEntry(): Entry<K, T> | undefined {
    while (this.head < this.entries.length) {
      const entry = this.entries[this.head];
      this.entries[this.head] = undefined;
      this.head += 1;
      if (!entry) continue;
      this.forget(entry);
      this.compact();
      if (this.overHighWater && this.length <= (this.options.highWater ?? Infinity) / 2) {
        this.overHighWater = false;
        this.options.onDrain?.();
      }
      return entry;
    }
    return undefined;
  }

  private taken(key: K, item: T): T {
    const state = this.keys.get(key);
    const droppedBefore = state?.dropped ?? 0;
    if (state) {
      state.dropped = 0;
      if (state.waiting === 0) this.keys.delete(key);
    }
    return this.options.onTake?.(key, item, droppedBefore) ?? item;
  }

  private dropOldestOf(key: K): void {
    for (let i = this.head; i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (entry?.key !== key) continue;
      this.entries[i] = undefined;
      this.forget(entry);
      this.countDrop(key, entry.item, 'overflow');
      return;
    }
  }

  /** Past `maxBytes`, the oldest items go, never `kept` (the one just pushed). */
  private trimBytes(kept: Entry<K, T>): void {
    const maxBytes = this.options.maxBytes ?? Infinity;
    for (let i = this.head; this.queuedBytes > maxBytes && i < this.entries.length; i++) {
      const entry = this.entries[i];
      if (!entry || entry === kept) continue;
      this.entries[i] = undefined;
      this.forget(entry);
      this.countDrop(entry.key, entry.item, 'overflow');
    }
    this.compact();
  }

  private forget(entry: Entry<K, T>): void {
    this.count -= 1;
    this.queuedBytes -= entry.bytes;
    const state = this.keys.get(entry.key);
    if (!state) return;
    state.waiting -= 1;
    if (state.live === entry) state.live = undefined;
  }

  private countDrop(key: K, item: T, reason: DropReason): void {
    this.droppedCount += 1;
    // Counted for the key's next take even when nothing of it waits any more.
    this.state(key).dropped += 1;
    this.options.onDrop?.(key, item, reason);
  }

  /** Holes left by drops and takes are reclaimed in bulk, not by shifting the array each time. */
  private compact(): void {
    while (this.head < this.entries.length && this.entries[this.head] === undefined) this.head += 1;
    if (this.head === this.entries.length) {
      this.entries = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }

  private settleReader(): void {
    if (!this.reader || this.length > 0) return;
    const reader = this.reader;
    this.reader = undefined;
    const { failure } = this;
    this.failure = undefined;
    if (failure) reader.reject(failure.error);
    else reader.resolve({ value: undefined, done: true });
  }
}
