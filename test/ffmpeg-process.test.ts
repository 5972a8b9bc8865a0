import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FfmpegError, SourceError } from '../src/errors.js';
import { describeFailure, relevantLine, spawnFfmpeg, StderrTail } from '../src/source/ffmpeg/process.js';
import { explainFileFailure } from '../src/source/file.js';
import { explainCameraFailure } from '../src/source/camera.js';
import { FFMPEG } from './helpers/ffmpeg.js';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/ffmpeg/${name}`, import.meta.url));

describe('StderrTail', () => {
  it('keeps the last 20 lines within 4 KB, whatever is written', () => {
    const tail = new StderrTail();
    for (let i = 0; i < 1000; i++) tail.push(`line ${i}\n`);
    expect(tail.toString().split('\n')).toEqual(Array.from({ length: 20 }, (_, i) => `line ${980 + i}`));
    tail.push('x'.repeat(100_000));
    expect(tail.toString().length).toBeLessThanOrEqual(4096);
  });

  it('joins lines split across chunks and drops progress carriage returns', () => {
    const tail = new StderrTail();
    tail.push('frame=1\rframe=2\rNo such');
    tail.push(' file or directory\n');
    expect(tail.toString().split('\n').at(-1)).toBe('No such file or directory');
  });
});

describe('describeFailure', () => {
  const exit1 = { code: 1, signal: null };

  it('picks the cause, not the generic lines after it, without context addresses', () => {
    const tail = '[mjpeg @ 0x55d0c8a1f000] bitrate tolerance too small\nError initializing output stream 0:0 -- Error while opening encoder\nConversion failed!';
    expect(relevantLine(tail)).toBe('mjpeg: bitrate tolerance too small');
    const error = describeFailure(exit1, tail);
    expect(error).toBeInstanceOf(FfmpegError);
    expect(error.code).toBe('ERR_FFMPEG_FAILED');
    expect(error.message).toBe('ffmpeg exited with code 1: mjpeg: bitrate tolerance too small');
    expect((error as FfmpegError).stderrTail).toBe(tail);
  });

  it('names a crash by its signal', () => {
    const error = describeFailure({ code: null, signal: 'SIGSEGV' }, '');
    expect(error.code).toBe('ERR_FFMPEG_CRASHED');
    expect(error.message).toBe('ffmpeg was killed by SIGSEGV');
  });

  it('says why a file cannot be read, naming it once', () => {
    const error = describeFailure(exit1, '[mov,mp4 @ 0x1] moov atom not found\nclip.mp4: Invalid data found when processing input', explainFileFailure('clip.mp4'));
    expect(error.message).toBe('cannot read clip.mp4 as video: Invalid data found when processing input');
  });

  it.each([
    ['clip.mp4: No such file or directory', 'ERR_FILE_NOT_FOUND'],
    ['clip.mp4: Permission denied', 'ERR_PERMISSION_DENIED'],
    ['[mov,mp4 @ 0x1] moov atom not found\nclip.mp4: Invalid data found when processing input', 'ERR_FILE_UNREADABLE'],
    ["Stream map '0:v:0' matches no streams.\nTo ignore this, add a trailing '?' to the map.", 'ERR_NO_VIDEO'],
  ])('file: %j is %s', (tail, code) => {
    const error = describeFailure(exit1, tail, explainFileFailure('clip.mp4'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.code).toBe(code);
    expect(error.message).not.toContain('\n');
  });

  it.each([
    ['[video4linux2,v4l2 @ 0x1] ioctl(VIDIOC_STREAMON): Device or resource busy', 'ERR_CAMERA_BUSY'],
    ['/dev/video0: No such file or directory', 'ERR_CAMERA_NOT_FOUND'],
    ['[video4linux2,v4l2 @ 0x1] ioctl(VIDIOC_DQBUF): No such device', 'ERR_CAMERA_NOT_FOUND'],
    ['/dev/null: Inappropriate ioctl for device', 'ERR_CAMERA_NOT_FOUND'],
    ['[dshow @ 0x1] Could not find video device with name [USB Cam] among source devices of type video.', 'ERR_CAMERA_NOT_FOUND'],
    ['/dev/video0: Permission denied', 'ERR_PERMISSION_DENIED'],
  ])('camera: %j is %s', (tail, code) => {
    const error = describeFailure(exit1, tail, explainCameraFailure('/dev/video0'));
    expect(error).toBeInstanceOf(SourceError);
    expect(error.code).toBe(code);
  });
});

describe('FfmpegProcess', () => {
  it('exits cleanly when ffmpeg finishes', async () => {
    const ffmpeg = spawnFfmpeg({ ffmpegPath: FFMPEG, args: ['-hide_banner', '-version'] });
    ffmpeg.stdout.resume();
    await ffmpeg.wait();
    expect((await ffmpeg.exited).code).toBe(0);
  });

  it('reports a missing or non-executable binary as ERR_FFMPEG_NOT_FOUND', async () => {
    for (const ffmpegPath of ['/nonexistent/ffmpeg', fixture('lib.mjs')]) {
      const ffmpeg = spawnFfmpeg({ ffmpegPath, args: [] });
      const error = await ffmpeg.wait().then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(FfmpegError);
      expect((error as FfmpegError).code).toBe('ERR_FFMPEG_NOT_FOUND');
    }
  });

  it('keeps the stderr tail of a failure', async () => {
    const ffmpeg = spawnFfmpeg({ ffmpegPath: fixture('fail.mjs'), args: [] });
    ffmpeg.stdout.resume();
    await expect(ffmpeg.wait()).rejects.toMatchObject({ code: 'ERR_FFMPEG_FAILED' });
    expect(ffmpeg.stderrTail).toContain('Conversion failed!');
  });

  it('stops with SIGTERM, and the exit is not an error', async () => {
    const ffmpeg = spawnFfmpeg({
      ffmpegPath: FFMPEG,
      args: ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc2', '-f', 'mjpeg', 'pipe:1'],
    });
    await once(ffmpeg.stdout, 'data');
    await ffmpeg.stop();
    const exit = await ffmpeg.exited;
    expect(exit.error).toBeUndefined();
    await ffmpeg.wait();
  });

  it('stops a process that ignores SIGTERM with SIGKILL after the grace period', async () => {
    const ffmpeg = spawnFfmpeg({ ffmpegPath: fixture('stubborn.mjs'), args: [], killTimeoutMs: 300 });
    await once(ffmpeg.stdout, 'data'); // its SIGTERM handler is installed before the first frame
    await ffmpeg.stop();
    expect((await ffmpeg.exited).signal).toBe('SIGKILL');
    expect(ffmpeg.stderrTail).toContain('SIGTERM ignored');
  });

  it('stops ffmpeg even while it is blocked writing to a full, paused pipe', async () => {
    const ffmpeg = spawnFfmpeg({
      ffmpegPath: FFMPEG,
      args: ['-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x480', '-f', 'mjpeg', 'pipe:1'],
      killTimeoutMs: 30_000,
    });
    await once(ffmpeg.stdout, 'readable'); // never read: the pipe fills and ffmpeg blocks
    await ffmpeg.stop();
    // SIGKILL would come only after killTimeoutMs: any other end means the polite stop worked.
    expect((await ffmpeg.exited).signal).not.toBe('SIGKILL');
  });
});
