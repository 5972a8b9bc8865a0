/**
 * A camera's formats asked for with real processes (v4l2-ctl and ffmpeg stand-ins that print
 * real listings, and the real ffmpeg on a device that is not a camera), and `send --camera`
 * end to end through an ffmpeg in front of a stand-in camera (test/fixtures/ffmpeg/camera.mjs):
 * the camera's JPEGs arrive byte for byte when they pass through.
 */
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openCamera } from '../src/source/camera.js';
import { cameraLister } from '../src/source/camera/lister.js';
import { parseV4l2ListFormats } from '../src/source/camera/v4l2-listing.js';
import { openSource } from '../src/source/index.js';
import { MjpegSplitter } from '../src/source/mjpeg-splitter.js';
import { CAMERA_FIXTURES, cameraListing } from './helpers/camera-listings.js';
import { FFMPEG, FFMPEGS } from './helpers/ffmpeg.js';
import { startReceiver, stopAll, vstream } from './helpers/process.js';

const CAMERA_FFMPEG = fileURLToPath(new URL('./fixtures/ffmpeg/camera.mjs', import.meta.url));

let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-camera-'));
});
afterEach(() => stopAll());
afterAll(() => rm(tmp, { recursive: true, force: true }));

/** An executable that prints `listing` on stdout or stderr, or never ends. */
async function program(name: string, body: string): Promise<string> {
  const path = join(tmp, name);
  await writeFile(path, `#!/usr/bin/env node\n${body}\n`);
  await chmod(path, 0o755);
  return path;
}

const printing = (fixture: string, stream: 'stdout' | 'stderr', code: number): string =>
  `process.${stream}.write(require('node:fs').readFileSync(${JSON.stringify(join(CAMERA_FIXTURES, fixture))}, 'utf8')); process.exitCode = ${code};`.replace(
    'require(',
    "(await import('node:module')).createRequire(import.meta.url)(",
  );

describe('asking a camera for its formats', () => {
  it('prefers v4l2-ctl, which states rates', async () => {
    const ctl = await program('v4l2-ctl.mjs', printing('v4l2-ctl-obs-2608.txt', 'stdout', 0));
    const list = cameraLister({ ffmpegPath: join(tmp, 'no-ffmpeg'), platform: 'linux', v4l2Ctl: ctl });
    const formats = await list('/dev/video1');
    expect(formats?.map(({ name }) => name)).toEqual(['mjpeg', 'yuyv422']);
    expect(formats?.[0]?.modes.find(({ width }) => width === 1280)?.rates).toEqual([
      { min: 60, max: 60 },
      { min: 30, max: 30 },
    ]);
  });

  it("falls back to ffmpeg's -list_formats when v4l2-ctl is not installed", async () => {
    const ffmpeg = await program('ffmpeg-lists.mjs', printing('v4l2-list-formats-go2rtc.txt', 'stderr', 1));
    const formats = await cameraLister({ ffmpegPath: ffmpeg, platform: 'linux', v4l2Ctl: join(tmp, 'no-v4l2-ctl') })('/dev/video0');
    expect(formats?.map(({ kind }) => kind)).toEqual(['raw', 'mjpeg']);
  });

  it('reads dshow and avfoundation listings the same way', async () => {
    const dshow = await program('ffmpeg-dshow.mjs', printing('dshow-list-options-mjpeg.txt', 'stderr', 1));
    expect((await cameraLister({ ffmpegPath: dshow, platform: 'win32' })('video=HD Webcam [Fixed]'))?.map(({ name }) => name)).toEqual(['yuyv422', 'mjpeg', 'bgr24']);
    const mac = await program('ffmpeg-mac.mjs', printing('avfoundation-supported-modes.txt', 'stderr', 1));
    expect((await cameraLister({ ffmpegPath: mac, platform: 'darwin' })('0'))?.[0]?.modes).toHaveLength(7);
  });

  it('knows nothing of a device that is not a camera, from the real ffmpeg, at once', async () => {
    const started = Date.now();
    expect(await cameraLister({ ffmpegPath: FFMPEG, platform: 'linux', v4l2Ctl: null })('/dev/null')).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('gives up on a listing that hangs, and leaves no process behind', async () => {
    const pidFile = join(tmp, 'hang.pid');
    const hang = await program('hang.mjs', `require('node:fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000);`.replace('require(', "(await import('node:module')).createRequire(import.meta.url)("));
    expect(await cameraLister({ ffmpegPath: hang, platform: 'linux', v4l2Ctl: null, timeoutMs: 500 })('/dev/video0')).toBeUndefined();
    const pid = Number(await readFile(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });
});

describe('opening a camera in the library', () => {
  it('takes an injected lister, and refuses mjpeg on a camera without it before ffmpeg starts', async () => {
    const listed: string[] = [];
    const listFormats = async (device: string) => {
      listed.push(device);
      return parseV4l2ListFormats(cameraListing('v4l2-list-formats-raw-only.txt'));
    };
    const opened = openSource({ kind: 'camera', ffmpegPath: join(tmp, 'no-ffmpeg'), device: '/dev/null', format: 'mjpeg', listFormats });
    await expect(opened).rejects.toMatchObject({ code: 'ERR_CAMERA_FORMAT', message: expect.stringContaining('its formats: yuyv422') });
    expect(listed).toEqual(['/dev/null']);
  });

  it('refuses mjpeg on macOS, whose cameras give ffmpeg decoded frames only', async () => {
    await expect(openCamera({ ffmpegPath: join(tmp, 'no-ffmpeg'), device: '0', format: 'mjpeg' }, 'darwin')).rejects.toMatchObject({ code: 'ERR_CAMERA_FORMAT' });
  });
});

describe('send --camera through a stand-in camera', () => {
  async function run(listing: string, extra: string[], frames = 8, ffmpeg = FFMPEG) {
    const dir = await mkdtemp(join(tmp, 'run-'));
    const env = {
      VSTREAM_TEST_LISTING: join(CAMERA_FIXTURES, listing),
      VSTREAM_TEST_FFMPEG: ffmpeg,
      VSTREAM_TEST_ARGS_LOG: join(dir, 'args.log'),
      VSTREAM_TEST_CAMERA_JPEGS: join(dir, 'camera.mjpeg'),
    };
    const out = join(dir, 'out');
    const recv = await startReceiver(['--save-dir', out, '--json', '--frames', String(frames)]);
    const send = vstream(['send', '--camera', '/dev/null', '--ffmpeg', CAMERA_FFMPEG, '--to', `127.0.0.1:${recv.port}`, ...extra], { env });
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    send.kill('SIGINT');
    await send.exitCode;
    const commands = (await readFile(env.VSTREAM_TEST_ARGS_LOG, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as string[]);
    const names = (await readdir(out)).filter((name) => !name.startsWith('.')).sort();
    const saved = await Promise.all(names.map((name) => readFile(join(out, name))));
    const records = recv.stdout().toString('utf8').trim().split('\n').map((line) => JSON.parse(line) as { seq?: number; captureTime?: number; width?: number });
    return { commands, saved, records, cameraJpegs: env.VSTREAM_TEST_CAMERA_JPEGS, send };
  }

  it.each(FFMPEGS)("takes the camera's MJPEG at the asked size and passes its JPEGs through byte for byte ($name)", async ({ path }) => {
    const { commands, saved, records, cameraJpegs } = await run('v4l2-list-formats-go2rtc.txt', ['--size', '320x240', '--fps', '15'], 8, path);
    // First the listing, then the capture: never both at once.
    expect(commands[0]).toEqual(expect.arrayContaining(['-list_formats', 'all', '/dev/null']));
    const capture = commands[1]!.join(' ');
    expect(capture).toContain('-f v4l2 -input_format mjpeg -framerate 15 -video_size 320x240 -i /dev/null');
    expect(capture).toContain('-c:v copy');
    expect(capture).not.toMatch(/scale=|-q:v/);

    const splitter = new MjpegSplitter();
    const made = splitter.push(await readFile(cameraJpegs)).map((jpeg) => jpeg.toString('base64'));
    expect(saved).toHaveLength(8);
    // A live source keeps the newest frame: every saved one is one the camera made, in order.
    let at = -1;
    for (const jpeg of saved) {
      const found = made.indexOf(jpeg.toString('base64'), at + 1);
      expect(found).toBeGreaterThan(at);
      at = found;
    }
    // The metadata segment still travels with them: capture times and increasing sequence numbers.
    expect(records).toHaveLength(8);
    expect(records.every((r) => typeof r.captureTime === 'number' && r.width === 320)).toBe(true);
    const seqs = records.map((r) => r.seq!);
    expect(seqs.every((seq, i) => i === 0 || seq > seqs[i - 1]!)).toBe(true);
  });

  it('reads a raw format, encoded as before, with --camera-format raw', async () => {
    const { commands, saved } = await run('v4l2-list-formats-go2rtc.txt', ['--camera-format', 'raw', '--size', '320x240'], 3);
    expect(commands[1]!.join(' ')).toContain('-f v4l2 -input_format yuyv422 -video_size 320x240 -i /dev/null');
    expect(commands[1]).not.toContain('copy');
    expect(saved).toHaveLength(3);
    expect(saved.every((jpeg) => jpeg[0] === 0xff && jpeg[1] === 0xd8)).toBe(true);
  });

  it('--camera-format mjpeg on a camera without MJPEG: one line naming its formats, exit 4, no capture', async () => {
    const dir = await mkdtemp(join(tmp, 'none-'));
    const log = join(dir, 'args.log');
    const send = vstream(['send', '--camera', '/dev/null', '--camera-format', 'mjpeg', '--ffmpeg', CAMERA_FFMPEG, '--to', '127.0.0.1:9'], {
      env: { VSTREAM_TEST_LISTING: join(CAMERA_FIXTURES, 'v4l2-list-formats-raw-only.txt'), VSTREAM_TEST_FFMPEG: FFMPEG, VSTREAM_TEST_ARGS_LOG: log },
    });
    expect(await send.exitCode).toBe(4);
    expect(send.stderr().trim()).toBe('vstream: camera /dev/null gives no MJPEG (its formats: yuyv422); use --camera-format raw or auto');
    expect((await readFile(log, 'utf8')).trim().split('\n')).toHaveLength(1);
    expect(cameraListing('v4l2-list-formats-raw-only.txt')).toContain('yuyv422');
  });

  it('refuses an unknown --camera-format, and --camera-format without --camera', async () => {
    const bad = vstream(['send', '--camera', '0', '--camera-format', 'h264']);
    expect(await bad.exitCode).toBe(2);
    expect(bad.stderr()).toContain('invalid --camera-format "h264": expected auto, mjpeg, raw');
    const alone = vstream(['send', '--pattern', '--camera-format', 'mjpeg']);
    expect(await alone.exitCode).toBe(2);
    expect(alone.stderr()).toContain('--camera-format');
  });
});
