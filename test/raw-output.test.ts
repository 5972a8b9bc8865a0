import { describe, it, expect } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { RawOutputSink } from '../src/sink/raw-output.js';
import type { ReceivedFrame } from '../src/transport/types.js';

const COLOURS: Array<[number, number, number]> = [
  [250, 10, 10],
  [10, 250, 10],
  [10, 10, 250],
  [250, 250, 10],
  [10, 250, 250],
  [250, 10, 250],
];

async function frameOf([r, g, b]: [number, number, number], i: number, width: number, height: number): Promise<ReceivedFrame> {
  const jpeg = await sharp({ create: { width, height, channels: 3, background: { r, g, b } } }).jpeg({ quality: 95 }).toBuffer();
  return { sender: 's', peer: 'p', connectionId: 1, seq: i, jpeg, receivedAt: 0 };
}

async function run(format: 'rgb24' | 'bgr24' | 'gray', size?: { width: number; height: number }) {
  const path = join(await mkdtemp(join(tmpdir(), 'vstream-raw-')), 'out.raw');
  const sink = await RawOutputSink.open(path, format, size ? { size } : {});
  // Big and small frames alternate, so decodes finish out of order; output must not.
  for (const [i, colour] of COLOURS.entries()) {
    await sink.write(await frameOf(colour, i, i % 2 ? 64 : 1280, i % 2 ? 48 : 960));
  }
  await sink.close();
  return readFile(path);
}

describe('recv --format raw output', () => {
  it('writes rgb24 frames of one fixed size, in order', async () => {
    const out = await run('rgb24', { width: 32, height: 24 });
    const frame = 32 * 24 * 3;
    expect(out.length).toBe(frame * COLOURS.length);
    for (const [i, [r, g, b]] of COLOURS.entries()) {
      const at = i * frame + (12 * 32 + 16) * 3;
      expect(Math.abs(out[at]! - r)).toBeLessThan(12);
      expect(Math.abs(out[at + 1]! - g)).toBeLessThan(12);
      expect(Math.abs(out[at + 2]! - b)).toBeLessThan(12);
    }
  });

  it('writes bgr24 with red and blue swapped, sized like the first frame when no size is given', async () => {
    const out = await run('bgr24');
    const frame = 1280 * 960 * 3;
    expect(out.length).toBe(frame * COLOURS.length);
    for (const [i, [r, g, b]] of COLOURS.entries()) {
      const at = i * frame + (480 * 1280 + 640) * 3;
      expect([out[at]! > 128, out[at + 1]! > 128, out[at + 2]! > 128]).toEqual([b > 128, g > 128, r > 128]);
    }
  });

  it('writes gray at one byte per pixel', async () => {
    const out = await run('gray', { width: 16, height: 12 });
    expect(out.length).toBe(16 * 12 * COLOURS.length);
    // Pure-ish green is brighter than pure-ish blue in luma.
    expect(out[1 * 192 + 100]!).toBeGreaterThan(out[2 * 192 + 100]! + 50);
  });

  it('reuses frame buffers only once the output has them: 60 frames at their own size, each intact', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'vstream-raw-')), 'out.raw');
    const sink = await RawOutputSink.open(path, 'rgb24');
    const frames = await Promise.all(Array.from({ length: 60 }, (_, i) => frameOf(COLOURS[i % COLOURS.length]!, i, 320, 240)));
    for (const frame of frames) await sink.write(frame);
    await sink.close();
    const out = await readFile(path);
    const bytes = 320 * 240 * 3;
    expect(out.length).toBe(bytes * 60);
    for (let i = 0; i < 60; i++) {
      const [r, g, b] = COLOURS[i % COLOURS.length]!;
      for (const at of [0, (120 * 320 + 160) * 3, bytes - 3]) {
        const px = i * bytes + at;
        expect([Math.abs(out[px]! - r) < 12, Math.abs(out[px + 1]! - g) < 12, Math.abs(out[px + 2]! - b) < 12]).toEqual([true, true, true]);
      }
    }
  });
});
