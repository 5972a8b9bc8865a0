/**
 * How fast the viewer's login may be guessed at. A secret made by `vstream secret` cannot be
 * guessed at any speed, but one a user typed may be short: wrong logins are counted per client
 * address (an IPv6 address by its /64, see countedAs), and past MAX_WRONG_PER_ADDRESS in
 * WINDOW_MS that address gets a 429 without its guess being checked. Addresses are cheap all
 * the same, so wrong logins are counted for all addresses together too, and past
 * MAX_WRONG_OVERALL every login waits: a flood from many addresses can hold off new logins for
 * a minute, never try secrets faster than that.
 * Cookies already given and token URLs keep working meanwhile; they carry the token, which is
 * 128 random bits and is not what is guessed here.
 *
 * Bounded: at most MAX_ADDRESSES addresses are remembered (the one seen longest ago is dropped),
 * each with at most MAX_WRONG_PER_ADDRESS times, and the overall count is one ring of times.
 */

export const WINDOW_MS = 60_000;
export const MAX_WRONG_PER_ADDRESS = 5;
export const MAX_WRONG_OVERALL = 100;
export const MAX_ADDRESSES = 1024;

export interface LoginAttemptLimits {
  windowMs?: number;
  perAddress?: number;
  overall?: number;
  maxAddresses?: number;
  now?: () => number;
}

/** Whether a login may be checked now; if not, for how long it may not (whole seconds, at least 1). */
export type Verdict = { allowed: true } | { allowed: false; retryAfterS: number; why: 'address' | 'overall' };

export class LoginAttempts {
  /** Times of the recent wrong logins of each address (countedAs), oldest first; the Map's order is by last use. */
  private readonly byAddress = new Map<string, number[]>();
  /** The times of the last `overall` wrong logins of anyone, as a ring. */
  private readonly overallTimes: number[] = [];
  private overallNext = 0;
  private readonly windowMs: number;
  private readonly perAddress: number;
  private readonly overall: number;
  private readonly maxAddresses: number;
  private readonly now: () => number;

  constructor(limits: LoginAttemptLimits = {}) {
    this.windowMs = limits.windowMs ?? WINDOW_MS;
    this.perAddress = limits.perAddress ?? MAX_WRONG_PER_ADDRESS;
    this.overall = limits.overall ?? MAX_WRONG_OVERALL;
    this.maxAddresses = limits.maxAddresses ?? MAX_ADDRESSES;
    this.now = limits.now ?? (() => performance.now());
  }

  /** Addresses remembered now (for tests of the bound). */
  get addresses(): number {
    return this.byAddress.size;
  }

  verdict(address: string): Verdict {
    const now = this.now();
    const times = this.recent(countedAs(address), now);
    if (times.length >= this.perAddress) return { allowed: false, retryAfterS: this.seconds(times[0]! + this.windowMs - now), why: 'address' };
    if (this.overallTimes.length >= this.overall) {
      // The oldest in the ring: once it is out of the window, one more may be checked.
      const oldest = this.overallTimes[this.overallNext]!;
      if (now - oldest < this.windowMs) return { allowed: false, retryAfterS: this.seconds(oldest + this.windowMs - now), why: 'overall' };
    }
    return { allowed: true };
  }

  /** A wrong login from `address`; returns how many it has in the window now. */
  wrong(address: string): number {
    const now = this.now();
    const key = countedAs(address);
    const times = this.recent(key, now);
    times.push(now);
    // Never more than the limit: the block lasts until the oldest of them leaves the window.
    if (times.length > this.perAddress) times.splice(0, times.length - this.perAddress);
    this.byAddress.delete(key);
    this.byAddress.set(key, times);
    while (this.byAddress.size > this.maxAddresses) this.byAddress.delete(this.byAddress.keys().next().value!);
    if (this.overallTimes.length < this.overall) this.overallTimes.push(now);
    else this.overallTimes[this.overallNext] = now;
    this.overallNext = (this.overallNext + 1) % this.overall;
    return times.length;
  }

  /** A right login: the address's wrong ones are forgotten (the overall count is not). */
  right(address: string): void {
    this.byAddress.delete(countedAs(address));
  }

  /** The wrong logins counted as `key` still in the window (dropping the older ones). */
  private recent(key: string, now: number): number[] {
    const times = this.byAddress.get(key);
    if (!times) return [];
    while (times.length > 0 && now - times[0]! >= this.windowMs) times.shift();
    if (times.length === 0) this.byAddress.delete(key);
    return times;
  }

  private seconds(ms: number): number {
    return Math.max(1, Math.ceil(ms / 1000));
  }
}

/** The address a client is named by: `::ffff:1.2.3.4` is 1.2.3.4. */
export function clientAddress(remote: string | undefined): string {
  if (remote === undefined) return 'unknown';
  return remote.startsWith('::ffff:') && remote.includes('.') ? remote.slice(7) : remote;
}

/**
 * What wrong logins are counted by: the IPv4 address, or the IPv6 /64 (`2001:db8:0:1::/64`).
 * One host is usually given a whole /64, so counting each of its addresses apart would give it
 * millions of tries, and its flood would hold off everyone at the overall limit.
 */
export function countedAs(address: string): string {
  if (!address.includes(':')) return address;
  const bare = address.replace(/%.*$/, '');
  const [head = '', tail] = bare.split('::', 2);
  const groups = head === '' ? [] : head.split(':');
  if (tail !== undefined) {
    const after = tail === '' ? [] : tail.split(':');
    // A dotted IPv4 end is two groups.
    const count = after.reduce((n, group) => n + (group.includes('.') ? 2 : 1), 0);
    groups.push(...Array<string>(Math.max(0, 8 - groups.length - count)).fill('0'), ...after);
  }
  const prefix = groups.slice(0, 4).map((group) => (group.includes('.') ? group : (parseInt(group, 16) || 0).toString(16)));
  while (prefix.length < 4) prefix.push('0');
  return `${prefix.join(':')}::/64`;
}
