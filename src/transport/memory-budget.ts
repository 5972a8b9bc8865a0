/**
 * One limit on the bytes a receiver holds for its peers, whatever number of them there is:
 * partly received frames and frames waiting for the consumer. Each holder (a connection, a
 * queued frame) has one current charge, replaced on every update, so a holder can never be
 * counted twice and releasing it returns exactly what it held.
 */

/** 256 MiB: room for a queue of 4K frames and many senders, a fraction of a small machine's RAM. */
export const DEFAULT_MAX_BUFFERED_BYTES = 256 * 1024 * 1024;

export class MemoryBudget<H> {
  private readonly charges = new Map<H, number>();
  private total = 0;

  constructor(readonly maxBytes: number = DEFAULT_MAX_BUFFERED_BYTES) {
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) {
      throw new RangeError(`maxBytes must be a positive integer, got ${maxBytes}`);
    }
  }

  /** Bytes charged over all holders. */
  get held(): number {
    return this.total;
  }

  /** Holders with a charge (for tests: nothing may be left once every peer is gone). */
  get holders(): number {
    return this.charges.size;
  }

  get exceeded(): boolean {
    return this.total > this.maxBytes;
  }

  /** What `holder` holds now. */
  heldBy(holder: H): number {
    return this.charges.get(holder) ?? 0;
  }

  /** Sets `holder`'s charge to `bytes` (0 releases it). */
  hold(holder: H, bytes: number): void {
    this.total += bytes - this.heldBy(holder);
    if (bytes > 0) this.charges.set(holder, bytes);
    else this.charges.delete(holder);
  }

  release(holder: H): void {
    this.hold(holder, 0);
  }
}
