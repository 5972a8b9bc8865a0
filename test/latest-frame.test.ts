import { describe, expect, it } from 'vitest';
import { LatestFrameSlot } from '../src/source/latest-frame.js';

describe('LatestFrameSlot', () => {
  it('hands a put straight to a waiting reader', async () => {
    const slot = new LatestFrameSlot<number>();
    const next = slot.next();
    slot.put(1);
    expect(await next).toEqual({ value: 1, done: false });
    expect(slot.dropped).toBe(0);
  });

  it('keeps only the newest frame while the reader is busy, counting the rest as dropped', async () => {
    const slot = new LatestFrameSlot<number>();
    for (let i = 1; i <= 5; i++) slot.put(i);
    expect(await slot.next()).toEqual({ value: 5, done: false });
    expect(slot.dropped).toBe(4);
    slot.put(6);
    expect(await slot.next()).toEqual({ value: 6, done: false });
    expect(slot.dropped).toBe(4);
  });

  it('never holds more than one frame', async () => {
    const slot = new LatestFrameSlot<number>();
    for (let i = 0; i < 10_000; i++) slot.put(i);
    slot.end();
    const seen: number[] = [];
    for await (const value of slot) seen.push(value);
    expect(seen).toEqual([9999]);
    expect(slot.dropped).toBe(9999);
  });

  it('delivers the waiting frame before ending', async () => {
    const slot = new LatestFrameSlot<number>();
    slot.put(1);
    slot.end();
    slot.put(2); // after end: ignored
    expect(await slot.next()).toEqual({ value: 1, done: false });
    expect((await slot.next()).done).toBe(true);
    expect((await slot.next()).done).toBe(true);
  });

  it('ends a waiting reader', async () => {
    const slot = new LatestFrameSlot<number>();
    const next = slot.next();
    slot.end();
    expect((await next).done).toBe(true);
  });

  it('delivers the waiting frame, then the failure once, then ends', async () => {
    const slot = new LatestFrameSlot<number>();
    const failure = new Error('camera unplugged');
    slot.put(1);
    slot.fail(failure);
    expect(await slot.next()).toEqual({ value: 1, done: false });
    await expect(slot.next()).rejects.toBe(failure);
    expect((await slot.next()).done).toBe(true);
  });

  it('rejects a waiting reader on failure', async () => {
    const slot = new LatestFrameSlot<number>();
    const next = slot.next();
    const failure = new Error('ffmpeg died');
    slot.fail(failure);
    await expect(next).rejects.toBe(failure);
  });

  it('discards the waiting frame when the consumer stops', async () => {
    const slot = new LatestFrameSlot<number>();
    slot.put(1);
    for await (const value of slot) {
      expect(value).toBe(1);
      slot.put(2);
      break;
    }
    slot.put(3);
    expect((await slot.next()).done).toBe(true);
  });

  it('allows one pending reader only', async () => {
    const slot = new LatestFrameSlot<number>();
    const first = slot.next();
    await expect(slot.next()).rejects.toThrow(/one next/);
    slot.put(1);
    expect((await first).value).toBe(1);
  });
});
