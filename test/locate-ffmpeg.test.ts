import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FfmpegError } from '../src/errors.js';
import { ffmpegVersion, locateFfmpeg } from '../src/source/ffmpeg/locate.js';

let root: string;

/** A file that passes as an executable; locateFfmpeg only checks, never runs it. */
function fakeExe(rel: string, mode = 0o755): string {
  const file = path.join(root, rel);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\necho "ffmpeg version 9.9-fake"\n', { mode });
  fs.chmodSync(file, mode);
  return file;
}

function caught(fn: () => unknown): FfmpegError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(FfmpegError);
    return error as FfmpegError;
  }
  throw new Error('expected an FfmpegError');
}

beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'vstream-locate-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

describe('locateFfmpeg order', () => {
  it('walks --ffmpeg, VSTREAM_FFMPEG, ffmpeg-static, PATH, @ffmpeg-installer, first match wins', () => {
    const explicit = fakeExe('order/explicit/ffmpeg');
    const fromEnv = fakeExe('order/env/ffmpeg');
    const stat = fakeExe('order/static/ffmpeg');
    const onPath = fakeExe('order/bin2/ffmpeg');
    const installer = fakeExe('order/installer/ffmpeg');
    fs.mkdirSync(path.join(root, 'order/bin1'), { recursive: true });
    const PATH = [path.join(root, 'order/bin1'), path.join(root, 'order/bin2')].join(':');
    const full = { ffmpegStatic: stat, ffmpegInstaller: { path: installer, version: '4.1.0' } };
    const env = { PATH, VSTREAM_FFMPEG: fromEnv };

    expect(locateFfmpeg(explicit, env, full)).toEqual({ path: explicit, reason: 'from --ffmpeg' });
    expect(locateFfmpeg(undefined, env, full)).toEqual({ path: fromEnv, reason: 'from VSTREAM_FFMPEG' });
    expect(locateFfmpeg(undefined, { PATH }, full)).toEqual({ path: stat, reason: 'ffmpeg-static binary' });
    expect(locateFfmpeg(undefined, { PATH }, { ...full, ffmpegStatic: null })).toEqual({
      path: onPath,
      reason: 'first ffmpeg on PATH',
    });
    expect(locateFfmpeg(undefined, { PATH: '' }, { ...full, ffmpegStatic: null })).toEqual({
      path: installer,
      reason: 'bundled @ffmpeg-installer/ffmpeg 4.1.0',
    });
  });

  it('skips an ffmpeg-static path whose download never happened or was truncated', () => {
    const onPath = fakeExe('static/bin/ffmpeg');
    const notExecutable = fakeExe('static/pkg/ffmpeg', 0o644);
    const env = { PATH: path.dirname(onPath) };
    const missing = path.join(root, 'static/none/ffmpeg');
    expect(locateFfmpeg(undefined, env, { ffmpegStatic: missing }).path).toBe(onPath);
    expect(locateFfmpeg(undefined, env, { ffmpegStatic: notExecutable }).path).toBe(onPath);
  });

  it('takes the first executable match on PATH, skipping directories and non-executables', () => {
    fs.mkdirSync(path.join(root, 'path/a/ffmpeg'), { recursive: true });
    fakeExe('path/b/ffmpeg', 0o644);
    const good = fakeExe('path/c/ffmpeg');
    fakeExe('path/d/ffmpeg');
    const PATH = ['a', 'b', 'c', 'd'].map((d) => path.join(root, 'path', d)).join(':');
    expect(locateFfmpeg(undefined, { PATH }, { ffmpegStatic: null, ffmpegInstaller: null })).toEqual({
      path: good,
      reason: 'first ffmpeg on PATH',
    });
  });

  it('honours PATHEXT and a differently-cased Path on Windows', () => {
    fakeExe('win/a/ffmpeg.bat');
    const exe = fakeExe('win/b/ffmpeg.EXE');
    const env = { Path: [path.join(root, 'win/a'), path.join(root, 'win/b')].join(';'), PATHEXT: '.EXE' };
    const found = locateFfmpeg(undefined, env, { platform: 'win32', ffmpegStatic: null, ffmpegInstaller: null });
    expect(found).toEqual({ path: exe, reason: 'first ffmpeg on PATH' });
  });

  it('looks a bare --ffmpeg name up on PATH', () => {
    const named = fakeExe('bare/bin/ffmpeg-5');
    expect(locateFfmpeg('ffmpeg-5', { PATH: path.dirname(named) }).path).toBe(named);
  });
});

describe('locateFfmpeg errors', () => {
  it('rejects a missing --ffmpeg path by name instead of falling through', () => {
    const onPath = fakeExe('err/bin/ffmpeg');
    const missing = path.join(root, 'err/nowhere/ffmpeg');
    const error = caught(() => locateFfmpeg(missing, { PATH: path.dirname(onPath) }));
    expect(error.code).toBe('ERR_FFMPEG_NOT_FOUND');
    expect(error.exitCode).toBe(5);
    expect(error.message).toContain(missing);
    expect(error.message).toContain('--ffmpeg');
  });

  it('rejects a non-executable --ffmpeg file and a bad VSTREAM_FFMPEG', () => {
    const plain = fakeExe('err/plain/ffmpeg', 0o644);
    expect(caught(() => locateFfmpeg(plain, {})).code).toBe('ERR_FFMPEG_NOT_FOUND');
    const dir = path.join(root, 'err');
    const error = caught(() => locateFfmpeg(undefined, { VSTREAM_FFMPEG: dir }));
    expect(error.code).toBe('ERR_FFMPEG_NOT_FOUND');
    expect(error.message).toContain('VSTREAM_FFMPEG');
  });

  it('says how to get one when nothing is found', () => {
    const error = caught(() => locateFfmpeg(undefined, { PATH: '' }, { ffmpegStatic: null, ffmpegInstaller: null }));
    expect(error.code).toBe('ERR_FFMPEG_NOT_FOUND');
    expect(error.message).not.toContain('\n');
    expect(error.message).toMatch(/--ffmpeg PATH/);
  });
});

describe('ffmpegVersion', () => {
  it('returns the first line of -version of the real ffmpeg', async () => {
    const { path: ffmpeg } = locateFfmpeg();
    expect(await ffmpegVersion(ffmpeg)).toMatch(/^ffmpeg version \S+/);
  });

  it('fails with ERR_FFMPEG_BROKEN for a file that is not ffmpeg', async () => {
    const notFfmpeg = fakeExe('broken/ffmpeg');
    fs.writeFileSync(notFfmpeg, '#!/bin/sh\necho hello\n');
    await expect(ffmpegVersion(notFfmpeg)).rejects.toMatchObject({ code: 'ERR_FFMPEG_BROKEN' });
  });
});
