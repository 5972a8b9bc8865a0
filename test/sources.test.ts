import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import sharp from 'sharp';
import { FfmpegError, SourceError, UsageError } from '../src/errors.js';
import type { Frame } from '../src/frame/frame.js';
import { openSource, type FrameSource, type SourceOptions } from '../src/source/index.js';
import { nowMs } from '../src/source/frame-stream.js';
import { FFMPEG, FFMPEGS, makeClip } from './helpers/ffmpeg.js';
import { imageInfo, makeBmp24, makeJpeg, makePng } from './helpers/jpeg.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/ffmpeg/${name}`, import.meta.url));

/** Up to `n` frames (all of them by default); leaving the loop early closes the source. */
async function take(source: FrameSource, n = Infinity): Promise<Frame[]> {
  const frames: Frame[] = [];
  if (n <= 0) return frames;
  for await (const frame of source) {
    frames.push(frame);
    if (frames.length >= n) break;
  }
  return frames;
}

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

/** Frames yielded before the source failed, and the failure. */
async function drainUntilError(source: FrameSource): Promise<{ frames: Frame[]; error: unknown }> {
  const frames: Frame[] = [];
  try {
    for await (const frame of source) frames.push(frame);
  } catch (error) {
    return { frames, error };
  }
  throw new Error(`expected ${source.description} to fail; it ended after ${frames.length} frames`);
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

let tmp: string;
let clip: string;
const CLIP_FRAMES = 50;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-sources-'));
  clip = await makeClip(tmp, { frames: CLIP_FRAMES, width: 320, height: 240, rate: 25 });
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** Who encodes: the libjpeg-turbo addon from ffmpeg's raw frames, or ffmpeg's MJPEG encoder. */
const ENCODERS = ['raw', 'ffmpeg'] as const;
const WITH_ENCODERS = FFMPEGS.flatMap((ffmpeg) => ENCODERS.map((encoder) => ({ ...ffmpeg, encoder })));

describe.each(WITH_ENCODERS)('pattern with $name, encoder $encoder', ({ path: ffmpegPath, encoder }) => {
  it('yields decodable JPEGs of the requested size, live', async () => {
    const opened = Date.now();
    const source = await openSource({ kind: 'pattern', ffmpegPath, encoder, size: { width: 320, height: 240 }, fps: 50 });
    expect(source.live).toBe(true);
    expect(source.description).toBe('pattern 320x240@50');
    const frames = await take(source, 5);
    expect(frames).toHaveLength(5);
    for (const frame of frames) expect(await imageInfo(frame.data)).toMatchObject({ width: 320, height: 240, format: 'jpeg' });
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.captureTime!).toBeGreaterThan(frames[i - 1]!.captureTime!);
    // Epoch milliseconds, taken while the source ran (not a monotonic clock or ffmpeg's pts).
    expect(frames[0]!.captureTime!).toBeGreaterThanOrEqual(opened);
    expect(frames[4]!.captureTime!).toBeLessThanOrEqual(Date.now());
  });

  it('defaults to 640x480', async () => {
    const [frame] = await take(await openSource({ kind: 'pattern', ffmpegPath, encoder }), 1);
    expect(await imageInfo(frame!.data)).toMatchObject({ width: 640, height: 480 });
  });
});

describe.each(FFMPEGS)('both encoders with $name', ({ path: ffmpegPath }) => {
  it('make the same picture of the same frame (colours and range right)', async () => {
    // Frame 1 of the clip (H.264, limited range) through both: any range or plane mix-up shows.
    const [raw, viaFfmpeg] = await Promise.all(
      ENCODERS.map(async (encoder) => (await take(await openSource({ kind: 'file', ffmpegPath, encoder, path: clip, fps: 'max' }), 1))[0]!.data),
    );
    const [a, b] = await Promise.all([raw!, viaFfmpeg!].map((jpeg) => sharp(jpeg).raw().toBuffer()));
    expect(a!.length).toBe(320 * 240 * 3);
    let diff = 0;
    for (let i = 0; i < a!.length; i++) diff += Math.abs(a![i]! - b![i]!);
    expect(diff / a!.length).toBeLessThan(3);
  });
});

describe('live sources: latest frame wins', () => {
  it('a slow consumer gets the newest frame, and the replaced ones are counted', async () => {
    const source = await openSource({ kind: 'pattern', ffmpegPath: FFMPEG, size: { width: 160, height: 120 }, fps: 30 });
    let rounds = 0;
    let replacedAfter: number | undefined;
    for await (const frame of source) {
      if (replacedAfter !== undefined) {
        // A queue (or keeping the oldest) would hand over the first frame that arrived while
        // busy, captured before any drop was seen; latest-wins hands over one captured later.
        expect(frame.captureTime).toBeGreaterThanOrEqual(replacedAfter);
      }
      if (++rounds === 4) break;
      // The consumer is busy until frames have replaced each other twice: the first drop shows
      // that a frame is waiting, and a frame that replaces one after `replacedAfter` was
      // captured after it (the capture time is taken in the same tick as the replacement).
      const before = source.dropped;
      await vi.waitFor(() => expect(source.dropped).toBeGreaterThan(before), { timeout: 20_000, interval: 5 });
      const seen = source.dropped;
      replacedAfter = nowMs();
      await vi.waitFor(() => expect(source.dropped).toBeGreaterThan(seen), { timeout: 20_000, interval: 5 });
    }
    expect(rounds).toBe(4);
  });
});

describe('file', () => {
  it.each(WITH_ENCODERS)('with fps max yields exactly the clip frame count ($name, encoder $encoder)', async ({ path: ffmpegPath, encoder }) => {
    const source = await openSource({ kind: 'file', ffmpegPath, encoder, path: clip, fps: 'max' });
    expect(source.live).toBe(false);
    const frames = await take(source);
    expect(frames).toHaveLength(CLIP_FRAMES);
    expect(source.dropped).toBe(0);
    expect(await imageInfo(frames.at(-1)!.data)).toMatchObject({ width: 320, height: 240 });
  });

  it('scales to size', async () => {
    const frames = await take(await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: clip, fps: 'max', size: { width: 100, height: 50 } }), 2);
    expect(await imageInfo(frames[1]!.data)).toMatchObject({ width: 100, height: 50 });
  });

  it('with --loop goes past the end of the clip', async () => {
    const frames = await take(await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: clip, fps: 'max', loop: true }), CLIP_FRAMES * 2 + 10);
    expect(frames).toHaveLength(CLIP_FRAMES * 2 + 10);
  });

  it('plays at the clip rate by default', async () => {
    const short = await makeClip(tmp, { frames: 10, width: 64, height: 48, rate: 25, name: 'short.mp4' });
    const started = performance.now();
    const frames = await take(await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: short }));
    expect(frames).toHaveLength(10);
    expect(performance.now() - started).toBeGreaterThan(300); // 10 frames at 25 fps: 0.4 s
  });

  it('never drops frames for a slow consumer: ffmpeg waits', async () => {
    const source = await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: clip, fps: 'max' });
    let count = 0;
    for await (const frame of source) {
      expect(frame.data.length).toBeGreaterThan(0);
      if (++count <= 3) await sleep(150); // meanwhile ffmpeg could have finished the whole clip
    }
    expect(count).toBe(CLIP_FRAMES);
    expect(source.dropped).toBe(0);
  });

  it('a missing file is ERR_FILE_NOT_FOUND before ffmpeg starts', async () => {
    const error = await failure(openSource({ kind: 'file', ffmpegPath: '/nonexistent/ffmpeg', path: join(tmp, 'nope.mp4') }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_FILE_NOT_FOUND', message: `file not found: ${join(tmp, 'nope.mp4')}` });
  });

  it('a folder is ERR_NOT_A_FILE', async () => {
    const error = await failure(openSource({ kind: 'file', ffmpegPath: FFMPEG, path: tmp }));
    expect(error).toMatchObject({ code: 'ERR_NOT_A_FILE' });
  });

  it('a file ffmpeg cannot read fails the iteration with ERR_FILE_UNREADABLE', async () => {
    const text = join(tmp, 'notes.mp4');
    await writeFile(text, 'not a video\n');
    const { frames, error } = await drainUntilError(await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: text }));
    expect(frames).toHaveLength(0);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_FILE_UNREADABLE' });
    expect((error as Error).message).not.toContain('\n');
  });
});

describe('closing', () => {
  const pidFile = (): string => join(tmp, `pid-${Math.random().toString(36).slice(2)}`);

  async function openWrapped(options: SourceOptions, file: string): Promise<FrameSource> {
    process.env.VSTREAM_TEST_PIDFILE = file;
    process.env.VSTREAM_TEST_FFMPEG = FFMPEG;
    try {
      return await openSource({ ...options, ffmpegPath: fixture('pid-wrapper.sh') });
    } finally {
      delete process.env.VSTREAM_TEST_PIDFILE;
      delete process.env.VSTREAM_TEST_FFMPEG;
    }
  }

  it('breaking out of a live source ends ffmpeg', async () => {
    const file = pidFile();
    const source = await openWrapped({ kind: 'pattern', ffmpegPath: '', fps: 30 }, file);
    expect(await take(source, 3)).toHaveLength(3);
    const pid = Number(await readFile(file, 'utf8'));
    expect(isGone(pid)).toBe(true);
  });

  it('breaking out of a paused file source ends ffmpeg blocked on its pipe', async () => {
    const file = pidFile();
    const source = await openWrapped({ kind: 'file', ffmpegPath: '', path: clip, fps: 'max', loop: true }, file);
    const frames = await take(source, 2);
    expect(frames).toHaveLength(2);
    expect(isGone(Number(await readFile(file, 'utf8')))).toBe(true);
  });

  it('close() while the consumer waits ends its loop without an error', async () => {
    for (const kind of ['pattern', 'file'] as const) {
      const options: SourceOptions =
        kind === 'pattern' ? { kind, ffmpegPath: FFMPEG, fps: 1 } : { kind, ffmpegPath: FFMPEG, path: clip, fps: 1 };
      const source = await openSource(options);
      const consumed = take(source);
      await source.close();
      expect((await consumed).length).toBeLessThanOrEqual(1);
    }
  });

  it('close() without iterating, twice at once and again later, resolves each time and leaves nothing to iterate', async () => {
    const source = await openSource({ kind: 'pattern', ffmpegPath: FFMPEG });
    await expect(Promise.all([source.close(), source.close()])).resolves.toEqual([undefined, undefined]);
    await expect(source.close()).resolves.toBeUndefined();
    // A closed live source must not start yielding the frames its ffmpeg had made.
    expect(await take(source)).toEqual([]);
  });

  it('a source is iterated once', async () => {
    const source = await openSource({ kind: 'file', ffmpegPath: FFMPEG, path: clip, fps: 'max' });
    await take(source, 1);
    await expect(take(source, 1)).rejects.toThrow(/only once/);
  });
});

describe.each(ENCODERS)('misbehaving ffmpeg, encoder %s', (encoder) => {
  it('a crash mid-stream is ERR_FFMPEG_CRASHED, after the complete frames, not a truncation error', async () => {
    const source = await openSource({ kind: 'file', ffmpegPath: fixture('crash.mjs'), encoder, path: clip });
    const { frames, error } = await drainUntilError(source);
    expect(frames).toHaveLength(3);
    expect(error).toBeInstanceOf(FfmpegError);
    expect(error).toMatchObject({ code: 'ERR_FFMPEG_CRASHED' });
    expect((error as Error).message).toBe('ffmpeg was killed by SIGSEGV: h264: error while decoding MB 12 7, bytestream -5');
  });

  it('a live source passes the failure on too', async () => {
    const { error } = await drainUntilError(await openSource({ kind: 'pattern', ffmpegPath: fixture('fail.mjs'), encoder }));
    expect(error).toBeInstanceOf(FfmpegError);
    expect(error).toMatchObject({ code: 'ERR_FFMPEG_FAILED', message: 'ffmpeg exited with code 1: mjpeg: bitrate tolerance too small for bitrate' });
  });

  it('garbage instead of frames is ERR_NOT_MJPEG (ERR_Y4M for raw frames), and ffmpeg is stopped', async () => {
    const { frames, error } = await drainUntilError(await openSource({ kind: 'pattern', ffmpegPath: fixture('garbage.mjs'), encoder }));
    expect(frames).toHaveLength(0);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: encoder === 'raw' ? 'ERR_Y4M' : 'ERR_NOT_MJPEG' });
  });

  it('a missing ffmpeg is ERR_FFMPEG_NOT_FOUND', async () => {
    const { error } = await drainUntilError(await openSource({ kind: 'pattern', ffmpegPath: join(tmp, 'no-ffmpeg'), encoder }));
    expect(error).toBeInstanceOf(FfmpegError);
    expect(error).toMatchObject({ code: 'ERR_FFMPEG_NOT_FOUND' });
  });
});

describe('camera', () => {
  it.each(['/dev/video99', '99'])('%s is ERR_CAMERA_NOT_FOUND before ffmpeg starts', async (device) => {
    const error = await failure(openSource({ kind: 'camera', ffmpegPath: FFMPEG, device }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_CAMERA_NOT_FOUND' });
    expect((error as Error).message).toMatch(/^camera \/dev\/video99 not found \((cameras: .*|no cameras found)\)$/);
  });

  it('a device that is not a camera is ERR_CAMERA_NOT_FOUND, from ffmpeg', async () => {
    const { error } = await drainUntilError(await openSource({ kind: 'camera', ffmpegPath: FFMPEG, device: '/dev/null' }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_CAMERA_NOT_FOUND' });
  });

  it('a busy camera is ERR_CAMERA_BUSY', async () => {
    const { error } = await drainUntilError(await openSource({ kind: 'camera', ffmpegPath: fixture('busy.mjs'), device: '/dev/null' }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_CAMERA_BUSY', message: 'camera /dev/null is busy: another program is using it' });
  });
});

describe('dir', () => {
  let dir: string;
  let jpeg: Buffer;

  beforeAll(async () => {
    dir = join(tmp, 'images');
    await mkdir(dir);
    jpeg = await makeJpeg({ width: 48, height: 32 });
    await writeFile(join(dir, '10.png'), await makePng({ width: 40, height: 30 }));
    await writeFile(join(dir, '2.png'), await makePng({ width: 40, height: 30 }));
    await writeFile(join(dir, '1.png'), await makePng({ width: 40, height: 30 }));
    await writeFile(join(dir, 'a.JPG'), jpeg);
    await writeFile(join(dir, 'B.bmp'), makeBmp24(9, 7, (x, y) => [x * 28, y * 36, 200]));
    await writeFile(join(dir, 'notes.txt'), 'not an image');
    await writeFile(join(dir, '._a.jpg'), 'macOS resource fork');
  });

  it('yields images in natural, case-insensitive order, named by file', async () => {
    const source = await openSource({ kind: 'dir', ffmpegPath: '', path: dir });
    expect(source.live).toBe(false);
    expect(source.description).toBe(`dir ${dir} (5 images)`);
    const frames = await take(source);
    expect(frames.map((frame) => frame.name)).toEqual(['1.png', '2.png', '10.png', 'a.JPG', 'B.bmp']);
    const formats = await Promise.all(frames.map(async (frame) => (await imageInfo(frame.data)).format));
    expect(formats).toEqual(['png', 'png', 'png', 'jpeg', 'jpeg']);
    expect(frames.map((frame) => frame.type)).toEqual(['png', 'png', 'png', 'jpeg', 'jpeg']);
    expect(await imageInfo(frames[4]!.data)).toMatchObject({ width: 9, height: 7 });
  });

  it('passes a JPEG and a PNG through byte for byte', async () => {
    const frames = await take(await openSource({ kind: 'dir', ffmpegPath: '', path: dir }));
    expect(frames[3]!.data.equals(jpeg)).toBe(true);
    expect(frames[0]!.data.equals(await readFile(join(dir, '1.png')))).toBe(true);
    expect(frames[0]).toMatchObject({ type: 'png', width: 40, height: 30 });
  });

  it('re-encodes a JPEG when quality is given, and resizes every image to size', async () => {
    const requalified = await take(await openSource({ kind: 'dir', ffmpegPath: '', path: dir, quality: 30 }));
    expect(requalified[3]!.data.equals(jpeg)).toBe(false);
    for (const frame of requalified) expect(frame.type).toBe('jpeg');
    const resized = await take(await openSource({ kind: 'dir', ffmpegPath: '', path: dir, size: { width: 20, height: 10 } }));
    for (const frame of resized) expect(await imageInfo(frame.data)).toMatchObject({ width: 20, height: 10 });
  });

  it('paces frames at a numeric fps', async () => {
    const started = performance.now();
    const frames = await take(await openSource({ kind: 'dir', ffmpegPath: '', path: dir, fps: 20 }));
    expect(frames).toHaveLength(5);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4 * 50 - 5);
  });

  it('a missing folder is ERR_DIR_NOT_FOUND', async () => {
    const error = await failure(openSource({ kind: 'dir', ffmpegPath: '', path: join(tmp, 'nowhere') }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_DIR_NOT_FOUND' });
  });

  it('a folder without images is ERR_DIR_EMPTY', async () => {
    const empty = join(tmp, 'empty');
    await mkdir(empty);
    await writeFile(join(empty, 'readme.txt'), 'nothing to see');
    const error = await failure(openSource({ kind: 'dir', ffmpegPath: '', path: empty }));
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_DIR_EMPTY' });
  });

  it('a corrupt image fails with one line naming the file, after the good ones', async () => {
    const broken = join(tmp, 'broken');
    await mkdir(broken);
    await copyFile(join(dir, '1.png'), join(broken, '1.png'));
    await writeFile(join(broken, '2.png'), Buffer.from('\x89PNG\r\n\x1a\n but then nothing', 'latin1'));
    const { frames, error } = await drainUntilError(await openSource({ kind: 'dir', ffmpegPath: '', path: broken }));
    expect(frames.map((frame) => frame.name)).toEqual(['1.png']);
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_IMAGE_UNREADABLE' });
    expect((error as Error).message).toMatch(/^cannot read image 2\.png: [^\n]+$/);
  });

  it('an unreadable image fails naming the file', async () => {
    if (process.getuid?.() === 0) return; // root reads anything
    const locked = join(tmp, 'locked');
    await mkdir(locked);
    await writeFile(join(locked, '1.jpg'), jpeg);
    await chmod(join(locked, '1.jpg'), 0o000);
    const { error } = await drainUntilError(await openSource({ kind: 'dir', ffmpegPath: '', path: locked }));
    expect(error).toMatchObject({ code: 'ERR_IMAGE_UNREADABLE' });
  });
});

describe('stdin', () => {
  let jpegs: Buffer[];
  beforeAll(async () => {
    jpegs = [await makeJpeg({ width: 16, height: 16 }), await makeJpeg({ width: 32, height: 8 }), await makeJpeg({ width: 8, height: 8 })];
  });

  /** A stream delivering `bytes` in chunks of `size`. */
  const chunked = (bytes: Buffer, size: number): Readable =>
    Readable.from(Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size)));

  it('passes concatenated JPEGs through unchanged, then ends', async () => {
    const source = await openSource({ kind: 'stdin', ffmpegPath: '', stream: chunked(Buffer.concat(jpegs), 777), quality: 10, size: { width: 1, height: 1 } });
    expect(source.live).toBe(false);
    const frames = await take(source);
    expect(frames.map((frame) => frame.data.toString('base64'))).toEqual(jpegs.map((jpeg) => jpeg.toString('base64')));
  });

  it('a truncated last frame is ERR_SOURCE_TRUNCATED_FRAME after the complete ones', async () => {
    const bytes = Buffer.concat([jpegs[0]!, jpegs[1]!.subarray(0, 100)]);
    const { frames, error } = await drainUntilError(await openSource({ kind: 'stdin', ffmpegPath: '', stream: chunked(bytes, 64) }));
    expect(frames).toHaveLength(1);
    expect(error).toMatchObject({ code: 'ERR_SOURCE_TRUNCATED_FRAME' });
  });

  it('reads only as fast as the consumer takes frames', async () => {
    const input = new PassThrough({ highWaterMark: 1024 });
    const source = await openSource({ kind: 'stdin', ffmpegPath: '', stream: input });
    const big = await makeJpeg({ width: 256, height: 256 });
    const iterator = source[Symbol.asyncIterator]();
    input.write(big);
    expect((await iterator.next()).value?.data.equals(big)).toBe(true);
    // The consumer is now busy: what the writer adds stays in the stream's buffer.
    let accepted = 0;
    while (input.write(big)) accepted++;
    expect(accepted).toBeLessThan(3);
    await source.close();
  });
});

describe('option checks', () => {
  it.each([
    [{ quality: 0 }, 'ERR_BAD_QUALITY'],
    [{ quality: 101 }, 'ERR_BAD_QUALITY'],
    [{ fps: 0 }, 'ERR_BAD_FPS'],
    [{ fps: Number.POSITIVE_INFINITY }, 'ERR_BAD_FPS'],
    [{ size: { width: 0, height: 10 } }, 'ERR_BAD_SIZE'],
    [{ size: { width: 10.5, height: 10 } }, 'ERR_BAD_SIZE'],
  ])('%j is %s', async (bad, code) => {
    const error = await failure(openSource({ kind: 'pattern', ffmpegPath: FFMPEG, ...bad }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error).toMatchObject({ code });
  });
});
