import { describe, expect, it } from 'vitest';
import { NewestWinsQueue, type DropReason } from '../src/flow/newest-wins-queue.js';

const LIVE = { live: true };

/** A one-key live queue: the mailbox between a live source and its sender. */
function slot(): NewestWinsQueue<0, number> {
  return new NewestWinsQueue<0, number>();
}

describe('NewestWinsQueue as one live slot', () => {
  it('hands a push straight to a waiting reader', async () => {
    const q = slot();
    const next = q.next();
    q.push(0, 1, LIVE);
    expect(await next).toEqual({ value: 1, done: false });
    expect(q.dropped).toBe(0);
  });

  it('keeps only the newest item while the reader is busy, counting the rest as dropped', async () => {
    const q = slot();
    for (let i = 1; i <= 5; i++) q.push(0, i, LIVE);
    expect(q.length).toBe(1);
    expect(await q.next()).toEqual({ value: 5, done: false });
    expect(q.dropped).toBe(4);
    q.push(0, 6, LIVE);
    expect(await q.next()).toEqual({ value: 6, done: false });
    expect(q.dropped).toBe(4);
  });

  it('never holds more than one item', async () => {
    const q = slot();
    for (let i = 0; i < 10_000; i++) q.push(0, i, LIVE);
    q.end();
    const seen: number[] = [];
    for await (const value of q) seen.push(value);
    expect(seen).toEqual([9999]);
    expect(q.dropped).toBe(9999);
  });

  it('delivers what waits before ending, and ignores pushes after the end', async () => {
    const q = slot();
    q.push(0, 1, LIVE);
    q.end();
    q.push(0, 2, LIVE);
    expect(await q.next()).toEqual({ value: 1, done: false });
    expect((await q.next()).done).toBe(true);
    expect((await q.next()).done).toBe(true);
  });

  it('ends a waiting reader', async () => {
    const q = slot();
    const next = q.next();
    q.end();
    expect((await next).done).toBe(true);
  });

  it('delivers what waits, then the failure once, then ends', async () => {
    const q = slot();
    const failure = new Error('camera unplugged');
    q.push(0, 1, LIVE);
    q.fail(failure);
    expect(await q.next()).toEqual({ value: 1, done: false });
    await expect(q.next()).rejects.toBe(failure);
    expect((await q.next()).done).toBe(true);
  });

  it('rejects a waiting reader on failure', async () => {
    const q = slot();
    const next = q.next();
    const failure = new Error('ffmpeg died');
    q.fail(failure);
    await expect(next).rejects.toBe(failure);
  });

  it('lets go of what waits when the consumer stops, without counting it dropped', async () => {
    const q = slot();
    q.push(0, 1, LIVE);
    for await (const value of q) {
      expect(value).toBe(1);
      q.push(0, 2, LIVE);
      break;
    }
    q.push(0, 3, LIVE);
    expect(q.length).toBe(0);
    expect(q.dropped).toBe(0);
    expect((await q.next()).done).toBe(true);
  });

  it('allows one pending reader only', async () => {
    const q = slot();
    const first = q.next();
    await expect(q.next()).rejects.toThrow(/one next/);
    q.push(0, 1, LIVE);
    expect((await first).value).toBe(1);
  });
});

describe('NewestWinsQueue with many keys', () => {
  it('puts a live item in the place of its key\'s waiting one, keeping every other key in order', async () => {
    const q = new NewestWinsQueue<string, string>();
    q.push('a', 'a1', LIVE);
    q.push('b', 'b1');
    q.push('a', 'a2', LIVE);
    q.push('b', 'b2');
    q.push('a', 'a3', LIVE);
    q.end();
    const seen: string[] = [];
    for await (const item of q) seen.push(item);
    // a3 took a1's place in the line: ahead of b1, which came before a2 and a3.
    expect(seen).toEqual(['a3', 'b1', 'b2']);
  });

  it('never drops an item that is not live: it says when to pause, and when to resume', async () => {
    let drains = 0;
    const q = new NewestWinsQueue<string, number>({ highWater: 4, onDrain: () => (drains += 1) });
    const accepted = [1, 2, 3, 4, 5, 6].map((i) => q.push('file', i));
    expect(accepted).toEqual([true, true, true, false, false, false]);
    expect(q.full).toBe(true);
    expect(q.length).toBe(6);
    const seen: number[] = [];
    for (let i = 0; i < 4; i++) seen.push((await q.next()).value as number);
    // Drained to half of the high-water mark (2 left) once, not at every take.
    expect(drains).toBe(1);
    expect(q.full).toBe(false);
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(q.dropped).toBe(0);
  });

  it('tells the consumer how many of a key were dropped since it took one of that key', async () => {
    const before: [string, number, number][] = [];
    const q = new NewestWinsQueue<string, number>({ onTake: (key, item, dropped) => void before.push([key, item, dropped]) });
    q.push('a', 1, LIVE);
    q.push('a', 2, LIVE);
    q.push('b', 10, LIVE);
    q.push('a', 3, LIVE);
    await q.next();
    await q.next();
    q.push('a', 4, LIVE);
    await q.next();
    expect(before).toEqual([
      ['a', 3, 2],
      ['b', 10, 0],
      ['a', 4, 0],
    ]);
  });

  it('bounds a producer that cannot pause: per key and in bytes, oldest first, never the newest item', () => {
    const drops: [string, number, DropReason][] = [];
    const q = new NewestWinsQueue<string, number>({ perKey: 2, maxBytes: 100, onDrop: (key, item, reason) => void drops.push([key, item, reason]) });
    q.push('a', 1, { bytes: 10 });
    q.push('a', 2, { bytes: 10 });
    q.push('a', 3, { bytes: 10 }); // a's oldest goes
    q.push('b', 4, { bytes: 70 }); // 90 bytes: fits
    q.push('b', 5, { bytes: 30 }); // 120 bytes: the oldest go until it fits
    expect(drops).toEqual([
      ['a', 1, 'overflow'],
      ['a', 2, 'overflow'],
      ['a', 3, 'overflow'],
    ]);
    expect(q.bytes).toBe(100);
    q.push('c', 6, { bytes: 500 }); // bigger than the whole bound: kept alone
    expect(q.length).toBe(1);
    expect(q.shift()).toBe(6);
  });

  it('discards one key\'s items and keeps the rest in order', async () => {
    const drops: DropReason[] = [];
    const q = new NewestWinsQueue<string, number>({ onDrop: (_key, _item, reason) => void drops.push(reason) });
    for (const [key, item] of [['a', 1], ['b', 2], ['a', 3], ['b', 4]] as const) q.push(key, item);
    q.discard('a');
    expect(q.waiting('a')).toBe(0);
    expect(q.length).toBe(2);
    expect(drops).toEqual(['discarded', 'discarded']);
    expect([q.shift(), q.shift(), q.shift()]).toEqual([2, 4, undefined]);
  });

  it('keeps its order through many takes and drops (the array is compacted, not shifted)', async () => {
    const q = new NewestWinsQueue<number, number>({ perKey: 1 });
    let expected = 0;
    for (let i = 0; i < 5000; i++) {
      q.push(i % 3, i);
      if (i % 2 === 1) {
        const item = q.shift()!;
        expect(item).toBeGreaterThanOrEqual(expected);
        expected = item;
      }
    }
    expect(q.length).toBeLessThanOrEqual(3);
  });
});
