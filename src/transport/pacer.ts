/**
 * A token bucket for datagrams: at most `burstBytes` back to back, then `bytesPerSecond`.
 *
 * Why a rate and not only small bursts with a yield between them: measured on loopback, a
 * sender that yields to the event loop every 32 datagrams still emits 75-160 MB/s, faster than
 * a Node receiver in another process drains its socket (one `message` event per datagram), so
 * against a stock Linux receive buffer (416 KiB once 4 MiB is asked for) 1 MB frames lost 39 %
 * of their datagrams even at 30 frames/s, and 150 KB frames sent back to back 43 %. Paced at
 * 50 MB/s in 64 KiB bursts the same runs lost nothing (README, "UDP"). 50 MB/s (400 Mbit/s) is
 * 4K at 30 frames/s, below gigabit Ethernet, and spreads a 300 KB 1080p frame over 6 ms.
 */
export const DEFAULT_RATE_BYTES_PER_SECOND = 50_000_000;
/**
 * One timer tick (about 1 ms) at the default rate, and more than the largest datagram, so a
 * datagram is never split across two waits.
 */
export const DEFAULT_BURST_BYTES = 64 * 1024;

export class Pacer {
  private tokens: number;
  private last: number;

  constructor(
    readonly bytesPerSecond = DEFAULT_RATE_BYTES_PER_SECOND,
    readonly burstBytes = DEFAULT_BURST_BYTES,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(bytesPerSecond > 0)) throw new RangeError(`rate must be a positive number of bytes per second, got ${bytesPerSecond}`);
    if (!(burstBytes > 0)) throw new RangeError(`burst must be a positive number of bytes, got ${burstBytes}`);
    this.tokens = burstBytes;
    this.last = now();
  }

  /**
   * Takes `bytes` and returns 0 when they may go now; otherwise takes nothing and returns the
   * milliseconds to wait before asking again. Synchronous, so the common case costs no promise.
   */
  take(bytes: number): number {
    if (this.bytesPerSecond === Infinity) return 0;
    const now = this.now();
    // Capped at one burst: time spent idle does not buy a longer burst later.
    this.tokens = Math.min(this.burstBytes, this.tokens + ((now - this.last) * this.bytesPerSecond) / 1000);
    this.last = now;
    // A datagram bigger than the whole bucket goes once the bucket is full.
    const need = Math.min(bytes, this.burstBytes);
    if (this.tokens >= need) {
      this.tokens -= bytes;
      return 0;
    }
    return ((need - this.tokens) * 1000) / this.bytesPerSecond;
  }
}
