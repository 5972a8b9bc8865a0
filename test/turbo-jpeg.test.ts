/**
 * The libjpeg-turbo addon (native/jpeg): the same pixels as sharp, in every layout and scale it
 * takes on, and safe on whatever bytes a network peer sends.
 */
import { describe, it, expect, afterEach } from 'vitest';
import sharp from 'sharp';
import { turboDecode, exactScale, MAX_DECODE_PIXELS } from '../src/decode/turbo.js';
import { loadTurbo, turboUnavailableReason } from '../src/native/jpeg-addon.js';
import { decodePixels } from '../src/decode/pixels.js';
import { makeFrame } from '../src/frame/image-info.js';
import { MAX_JPEG_SCANS } from '../src/decode/limits.js';
import { jpegScanCount } from '../src/decode/jpeg-info.js';
import { runFfmpeg } from './helpers/ffmpeg.js';
import { claimingSize, makeJpeg, scanCount, withRepeatedScans } from './helpers/jpeg.js';
import { describeExit, startProcess, stopAll } from './helpers/process.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const turbo = loadTurbo();

afterEach(() => stopAll());

/** Mean absolute difference per byte. */
function meanDiff(a: Buffer, b: Buffer): number {
  expect(a.length).toBe(b.length);
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

async function sharpRgb(jpeg: Buffer): Promise<Buffer> {
  return sharp(jpeg).removeAlpha().toColourspace('srgb').raw().toBuffer();
}

/** BT.601 luma of RGB pixels: what a JPEG's Y channel holds, and what OpenCV's grey is. */
function luma(rgb: Buffer): Buffer {
  const out = Buffer.alloc(rgb.length / 3);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!);
  return out;
}

/** A colourful frame of ffmpeg's test pattern as JPEG, in the given chroma layout. */
function patternJpeg(width: number, height: number, pixFmt = 'yuvj420p', extra: string[] = []): Promise<Buffer> {
  return runFfmpeg(['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}`, '-frames:v', '1', '-pix_fmt', pixFmt, '-q:v', '3', ...extra, '-f', 'mjpeg', 'pipe:1']);
}

/**
 * `jpeg` (a progressive one) with `extra` more components declared in its SOF2, at the sampling of the luma (2x2: full resolution for sharp's 4:2:0),
 * that no scan codes: what a decoder has to hold coefficients for, without the bytes to show.
 */
function withExtraComponents(jpeg: Buffer, extra: number): Buffer {
  for (let i = 2; i + 9 < jpeg.length; i++) {
    if (jpeg[i] !== 0xff || jpeg[i + 1] !== 0xc2) continue;
    const count = jpeg[i + 9]!;
    const end = i + 10 + 3 * count;
    const added = Buffer.alloc(3 * extra);
    for (let k = 0; k < extra; k++) added.set([count + 1 + k, 0x22, 0], 3 * k);
    const sof = Buffer.concat([jpeg.subarray(i, end), added]);
    sof.writeUInt16BE(sof.length - 2, 2);
    sof[9] = count + extra;
    return Buffer.concat([jpeg.subarray(0, i), sof, jpeg.subarray(end)]);
  }
  throw new Error('no SOF2');
}

/** Runs `script` (CommonJS) in a fresh `node --expose-gc`; resolves with its last stdout line, parsed. */
async function runNode(script: string, env: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const proc = startProcess('node', process.execPath, ['--expose-gc', '-e', script], { env: { ...process.env, ...env } });
  const exit = await proc.exited;
  if (exit.code !== 0) throw proc.describeFailure(`exited (${describeExit(exit)})`);
  return JSON.parse(proc.output('stdout').at(-1) ?? 'null');
}

describe('libjpeg-turbo addon', () => {
  it('is built (npm ci builds it; without it vstream falls back to sharp)', () => {
    expect(turbo, turboUnavailableReason()).toBeDefined();
  });

  describe.skipIf(!turbo)('decode', () => {
    it.each([
      ['4:2:0', 'yuvj420p'],
      ['4:2:2', 'yuvj422p'],
      ['4:4:4', 'yuvj444p'],
    ])('gives sharp\'s pixels for a %s JPEG (rgb24, bgr24, gray)', async (_name, pixFmt) => {
      const jpeg = await patternJpeg(320, 240, pixFmt);
      const reference = await sharpRgb(jpeg);
      const rgb = await turbo!.decode(jpeg, 0, 1, MAX_DECODE_PIXELS);
      expect([rgb.width, rgb.height, rgb.channels]).toEqual([320, 240, 3]);
      // Both are libjpeg-turbo underneath; upsampling details differ by a level or so.
      expect(meanDiff(rgb.data, reference)).toBeLessThan(1.5);
      const bgr = await turbo!.decode(jpeg, 1, 1, MAX_DECODE_PIXELS);
      for (const at of [0, 3 * 1000, 3 * 40_000]) expect([bgr.data[at], bgr.data[at + 2]]).toEqual([rgb.data[at + 2], rgb.data[at]]);
      const gray = await turbo!.decode(jpeg, 2, 1, MAX_DECODE_PIXELS);
      expect(gray.channels).toBe(1);
      expect(meanDiff(gray.data, luma(reference))).toBeLessThan(1.5);
    });

    it('decodes progressive and greyscale JPEGs', async () => {
      const progressive = await sharp(await patternJpeg(160, 120)).jpeg({ progressive: true, quality: 90 }).toBuffer();
      expect(meanDiff((await turbo!.decode(progressive, 0, 1, MAX_DECODE_PIXELS)).data, await sharpRgb(progressive))).toBeLessThan(1.5);
      const grey = await patternJpeg(160, 120, 'gray');
      const asRgb = await turbo!.decode(grey, 0, 1, MAX_DECODE_PIXELS);
      expect(asRgb.channels).toBe(3);
      expect(meanDiff(asRgb.data, await sharpRgb(grey))).toBeLessThan(1.5);
    });

    it('scales by 1/2, 1/4 and 1/8 while decoding, rounding up', async () => {
      const jpeg = await patternJpeg(650, 490);
      for (const denom of [2, 4, 8] as const) {
        const out = await turbo!.decode(jpeg, 0, denom, MAX_DECODE_PIXELS);
        expect([out.width, out.height]).toEqual([Math.ceil(650 / denom), Math.ceil(490 / denom)]);
      }
      expect(exactScale({ width: 650, height: 490 }, { width: 163, height: 123 })).toBe(4);
      expect(exactScale({ width: 650, height: 490 }, { width: 300, height: 200 })).toBeUndefined();
    });

    it('refuses a header claiming more pixels than the limit before allocating them', async () => {
      // 3.6 Gpx, 10 GB as RGB, in a few hundred bytes.
      const huge = claimingSize(await patternJpeg(64, 48), 60000, 60000);
      await expect(turbo!.decode(huge, 0, 1, MAX_DECODE_PIXELS)).rejects.toMatchObject({ code: 'ERR_JPEG_TOO_LARGE' });
      // The same frame in the raw sink: an error, which the sink counts as a skipped frame.
      await expect(decodePixels(makeFrame(huge), 'rgb24', { width: 60000, height: 60000 })).rejects.toThrow();
    });

    it('holds the pixel limit on the image itself, whatever the scale', async () => {
      const jpeg = await patternJpeg(64, 48);
      await expect(turbo!.decode(jpeg, 0, 1, 64 * 48)).resolves.toMatchObject({ width: 64, height: 48 });
      await expect(turbo!.decode(jpeg, 0, 1, 64 * 48 - 1)).rejects.toMatchObject({ code: 'ERR_JPEG_TOO_LARGE' });
      // Scaling shrinks the output, not the work or the memory of reading the image.
      await expect(turbo!.decode(jpeg, 0, 8, 64 * 48 - 1)).rejects.toMatchObject({ code: 'ERR_JPEG_TOO_LARGE' });
    });

    it('takes only a finite number >= 0 for the pixel limit', async () => {
      const jpeg = await patternJpeg(64, 48);
      // NaN compares false with every pixel count: taken as a limit, it would be none.
      for (const bad of [NaN, -1, Infinity, -Infinity]) {
        expect(() => turbo!.decode(jpeg, 0, 1, bad), String(bad)).toThrow(RangeError);
      }
      expect(() => turbo!.decode(jpeg, 0, 1, '1e9' as unknown as number)).toThrow(TypeError);
    });

    it('refuses a progressive JPEG of more than MAX_JPEG_SCANS (100) scans before decoding any, and decodes one of 100', async () => {
      const progressive = await makeJpeg({ width: 2048, height: 2048, noise: false, progressive: true });
      expect(scanCount(progressive)).toBeGreaterThan(1);
      // 2000 repeats of one scan, 30 KB: without the limit, seconds of one core per frame.
      const hostile = withRepeatedScans(progressive, 2000);
      const outcome = (decoding: Promise<unknown>) => decoding.then(() => 'decoded', (err: NodeJS.ErrnoException) => err.code);
      const started = performance.now();
      expect(await outcome(turbo!.decode(hostile, 2, 8, MAX_DECODE_PIXELS))).toBe('ERR_JPEG_TOO_MANY_SCANS');
      const refusedMs = performance.now() - started;
      // Not left to sharp (which has no such limit) either.
      expect(await outcome(decodePixels(makeFrame(hostile), 'gray', { width: 256, height: 256 }))).toBe('ERR_JPEG_TOO_MANY_SCANS');
      const atLimitStarted = performance.now();
      const atLimit = await turbo!.decode(withRepeatedScans(progressive, MAX_JPEG_SCANS), 2, 4, MAX_DECODE_PIXELS);
      const decodedMs = performance.now() - atLimitStarted;
      expect([atLimit.width, atLimit.height]).toEqual([512, 512]);
      expect(await outcome(turbo!.decode(withRepeatedScans(progressive, MAX_JPEG_SCANS + 1), 2, 4, MAX_DECODE_PIXELS))).toBe('ERR_JPEG_TOO_MANY_SCANS');
      // Refused before decoding any: faster than decoding the 100 scans it does decode (about
      // 1 ms against hundreds; decoding all 2000 would take 20 times those). Both are timed on
      // the same machine at the same time, so load slows both alike.
      expect(refusedMs).toBeLessThan(decodedMs);
    });

    it('counts scans without decoding, as libjpeg does, and holds sharp (sizes libjpeg-turbo cannot scale to) to the same limit', async () => {
      const progressive = await makeJpeg({ width: 96, height: 64, progressive: true });
      for (const total of [10, 100, 101, 2000]) {
        const jpeg = withRepeatedScans(progressive, total);
        expect(jpegScanCount(jpeg, 1e6)).toBe(scanCount(jpeg));
        expect(jpegScanCount(jpeg, 100)).toBe(Math.min(total, 101));
      }
      expect(jpegScanCount(await patternJpeg(64, 48), 100)).toBe(1);
      expect(jpegScanCount(Buffer.from([0xff, 0xd8, 0xff, 0xda, 0xff]), 100)).toBe(0);
      // 50x30 is no 1/2, 1/4, 1/8 of 96x64: sharp decodes it, after the same count.
      const odd = { width: 50, height: 30 };
      await expect(decodePixels(makeFrame(withRepeatedScans(progressive, 2000)), 'rgb24', odd)).rejects.toMatchObject({ code: 'ERR_JPEG_TOO_MANY_SCANS' });
      await expect(decodePixels(makeFrame(progressive), 'rgb24', odd)).resolves.toHaveLength(50 * 30 * 3);
    });

    it('refuses a multi-scan image whose coefficients would outgrow four full-resolution components', async () => {
      const progressive = await makeJpeg({ width: 64, height: 48, progressive: true });
      const forged = withExtraComponents(progressive, 3);
      await expect(turbo!.decode(forged, 0, 1, MAX_DECODE_PIXELS)).rejects.toMatchObject({ code: 'ERR_JPEG_TOO_LARGE', message: expect.stringMatching(/coefficients/) });
    });

    it('lets go of its Buffers when a job cannot be queued (fault-injection build)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'vstream-jpeg-faults-'));
      const binary = join(dir, 'vstream_jpeg.node');
      const buildScript = '../scripts/build-jpeg.mjs';
      const { compileJpeg } = (await import(buildScript)) as { compileJpeg: (out: string, o: { extraFlags: string[] }) => { ok: boolean; output: string } };
      const built = compileJpeg(binary, { extraFlags: ['-DVSTREAM_JPEG_FAULTS'] });
      expect(built.ok, built.output).toBe(true);
      // Every N-API call queue_job makes fails once in turn; each time both Buffers must be free
      // to be collected (a leaked reference keeps a frame alive for ever).
      const script = `
        const addon = require(${JSON.stringify(binary)});
        const codes = [];
        const refs = [];
        for (let step = 1; step <= 5; step++) {
          process.env.VSTREAM_JPEG_FAIL_STEP = String(step);
          let input = Buffer.alloc(1 << 20), target = Buffer.alloc(1 << 20);
          try { addon.decode(input, 0, 1, 1e6, target); codes.push('queued'); } catch (err) { codes.push(err.code); }
          refs.push(new WeakRef(input), new WeakRef(target));
          input = target = null;
        }
        delete process.env.VSTREAM_JPEG_FAIL_STEP;
        (async () => {
          const rejected = await addon.decode(Buffer.from('no jpeg'), 0, 1, 1e6).catch((err) => err.code);
          for (let i = 0; i < 3; i++) { await new Promise((r) => setImmediate(r)); gc(); }
          console.log(JSON.stringify({ codes, alive: refs.filter((r) => r.deref() !== undefined).length, rejected }));
        })();`;
      expect(await runNode(script)).toEqual({ codes: Array(5).fill('ERR_JPEG_ADDON'), alive: 0, rejected: 'ERR_JPEG_DECODE' });
    });

    it('rejects bytes that are no JPEG with an error, and shows what it can of a truncated one', async () => {
      await expect(turbo!.decode(Buffer.from('no jpeg at all'), 0, 1, MAX_DECODE_PIXELS)).rejects.toMatchObject({ code: 'ERR_JPEG_DECODE' });
      await expect(turbo!.decode(Buffer.alloc(0), 0, 1, MAX_DECODE_PIXELS)).rejects.toMatchObject({ code: 'ERR_JPEG_DECODE' });
      const jpeg = await patternJpeg(320, 240);
      const cut = await turbo!.decode(jpeg.subarray(0, jpeg.length >> 1), 0, 1, MAX_DECODE_PIXELS);
      expect([cut.width, cut.height]).toEqual([320, 240]);
    });

    it('survives thousands of damaged frames (bytes flipped, cut, spliced) without crashing', async () => {
      const jpeg = await patternJpeg(96, 64);
      // mulberry32: a fixed seed, so a failure replays.
      let state = 12345;
      const random = () => {
        state = (state + 0x6d2b79f5) | 0;
        let t = Math.imul(state ^ (state >>> 15), 1 | state);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
      let decoded = 0;
      let refused = 0;
      for (let i = 0; i < 3000; i++) {
        const damaged = Buffer.from(jpeg.subarray(0, 2 + Math.floor(random() * (jpeg.length - 2))));
        for (let k = 0; k < 1 + Math.floor(random() * 8); k++) damaged[Math.floor(random() * damaged.length)] = Math.floor(random() * 256);
        await turbo!.decode(damaged, Math.floor(random() * 3) as 0 | 1 | 2, 1, MAX_DECODE_PIXELS).then(
          () => (decoded += 1),
          (err: NodeJS.ErrnoException) => {
            expect(['ERR_JPEG_DECODE', 'ERR_JPEG_TOO_LARGE']).toContain(err.code);
            refused += 1;
          },
        );
      }
      expect(decoded + refused).toBe(3000);
      expect(decoded).toBeGreaterThan(0);
      expect(refused).toBeGreaterThan(0);
    });

    it('decodes into a Buffer it is given, and refuses one too small for the image', async () => {
      const jpeg = await patternJpeg(160, 120);
      const target = Buffer.alloc(160 * 120 * 3 + 10, 7);
      const into = await turbo!.decode(jpeg, 0, 1, MAX_DECODE_PIXELS, target);
      expect(into.data).toBe(target);
      expect(target.subarray(0, 160 * 120 * 3).equals((await turbo!.decode(jpeg, 0, 1, MAX_DECODE_PIXELS)).data)).toBe(true);
      expect([...target.subarray(160 * 120 * 3)]).toEqual(Array(10).fill(7));
      await expect(turbo!.decode(jpeg, 0, 1, MAX_DECODE_PIXELS, Buffer.alloc(100))).rejects.toMatchObject({ code: 'ERR_JPEG_TARGET_SIZE' });
      const view = await turboDecode(jpeg, 'gray', { width: 160, height: 120 }, { width: 80, height: 60 }, target);
      expect(view!.length).toBe(80 * 60);
      expect(view!.buffer).toBe(target.buffer);
    });

    it('checks its arguments synchronously', () => {
      expect(() => turbo!.decode('x' as unknown as Buffer, 0, 1, 1)).toThrow(TypeError);
      expect(() => turbo!.decode(Buffer.alloc(4), 3 as 0, 1, 1)).toThrow(RangeError);
      expect(() => turbo!.decode(Buffer.alloc(4), 0, 3 as 1, 1)).toThrow(RangeError);
    });

    it('gives the same grey through sharp (sizes libjpeg-turbo cannot scale to) as through libjpeg-turbo', async () => {
      const jpeg = await patternJpeg(320, 240);
      const size = { width: 200, height: 150 };
      const grey = await decodePixels(makeFrame(jpeg), 'gray', size);
      expect(meanDiff(grey, luma(await decodePixels(makeFrame(jpeg), 'rgb24', size)))).toBeLessThan(1);
    });

    it('leaves what it cannot decode (CMYK) to sharp', async () => {
      const cmyk = await sharp(await patternJpeg(64, 48)).toColourspace('cmyk').jpeg().toBuffer();
      expect(await turboDecode(cmyk, 'rgb24', { width: 64, height: 48 }, { width: 64, height: 48 })).toBeUndefined();
      const pixels = await decodePixels(makeFrame(cmyk), 'rgb24', { width: 64, height: 48 });
      expect(pixels.length).toBe(64 * 48 * 3);
    });
  });

  describe.skipIf(!turbo)('encodeYuv420', () => {
    /**
     * ffmpeg's full-range 4:2:0 planes of the pattern, and the picture ffmpeg's own JPEG encoder
     * makes of them, decoded: on tiny images chroma upsampling alone differs a lot between a
     * JPEG decoder and ffmpeg's RGB conversion, so the reference is a JPEG too.
     */
    async function planes(width: number, height: number): Promise<{ yuv: Buffer; rgb: Buffer }> {
      // testsrc2 rounds odd sizes down to even ones: scale gives the exact size.
      const yuv = await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-vf', `scale=${width}:${height}`, '-frames:v', '1', '-pix_fmt', 'yuvj420p', '-f', 'rawvideo', 'pipe:1']);
      const file = join(await mkdtemp(join(tmpdir(), 'vstream-yuv-')), 'planes.yuv');
      await writeFile(file, yuv);
      const reference = await runFfmpeg(['-f', 'rawvideo', '-pix_fmt', 'yuvj420p', '-s', `${width}x${height}`, '-i', file, '-q:v', '2', '-f', 'mjpeg', 'pipe:1']);
      return { yuv, rgb: await sharpRgb(reference) };
    }

    it.each([
      [640, 480],
      [33, 17],
      [2, 2],
    ])('encodes %ix%i planes into a JPEG that decodes to the same picture', async (width, height) => {
      const { yuv, rgb } = await planes(width, height);
      const { data: jpeg } = await turbo!.encodeYuv420(yuv, width, height, 90, false, false);
      expect(jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
      const meta = await sharp(jpeg).metadata();
      expect([meta.width, meta.height, meta.chromaSubsampling]).toEqual([width, height, '4:2:0']);
      // Two encoders' quantisation: close, not equal.
      expect(meanDiff(await sharpRgb(jpeg), rgb)).toBeLessThan(4);
    });

    it('encodes a 1x1 image (one block, almost all of it padding)', async () => {
      const { data: jpeg } = await turbo!.encodeYuv420(Buffer.from([200, 128, 128]), 1, 1, 90, false, false);
      const pixel = await sharpRgb(jpeg);
      expect([...pixel].every((v) => Math.abs(v - 200) <= 2)).toBe(true);
    });

    it('expands limited-range planes (H.264, yuv420p) to the full range JPEG needs', async () => {
      const { rgb } = await planes(320, 240);
      const limited = await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-vf', 'scale=320:240', '-frames:v', '1', '-pix_fmt', 'yuv420p', '-f', 'rawvideo', 'pipe:1']);
      const expanded = await turbo!.encodeYuv420(limited, 320, 240, 90, false, true);
      expect(meanDiff(await sharpRgb(expanded.data), rgb)).toBeLessThan(4);
      // Without the expansion the picture is visibly washed out.
      const asIs = await turbo!.encodeYuv420(limited, 320, 240, 90, false, false);
      expect(meanDiff(await sharpRgb(asIs.data), rgb)).toBeGreaterThan(8);
    });

    it('maps each of the 256 limited-range levels to the rounded full-range level, luma and chroma', async () => {
      // A 256x256 frame of flat 16x16 blocks, block i at level i. At q100 a flat block survives
      // the DCT exactly, so the centre of each decoded block shows the expanded level itself.
      const size = 256;
      const frame = (y: (i: number) => number, u: (i: number) => number, v: (i: number) => number): Buffer => {
        const buf = Buffer.alloc(size * size * 1.5);
        const c = size / 2;
        for (let row = 0; row < size; row++) for (let x = 0; x < size; x++) buf[row * size + x] = y((row >> 4) * 16 + (x >> 4));
        for (let row = 0; row < c; row++) {
          for (let x = 0; x < c; x++) {
            const i = (row >> 3) * 16 + (x >> 3);
            buf[size * size + row * c + x] = u(i);
            buf[size * size + c * c + row * c + x] = v(i);
          }
        }
        return buf;
      };
      const centre = (i: number): number => ((i >> 4) * 16 + 8) * size + (i & 15) * 16 + 8;
      const lumaFull = (v: number): number => Math.min(255, Math.round((Math.max(v, 16) - 16) * 255 / 219));
      const chromaFull = (v: number): number => {
        const n = (v - 128) * 255 / 224;
        return Math.max(0, Math.min(255, 128 + Math.sign(n) * Math.round(Math.abs(n))));
      };

      const grey = await turbo!.encodeYuv420(frame((i) => i, () => 128, () => 128), size, size, 100, false, true);
      const square = { width: size, height: size };
      const y = (await turboDecode(grey.data, 'gray', square, square))!;
      const lumaLevels = Array.from({ length: 256 }, (_, i) => y[centre(i)]);
      expect(lumaLevels).toEqual(Array.from({ length: 256 }, (_, i) => lumaFull(i)));

      // Chroma shows through blue: B = Y + 1.772 (Cb - 128), libjpeg's fixed point. Y is 0 under
      // the upper half of Cb and 255 under the lower half, so that B never clips.
      const blue = await turbo!.encodeYuv420(frame((i) => (i >= 128 ? 16 : 235), (i) => i, () => 128), size, size, 100, false, true);
      const rgb = (await turboDecode(blue.data, 'rgb24', square, square))!;
      const blueLevels = Array.from({ length: 256 }, (_, i) => rgb[centre(i) * 3 + 2]);
      const expectedBlue = Array.from({ length: 256 }, (_, i) => (i >= 128 ? 0 : 255) + Math.floor((116130 * (chromaFull(i) - 128) + 32768) / 65536));
      expect(blueLevels).toEqual(expectedBlue);
    });

    it('writes smaller files with optimised Huffman tables, the same picture', async () => {
      const { yuv } = await planes(320, 240);
      const plain = await turbo!.encodeYuv420(yuv, 320, 240, 80, false, false);
      const optimised = await turbo!.encodeYuv420(yuv, 320, 240, 80, true, false);
      expect(optimised.data.length).toBeLessThan(plain.data.length);
      expect(meanDiff(await sharpRgb(plain.data), await sharpRgb(optimised.data))).toBe(0);
    });

    it('refuses planes shorter than the size needs, and sizes or qualities out of range', () => {
      expect(() => turbo!.encodeYuv420(Buffer.alloc(100), 64, 48, 80, false, false)).toThrow(RangeError);
      expect(() => turbo!.encodeYuv420(Buffer.alloc(64 * 48 * 2), 64, 48, 0, false, false)).toThrow(RangeError);
      expect(() => turbo!.encodeYuv420(Buffer.alloc(64 * 48 * 2), 0, 48, 80, false, false)).toThrow(RangeError);
    });
  });
});
