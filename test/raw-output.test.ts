import { describe, it, expect, afterEach } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { RawOutputSink } from '../src/sink/raw-output.js';
import type { ReceivedFrame } from '../src/frame/frame.js';
import type { Problem } from '../src/problems.js';
import { encodeHeader } from '../src/frame/header.js';
import { claimingSize, makeJpeg } from './helpers/jpeg.js';
import { stopAll, startReceiver } from './helpers/process.js';
import { makeFrame } from '../src/frame/image-info.js';

afterEach(() => stopAll());

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
  return { sender: 's', peer: 'p', connectionId: 1, seq: i, ...makeFrame(jpeg), receivedAt: 0 };
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

/** A frame as a raw peer sends it: `str(len).ljust(16)` then the JPEG. */
async function sendRaw(port: number, jpegs: Buffer[]): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await once(socket, 'connect');
  for (const jpeg of jpegs) socket.write(Buffer.concat([encodeHeader(jpeg.length), jpeg]));
  socket.end();
  await once(socket, 'close');
}

/** `jpeg` with an SOF claiming 12-bit samples: its size is read, the decode fails (libjpeg and sharp). */
function undecodable(jpeg: Buffer): Buffer {
  const copy = Buffer.from(jpeg);
  const sof = copy.indexOf(Buffer.from([0xff, 0xc0]));
  copy[sof + 4] = 12;
  return copy;
}

const GOOD = { width: 64, height: 48 };

describe('recv --format rgb24 --output - fed hostile frames first', () => {
  /** Sends `first` then three good 64x48 frames; resolves with recv's exit code and stdout. */
  async function receive(first: Buffer[], extraArgs: string[] = []): Promise<{ code: number; out: Buffer; stderr: string }> {
    const good = await makeJpeg({ ...GOOD, noise: false, color: '#20d040' });
    const receiver = await startReceiver(['--format', 'rgb24', '--output', '-', '--frames', String(first.length + 3), ...extraArgs]);
    await sendRaw(receiver.port, [...first, good, good, good]);
    return { code: await receiver.exitCode, out: receiver.stdout(), stderr: receiver.stderr() };
  }

  function expectGoodFrames(out: Buffer, count: number): void {
    const bytes = GOOD.width * GOOD.height * 3;
    expect(out.length).toBe(bytes * count);
    for (let i = 0; i < count; i++) {
      const centre = i * bytes + (24 * 64 + 32) * 3;
      expect([...out.subarray(centre, centre + 3)].map((v) => Math.round(v / 16))).toEqual([2, 13, 4]);
    }
  }

  it.each([
    ['65000x65000 (beyond any allocation)', 65000, 65000],
    ['20000x15000 (300 Mpx, over the 64 Mpx limit)', 20000, 15000],
  ])('stays up after a first frame claiming %s and writes the good frames at their size', async (_name, width, height) => {
    const forged = claimingSize(await makeJpeg(GOOD), width, height);
    const { code, out, stderr } = await receive([forged]);
    expect(code, stderr).toBe(0);
    expectGoodFrames(out, 3);
  });

  it('takes the output size from the first frame that decodes, not from one that only claims a size', async () => {
    const fails = undecodable(await makeJpeg({ width: 320, height: 240 }));
    const { code, out, stderr } = await receive([fails, fails]);
    expect(code, stderr).toBe(0);
    expectGoodFrames(out, 3);
  });

  it('drops frames over --max-pixels', async () => {
    const big = await makeJpeg({ width: 128, height: 96, noise: false });
    // 3k: 3072 pixels, 64x48 exactly.
    const { code, out, stderr } = await receive([big], ['--max-pixels', '3k']);
    expect(code, stderr).toBe(0);
    expectGoodFrames(out, 3);
  });
});

describe('RawOutputSink problems', () => {
  it('reports a frame over the limit as ERR_PIXEL_LIMIT and one that does not decode as ERR_BAD_JPEG, naming the sender', async () => {
    const path = join(await mkdtemp(join(tmpdir(), 'vstream-raw-')), 'out.raw');
    const problems: Problem[] = [];
    const sink = await RawOutputSink.open(path, 'gray', { maxPixels: 64 * 48, report: (p) => problems.push(p) });
    const frame = (jpeg: Buffer, seq: number): ReceivedFrame => ({ sender: 'cam\x1b[2J', peer: 'p', connectionId: 1, seq, ...makeFrame(jpeg), receivedAt: 0 });
    await sink.write(frame(claimingSize(await makeJpeg(GOOD), 65000, 65000), 0));
    await sink.write(frame(undecodable(await makeJpeg(GOOD)), 1));
    await sink.write(frame(await makeJpeg(GOOD), 2));
    await sink.close();
    expect((await readFile(path)).length).toBe(64 * 48);
    expect(sink.skipped).toBe(2);
    expect(problems.map((p) => p.code)).toEqual(['ERR_PIXEL_LIMIT', 'ERR_BAD_JPEG']);
    expect(problems[0]!.message).toBe('frame 0 from cam\\x1b[2J dropped: a 65000x65000 frame is over the pixel limit of 3072');
    for (const { message } of problems) expect(message).not.toMatch(/[\n\x1b]/);
  });
});
