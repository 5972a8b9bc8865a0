import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUALITY, qualityToQscale, validateQuality } from '../src/encode/quality.js';
import { UsageError } from '../src/errors.js';
import {
  ffmpegArgs,
  cameraDevice,
  cameraInputArgs,
  fileInputArgs,
  globalArgs,
  mjpegOutputArgs,
  patternInputArgs,
} from '../src/source/ffmpeg/args.js';
import { MjpegSplitter } from '../src/source/mjpeg-splitter.js';
import { patternFfmpeg } from '../src/source/pattern.js';
import { fileFfmpeg } from '../src/source/file.js';
import { cameraFfmpeg } from '../src/source/camera.js';
import type { FfmpegPlan } from '../src/source/ffmpeg/args.js';

/** A source's whole ffmpeg command line, as its kind plans it (ffmpeg's own encoder). */
const argsOf = ({ input, output }: FfmpegPlan): string[] => ffmpegArgs(input, output);
import { FFMPEGS, makeClip, runFfmpeg } from './helpers/ffmpeg.js';
import { imageInfo } from './helpers/jpeg.js';

/** The value following `flag` in an argument list. */
function valueOf(args: string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

describe('quality mapping', () => {
  it('maps libjpeg quality onto ffmpeg q:v 2..31, best to worst', () => {
    expect(DEFAULT_QUALITY).toBe(80);
    expect(qualityToQscale(80)).toBe(5);
    expect(qualityToQscale(50)).toBe(12);
    expect(qualityToQscale(100)).toBe(2);
    expect(qualityToQscale(1)).toBe(31);
    for (let q = 2; q <= 100; q++) {
      expect(qualityToQscale(q)).toBeLessThanOrEqual(qualityToQscale(q - 1));
      expect(qualityToQscale(q)).toBeGreaterThanOrEqual(2);
    }
  });

  it('rejects qualities outside 1..100 or not integers', () => {
    for (const bad of [0, 101, 50.5, Number.NaN, -1]) {
      expect(() => validateQuality(bad)).toThrow(UsageError);
    }
    expect(validateQuality(1)).toBe(1);
  });
});

describe('argument builders', () => {
  it('keep ffmpeg quiet and away from the terminal', () => {
    expect(globalArgs()).toEqual(expect.arrayContaining(['-nostdin', '-hide_banner', '-nostats']));
    expect(valueOf(globalArgs(), '-loglevel')).toBe('error');
  });

  it('pattern: testsrc2 at 640x480@30 in real time by default', () => {
    expect(patternInputArgs({})).toEqual(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=30']);
    expect(patternInputArgs({ size: { width: 320, height: 200 }, fps: 12.5 })).toEqual(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=320x200:rate=12.5']);
    expect(patternInputArgs({ fps: 'max' })).not.toContain('-re');
  });

  it('pattern: generated at its size, so the output is not scaled', () => {
    const args = argsOf(patternFfmpeg({ size: { width: 320, height: 240 } }));
    expect(args.join(' ')).not.toMatch(/scale=/);
  });

  it('file: native rate, or as fast as possible, or looped', () => {
    expect(fileInputArgs({ path: 'a.mp4' })).toEqual(['-re', '-i', 'a.mp4']);
    expect(fileInputArgs({ path: 'a.mp4', fps: 'max' })).toEqual(['-i', 'a.mp4']);
    expect(fileInputArgs({ path: 'a.mp4', loop: true })).toEqual(['-re', '-stream_loop', '-1', '-i', 'a.mp4']);
  });

  it('file: a numeric fps resamples in real time, before scaling', () => {
    const args = argsOf(fileFfmpeg({ path: 'a.mp4', fps: 10, size: { width: 160, height: 120 } }));
    expect(args).toContain('-re');
    expect(valueOf(args, '-vf')).toBe('fps=10,scale=160:120');
  });

  it('camera: device names per platform', () => {
    expect(cameraDevice('0', 'linux')).toBe('/dev/video0');
    expect(cameraDevice('12', 'linux')).toBe('/dev/video12');
    expect(cameraDevice('/dev/v4l/by-id/usb-cam', 'linux')).toBe('/dev/v4l/by-id/usb-cam');
    expect(cameraDevice('0', 'darwin')).toBe('0');
    expect(cameraDevice('Integrated Camera', 'win32')).toBe('video=Integrated Camera');
    expect(cameraDevice('video=USB Cam', 'win32')).toBe('video=USB Cam');
  });

  it('camera: v4l2 on Linux asks the driver for size and rate', () => {
    expect(cameraInputArgs({ device: '0', platform: 'linux' })).toEqual(['-f', 'v4l2', '-i', '/dev/video0']);
    expect(cameraInputArgs({ device: '1', platform: 'linux', fps: 15, size: { width: 640, height: 360 } })).toEqual([
      '-f',
      'v4l2',
      '-framerate',
      '15',
      '-video_size',
      '640x360',
      '-i',
      '/dev/video1',
    ]);
  });

  it('camera: avfoundation on macOS at 30 fps unless told', () => {
    expect(cameraInputArgs({ device: '0', platform: 'darwin' })).toEqual(['-f', 'avfoundation', '-framerate', '30', '-i', '0']);
    expect(cameraInputArgs({ device: '1', platform: 'darwin', fps: 15 })).toEqual(['-f', 'avfoundation', '-framerate', '15', '-i', '1']);
  });

  it('camera: dshow on Windows by name; sizes come from the scale filter only', () => {
    const args = argsOf(cameraFfmpeg({ device: 'USB Cam', platform: 'win32', size: { width: 320, height: 240 } }));
    expect(args.slice(args.indexOf('-f'), args.indexOf('-i') + 2)).toEqual(['-f', 'dshow', '-i', 'video=USB Cam']);
    expect(args).not.toContain('-video_size');
    expect(valueOf(args, '-vf')).toBe('scale=320:240');
  });

  it('output: MJPEG on stdout at the mapped quality', () => {
    const args = mjpegOutputArgs({});
    expect(valueOf(args, '-c:v')).toBe('mjpeg');
    expect(valueOf(args, '-q:v')).toBe('5');
    expect(valueOf(args, '-f')).toBe('mjpeg');
    expect(valueOf(args, '-map')).toBe('0:v:0');
    expect(args.at(-1)).toBe('pipe:1');
    expect(valueOf(mjpegOutputArgs({ quality: 100 }), '-q:v')).toBe('2');
    expect(valueOf(mjpegOutputArgs({ size: { width: 8, height: 6 } }), '-vf')).toBe('scale=8:6');
  });

  it('use nothing newer than ffmpeg 4.1', () => {
    const all = [
      argsOf(patternFfmpeg({})),
      argsOf(fileFfmpeg({ path: 'x', loop: true, fps: 5, size: { width: 2, height: 2 } })),
      argsOf(cameraFfmpeg({ device: '0', platform: 'linux', fps: 5 })),
    ].flat();
    for (const newer of ['-readrate', '-fps_mode', '-stats_period', '-enc_time_base']) expect(all).not.toContain(newer);
  });
});

/** Runs the built arguments, stopping after `frames` frames, and splits the output. */
async function framesFrom(ffmpegPath: string, args: string[], frames: number): Promise<Buffer[]> {
  // `-frames:v` is an output option: it goes just before the output name.
  const limited = [...args.slice(0, -1), '-frames:v', String(frames), args.at(-1)!];
  const stdout = await runFfmpeg(limited, ffmpegPath);
  const splitter = new MjpegSplitter();
  const out = splitter.push(stdout);
  splitter.end();
  return out;
}

describe.each(FFMPEGS)('arguments run by $name', ({ path: ffmpegPath }) => {
  let dir: string;
  let clip: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vstream-args-'));
    clip = await makeClip(dir, { frames: 20, width: 320, height: 240, rate: 25 });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('pattern gives decodable JPEGs of the requested size', async () => {
    const frames = await framesFrom(ffmpegPath, argsOf(patternFfmpeg({ size: { width: 160, height: 120 }, fps: 'max' })), 5);
    expect(frames).toHaveLength(5);
    for (const frame of frames) expect(await imageInfo(frame)).toMatchObject({ width: 160, height: 120, format: 'jpeg' });
  });

  it('file, scaled and as fast as possible, gives every frame', async () => {
    const frames = await framesFrom(ffmpegPath, argsOf(fileFfmpeg({ path: clip, fps: 'max', size: { width: 64, height: 48 } })), 1000);
    expect(frames).toHaveLength(20);
    expect(await imageInfo(frames[19]!)).toMatchObject({ width: 64, height: 48 });
  });

  it('file, looped, keeps going past its end', async () => {
    const frames = await framesFrom(ffmpegPath, argsOf(fileFfmpeg({ path: clip, fps: 'max', loop: true })), 45);
    expect(frames).toHaveLength(45);
  });

  it('file at a numeric fps resamples in real time', async () => {
    // 20 frames at 25 fps = 0.8 s of video, so 10 fps gives 8 frames over about 0.8 s.
    const started = performance.now();
    const frames = await framesFrom(ffmpegPath, argsOf(fileFfmpeg({ path: clip, fps: 10 })), 1000);
    expect(frames.length).toBeGreaterThanOrEqual(7);
    expect(frames.length).toBeLessThanOrEqual(9);
    expect(performance.now() - started).toBeGreaterThan(500);
  });

  it('higher quality gives bigger frames', async () => {
    const sizeAt = async (quality: number): Promise<number> =>
      (await framesFrom(ffmpegPath, argsOf(patternFfmpeg({ fps: 'max', quality })), 1))[0]!.length;
    expect(await sizeAt(95)).toBeGreaterThan(await sizeAt(80));
    expect(await sizeAt(80)).toBeGreaterThan(await sizeAt(30));
  });
});
