/**
 * The viewer's count of wrong logins, on a clock the test moves: per address, all addresses
 * together, and the bound on what it remembers.
 */
import { describe, expect, it } from 'vitest';
import { clientAddress, countedAs, LoginAttempts } from '../src/sink/http/login-attempts.js';

function clocked(limits: ConstructorParameters<typeof LoginAttempts>[0] = {}): { attempts: LoginAttempts; clock: { now: number } } {
  const clock = { now: 1_000_000 };
  return { attempts: new LoginAttempts({ ...limits, now: () => clock.now }), clock };
}

describe('wrong logins per address', () => {
  it('blocks after 5 in a minute until the oldest is a minute old, and only that address', () => {
    const { attempts, clock } = clocked();
    for (let i = 1; i <= 5; i++) {
      expect(attempts.verdict('10.0.0.1')).toEqual({ allowed: true });
      expect(attempts.wrong('10.0.0.1')).toBe(i);
      clock.now += 1000;
    }
    // The first was 5 s ago: 55 s to go.
    expect(attempts.verdict('10.0.0.1')).toEqual({ allowed: false, retryAfterS: 55, why: 'address' });
    expect(attempts.verdict('10.0.0.2')).toEqual({ allowed: true });
    clock.now += 54_500;
    expect(attempts.verdict('10.0.0.1')).toMatchObject({ allowed: false, retryAfterS: 1 });
    clock.now += 500;
    expect(attempts.verdict('10.0.0.1')).toEqual({ allowed: true });
    // One more wrong: four are still in the window, so it is blocked again at once.
    expect(attempts.wrong('10.0.0.1')).toBe(5);
    expect(attempts.verdict('10.0.0.1')).toMatchObject({ allowed: false, retryAfterS: 1 });
  });

  it('forgets an address after a right login, and all of it after a quiet minute', () => {
    const { attempts, clock } = clocked();
    for (let i = 0; i < 4; i++) attempts.wrong('10.0.0.1');
    attempts.right('10.0.0.1');
    expect(attempts.addresses).toBe(0);
    for (let i = 0; i < 4; i++) attempts.wrong('10.0.0.1');
    clock.now += 60_000;
    expect(attempts.verdict('10.0.0.1')).toEqual({ allowed: true });
    expect(attempts.addresses).toBe(0);
  });

  it('remembers at most maxAddresses, dropping the one seen longest ago', () => {
    const { attempts } = clocked({ maxAddresses: 3 });
    for (const address of ['a', 'b', 'c']) for (let i = 0; i < 5; i++) attempts.wrong(address);
    // 'a' seen again: 'b' is now the oldest.
    attempts.wrong('a');
    attempts.wrong('d');
    expect(attempts.addresses).toBe(3);
    expect(attempts.verdict('b')).toEqual({ allowed: true });
    expect(attempts.verdict('a')).toMatchObject({ allowed: false });
    expect(attempts.verdict('c')).toMatchObject({ allowed: false });
  });
});

describe('wrong logins of all addresses together', () => {
  it('past the overall cap every address waits, until the oldest is a minute old', () => {
    const { attempts, clock } = clocked({ overall: 10 });
    for (let i = 0; i < 10; i++) {
      attempts.wrong(`10.0.0.${i}`);
      clock.now += 100;
    }
    expect(attempts.verdict('192.168.1.1')).toEqual({ allowed: false, retryAfterS: 59, why: 'overall' });
    clock.now += 59_000;
    expect(attempts.verdict('192.168.1.1')).toEqual({ allowed: true });
    // One slot freed, one taken: the cap holds as a sliding window.
    attempts.wrong('10.0.1.1');
    expect(attempts.verdict('192.168.1.1')).toMatchObject({ allowed: false, why: 'overall' });
  });
});

describe('clientAddress', () => {
  it('counts an IPv4-mapped address as the IPv4 one', () => {
    expect(clientAddress('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(clientAddress('::1')).toBe('::1');
    expect(clientAddress(undefined)).toBe('unknown');
  });
});

describe('countedAs', () => {
  it('counts IPv4 by the address and IPv6 by its /64, however it is written', () => {
    expect(countedAs('192.0.2.7')).toBe('192.0.2.7');
    expect(countedAs('2001:db8:0:1::5')).toBe('2001:db8:0:1::/64');
    expect(countedAs('2001:0db8:0000:0001:ffff:1:2:3')).toBe('2001:db8:0:1::/64');
    expect(countedAs('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(countedAs('::1')).toBe('0:0:0:0::/64');
    expect(countedAs('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(countedAs('::1.2.3.4')).toBe('0:0:0:0::/64');
  });

  it('makes the addresses of one /64 share their count, and leaves another /64 alone', () => {
    const attempts = new LoginAttempts();
    for (let i = 1; i <= 5; i++) attempts.wrong(`2001:db8:0:1::${i.toString(16)}`);
    expect(attempts.verdict('2001:db8:0:1:abcd::99')).toMatchObject({ allowed: false, why: 'address' });
    expect(attempts.verdict('2001:db8:0:2::1')).toEqual({ allowed: true });
    expect(attempts.addresses).toBe(1);
  });
});
