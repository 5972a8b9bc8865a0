/**
 * `send --file` of an MJPEG video passes the file's own JPEGs through: what recv saves (its
 * metadata segment taken out) is byte for byte what the container holds, for each ffmpeg here.
 * Asked for a size, quality or rate, the frames are encoded again.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG, FFMPEGS, runFfmpeg } from './helpers/ffmpeg.js';
import { startReceiver, stopAll, vstream } from './helpers/process.js';
import { parseProbeOutput } from '../src/source/ffmpeg/probe.js';
import { copyOutputArgs, ffmpegArgs } from '../src/source/ffmpeg/args.js';

const FRAMES = 12;
let tmp: string;
let clip: string;
/** The JPEGs inside the clip, as ffmpeg extracts them without decoding. */
let inside: Buffer[];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-passthrough-'));
  clip = join(tmp, 'clip.avi');
  await runFfmpeg(['-f', 'lavfi', '-i', `testsrc=size=160x120:rate=10`, '-frames:v', String(FRAMES), '-c:v', 'mjpeg', '-q:v', '3', clip]);
  await runFfmpeg(['-i', clip, '-c:v', 'copy', '-f', 'image2', join(tmp, 'inside-%03d.jpg')]);
  const names = (await readdir(tmp)).filter((name) => name.startsWith('inside-')).sort();
  inside = await Promise.all(names.map((name) => readFile(join(tmp, name))));
});

afterEach(() => stopAll());
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function sendAndSave(extra: string[], ffmpeg = FFMPEG): Promise<Buffer[]> {
  const out = await mkdtemp(join(tmp, 'out-'));
  const recv = await startReceiver(['--save-dir', out, '--frames', String(FRAMES)]);
  const send = vstream(['send', '--file', clip, '--ffmpeg', ffmpeg, '--to', `127.0.0.1:${recv.port}`, ...extra]);
  expect(await send.exitCode, send.stderr()).toBe(0);
  expect(await recv.exitCode, recv.stderr()).toBe(0);
  const names = (await readdir(out)).filter((name) => !name.startsWith('.')).sort();
  return Promise.all(names.map((name) => readFile(join(out, name))));
}

describe('send --file of an MJPEG video', () => {
  it('the clip holds distinct JPEGs (the reference the tests compare with)', () => {
    expect(inside).toHaveLength(FRAMES);
    expect(new Set(inside.map((jpeg) => jpeg.toString('base64'))).size).toBe(FRAMES);
  });

  it.each(FFMPEGS)('passes its JPEGs through byte for byte, at its own rate and with --fps max ($name)', async ({ path }) => {
    expect(await sendAndSave(['--fps', 'max'], path)).toEqual(inside);
    expect(await sendAndSave([], path)).toEqual(inside);
  });

  it('encodes them again when a quality, a size or a rate is asked for', async () => {
    for (const extra of [['--quality', '40'], ['--size', '80x60'], ['--fps', '10']]) {
      const saved = await sendAndSave(extra);
      expect(saved, extra.join(' ')).toHaveLength(FRAMES);
      expect(saved.filter((jpeg, i) => jpeg.equals(inside[i]!)), extra.join(' ')).toHaveLength(0);
    }
  });
});

describe('the pieces', () => {
  it("reads the first video stream's codec from ffmpeg's description of the input", () => {
    const text = `Input #0, avi, from 'clip.avi':\n  Duration: 00:00:01.20, start: 0.000000, bitrate: 529 kb/s\n  Stream #0:0: Video: mjpeg (Baseline) (MJPG / 0x47504A4D), yuvj420p(pc, bt470bg/unknown/unknown), 160x120, 10 fps, 10 tbr, 10 tbn\n`;
    expect(parseProbeOutput(text)).toEqual({ durationSeconds: 1.2, fps: 10, codec: 'mjpeg' });
    expect(parseProbeOutput('  Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p, 640x480, 25 fps').codec).toBe('h264');
  });

  it('copies the stream, with no filter or encoder, when the JPEGs pass through', () => {
    const args = ffmpegArgs(['-i', 'clip.avi'], { encoder: 'copy', size: { width: 8, height: 8 }, quality: 10 });
    expect(args.slice(-copyOutputArgs().length)).toEqual(['-map', '0:v:0', '-an', '-c:v', 'copy', '-flush_packets', '1', '-f', 'mjpeg', 'pipe:1']);
    expect(args).not.toContain('-vf');
  });
});
