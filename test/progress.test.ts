/**
 * The progress line of `send --dir` and `send --file`: drawn on a real pseudo-terminal
 * (Python's pty module runs the real CLI), absent when stderr is a pipe; and the pieces
 * behind it (the line's text, its redraws, ffmpeg's duration and rate of a real clip).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ProgressLine, formatDuration, progressText, startProgress } from '../src/cli/progress.js';
import { frameCount, parseProbeOutput, probeFrameCount } from '../src/source/ffmpeg/probe.js';
import { FFMPEG, FFMPEGS, makeClip } from './helpers/ffmpeg.js';
import { makePng } from './helpers/jpeg.js';
import { start, startReceiver, stopAll, vstream, VSTREAM_BIN } from './helpers/process.js';
import { PYTHON } from './helpers/python.js';

/** Runs argv[1:] with stdin, stdout and stderr on a new pseudo-terminal; copies what it prints; exits as it did. */
const ON_A_TERMINAL = `
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
while True:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
`;

const ERASE = '\r\x1b[K';

let tmp: string;
let folder: string;
let clip: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-progress-'));
  folder = join(tmp, 'shots');
  await mkdir(folder);
  const png = await makePng({ width: 32, height: 24 });
  await Promise.all(Array.from({ length: 30 }, (_, i) => writeFile(join(folder, `${i + 1}.png`), png)));
  clip = await makeClip(tmp, { frames: 50, rate: 25 });
});
afterAll(() => rm(tmp, { recursive: true, force: true }));
afterEach(() => stopAll());

/** `vstream send ARGS` on a terminal; its terminal output once it exited 0. */
async function sendOnTerminal(args: string[]): Promise<string> {
  const send = start(PYTHON, ['-c', ON_A_TERMINAL, process.execPath, VSTREAM_BIN, 'send', ...args], { env: { VSTREAM_FFMPEG: FFMPEG } }, 'send on a pty');
  const code = await send.exitCode;
  if (code !== 0) throw send.describeFailure(`exited ${code}`);
  return send.stdout().toString('utf8');
}

describe('send on a terminal', () => {
  it('--dir shows done/total, the rate and the time left in place, erased before the summary', async () => {
    const receiver = await startReceiver(['--frames', '30']);
    const out = await sendOnTerminal(['--dir', folder, '--fps', '20', '--to', `127.0.0.1:${receiver.port}`]);
    const lines = out.split(ERASE).slice(1);
    const progress = lines.filter((line) => line.startsWith('vstream: ') && !line.startsWith('vstream: sent'));
    expect(progress.length, JSON.stringify(out)).toBeGreaterThanOrEqual(2);
    // 1.5 s at four redraws a second: a few, never one per frame.
    expect(progress.length).toBeLessThan(15);
    for (const line of progress) expect(line).toMatch(/^vstream: \d+\/30 frames \(\d+%\)(, [\d.]+ frames\/s(, \d+ s left)?)?$/);
    expect(progress.some((line) => /^vstream: \d+\/30 frames \(\d+%\), [\d.]+ frames\/s, \d+ s left$/.test(line))).toBe(true);
    // Redrawn in place (no newline until the summary), which comes last, on a line of its own.
    expect(out.indexOf('\n')).toBe(out.length - 1);
    expect(lines.at(-1)).toMatch(/^vstream: sent 30 frames \(.*\) to 127\.0\.0\.1:\d+, 0 dropped\r\n$/);
    expect(await receiver.exitCode).toBe(0);
  });

  it('--file learns its total from ffmpeg', async () => {
    const receiver = await startReceiver(['--frames', '50']);
    const out = await sendOnTerminal(['--file', clip, '--to', `127.0.0.1:${receiver.port}`]);
    expect(out).toMatch(/\r\x1b\[Kvstream: \d+\/50 frames \(\d+%\)/);
    expect(out).toMatch(/\r\x1b\[Kvstream: sent 50 frames/);
  });

  it('--frames caps the total; --quiet shows no line at all', async () => {
    const receiver = await startReceiver(['--frames', '22']);
    const capped = await sendOnTerminal(['--dir', folder, '--fps', '20', '--frames', '12', '--to', `127.0.0.1:${receiver.port}`]);
    expect(capped).toMatch(/vstream: \d+\/12 frames/);
    expect(capped).not.toMatch(/\/30 frames/);
    const quiet = await sendOnTerminal(['--dir', folder, '--fps', '40', '--frames', '10', '--quiet', '--to', `127.0.0.1:${receiver.port}`]);
    expect(quiet).toBe('');
    expect(await receiver.exitCode).toBe(0);
  });
});

describe('send with stderr a pipe', () => {
  it('prints no progress line, only the summary', async () => {
    const receiver = await startReceiver(['--frames', '30']);
    const send = vstream(['send', '--dir', folder, '--fps', '20', '--to', `127.0.0.1:${receiver.port}`]);
    expect(await send.exitCode).toBe(0);
    expect(send.stderr()).not.toContain('\r');
    expect(send.stderr()).not.toMatch(/\/30 frames/);
    expect(send.stderr()).toMatch(/^vstream: sent 30 frames .*\n$/);
  });
});

describe('the progress line', () => {
  it('says done of total, rate and time left; without a total, done and rate', () => {
    expect(progressText({ done: 12, total: 40, rate: 24 })).toBe('vstream: 12/40 frames (30%), 24.0 frames/s, 2 s left');
    expect(progressText({ done: 12, total: 40 })).toBe('vstream: 12/40 frames (30%)');
    expect(progressText({ done: 120, rate: 31.25 })).toBe('vstream: 120 frames, 31.3 frames/s');
    // An estimated total that fell short is never exceeded.
    expect(progressText({ done: 52, total: 50, rate: 25 })).toBe('vstream: 52/52 frames (100%), 25.0 frames/s, 0 s left');
    expect(progressText({ done: 0, total: 10, rate: 0 })).toBe('vstream: 0/10 frames (0%), 0.0 frames/s');
  });

  it('formats the time left', () => {
    expect(formatDuration(0.2)).toBe('1 s');
    expect(formatDuration(59)).toBe('59 s');
    expect(formatDuration(185)).toBe('3 min 05 s');
    expect(formatDuration(7620)).toBe('2 h 07 min');
  });

  it('measures the rate from the first frame, over the last five seconds, redraws only on change, and erases itself', async () => {
    const writes: string[] = [];
    let now = 0;
    let done = 0;
    const line = new ProgressLine({ stream: { isTTY: true, columns: 200, write: (text) => writes.push(text) > 0 }, total: 100, done: () => done, now: () => now, intervalMs: 60_000 });
    line.draw();
    expect(writes).toEqual([`${ERASE}vstream: 0/100 frames (0%)`]);
    now = 3000; // a slow start (connecting) is not part of the rate
    done = 1;
    line.draw();
    line.draw();
    expect(writes).toHaveLength(2);
    for (let s = 1; s <= 10; s++) {
      now = 3000 + s * 1000;
      done = 1 + (s <= 5 ? 10 * s : 50 + 2 * (s - 5)); // 10 frames/s, then 2
      line.draw();
    }
    expect(writes.at(-1)).toBe(`${ERASE}vstream: 61/100 frames (61%), 2.0 frames/s, 20 s left`);
    line.clear();
    expect(writes.at(-1)).toBe(ERASE);
    line.stop();
    line.draw();
    expect(writes.at(-1)).toBe(ERASE); // nothing after stop, and no second erase
  });

  it('fits a narrow terminal, so that \\r redraws one row', () => {
    const writes: string[] = [];
    const line = new ProgressLine({ stream: { isTTY: true, columns: 20, write: (text) => writes.push(text) > 0 }, total: 1000, done: () => 0, intervalMs: 60_000 });
    line.draw();
    line.stop();
    expect(writes[0]).toBe(`${ERASE}vstream: 0/1000 fra`);
  });

  it('is not shown when stderr is no terminal, with --quiet, or for a source that cannot count', () => {
    const tty = { isTTY: true, write: () => true };
    const counted = { total: async () => 5 };
    expect(startProgress({ isTTY: false, write: () => true }, counted, { quiet: false, limit: undefined, done: () => 0 })).toBeUndefined();
    expect(startProgress(tty, counted, { quiet: true, limit: undefined, done: () => 0 })).toBeUndefined();
    expect(startProgress(tty, {}, { quiet: false, limit: undefined, done: () => 0 })).toBeUndefined();
    const shown = startProgress(tty, counted, { quiet: false, limit: 3, done: () => 0 });
    expect(shown).toBeInstanceOf(ProgressLine);
    shown!.stop();
  });
});

describe('the frame count of a file, from ffmpeg', () => {
  it('reads the duration and the video stream rate from what ffmpeg -i prints (5.1 and 4.1)', () => {
    const system = [
      "Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'clip.mp4':",
      '  Duration: 00:00:02.00, start: 0.000000, bitrate: 701 kb/s',
      '  Stream #0:0[0x1](und): Video: h264 (Constrained Baseline) (avc1 / 0x31637661), yuv420p(progressive), 320x240 [SAR 1:1 DAR 4:3], 697 kb/s, 25 fps, 25 tbr, 12800 tbn (default)',
    ].join('\n');
    const bundled = [
      '  Duration: 01:02:03.50, start: 0.000000, bitrate: 701 kb/s',
      '    Stream #0:0(und): Audio: aac (LC), 48000 Hz, stereo, fltp, 128 kb/s',
      '    Stream #0:1(und): Video: h264, yuv420p, 320x240, 697 kb/s, 29.97 fps, 29.97 tbr, 30k tbn, 59.94 tbc (default)',
    ].join('\n');
    expect(parseProbeOutput(system)).toEqual({ durationSeconds: 2, fps: 25, codec: 'h264' });
    expect(parseProbeOutput(bundled)).toEqual({ durationSeconds: 3723.5, fps: 29.97, codec: 'h264' });
    expect(parseProbeOutput('  Duration: N/A, start: 0.000000, bitrate: N/A\n    Stream #0:0: Video: mjpeg, 640x480, 1k tbr, 1k tbn')).toEqual({ fps: 1000, codec: 'mjpeg' });
    expect(frameCount({ durationSeconds: 2, fps: 25 })).toBe(50);
    expect(frameCount({ durationSeconds: 2, fps: 25 }, 10)).toBe(20);
    expect(frameCount({ durationSeconds: 2, fps: 25 }, 'max')).toBe(50);
    expect(frameCount({ fps: 25 })).toBeUndefined();
    expect(frameCount({ durationSeconds: 2 })).toBeUndefined();
  });

  it.each(FFMPEGS)('$name: a 50-frame clip at 25 fps is 50 frames, 20 at --fps 10', async ({ path }) => {
    expect(await probeFrameCount({ ffmpegPath: path, path: clip })).toBe(50);
    expect(await probeFrameCount({ ffmpegPath: path, path: clip, fps: 10 })).toBe(20);
  });

  it('is unknown for a file ffmpeg cannot read or an ffmpeg that is not there', async () => {
    expect(await probeFrameCount({ ffmpegPath: FFMPEG, path: join(tmp, 'missing.mp4') })).toBeUndefined();
    expect(await probeFrameCount({ ffmpegPath: join(tmp, 'no-ffmpeg'), path: clip })).toBeUndefined();
  });
});
