/**
 * `send --screen`: a private Xvfb screen grabbed with x11grab arrives at its own size, its
 * picture as drawn; a display that does not exist is one line and exit 4. The macOS and
 * Windows command lines are checked as built.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { screenInputArgs } from '../src/source/ffmpeg/args.js';
import { SYSTEM_FFMPEG } from './helpers/ffmpeg.js';
import { startReceiver, stopAll, vstream } from './helpers/process.js';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';

describe('screenInputArgs', () => {
  it('grabs the X display given, else $DISPLAY, with x11grab at the rate asked (30 by default)', () => {
    expect(screenInputArgs({ display: ':3', platform: 'linux', fps: 10 })).toEqual(['-f', 'x11grab', '-framerate', '10', '-i', ':3']);
    expect(screenInputArgs({ display: '', platform: 'linux', env: { DISPLAY: ':7' } })).toEqual(['-f', 'x11grab', '-framerate', '30', '-i', ':7']);
    expect(screenInputArgs({ display: '', platform: 'freebsd', env: {} })).toEqual(['-f', 'x11grab', '-framerate', '30', '-i', ':0']);
  });

  it('names a macOS screen by its index for avfoundation, and the Windows desktop for gdigrab', () => {
    expect(screenInputArgs({ display: '', platform: 'darwin' })).toEqual(['-f', 'avfoundation', '-framerate', '30', '-capture_cursor', '1', '-i', 'Capture screen 0:none']);
    expect(screenInputArgs({ display: '1', platform: 'darwin', fps: 15 })).toEqual(['-f', 'avfoundation', '-framerate', '15', '-capture_cursor', '1', '-i', 'Capture screen 1:none']);
    expect(screenInputArgs({ display: '', platform: 'win32' })).toEqual(['-f', 'gdigrab', '-framerate', '30', '-i', 'desktop']);
    expect(screenInputArgs({ display: 'title=Notepad', platform: 'win32', fps: 5 })).toEqual(['-f', 'gdigrab', '-framerate', '5', '-i', 'title=Notepad']);
  });
});

describe.skipIf(!HAVE_XVFB)('send --screen under Xvfb', () => {
  let xvfb: Xvfb;
  beforeAll(async () => {
    xvfb = await startXvfb({ width: 320, height: 240 });
  });
  afterEach(() => stopAll());
  afterAll(() => xvfb.stop());

  it('sends the screen at its own size, grabbed live', async () => {
    const recv = await startReceiver(['--json', '--frames', '3']);
    const send = vstream(['send', '--screen', xvfb.display, '--ffmpeg', SYSTEM_FFMPEG, '--fps', '10', '--frames', '3', '--to', `127.0.0.1:${recv.port}`]);
    expect(await send.exitCode, send.stderr()).toBe(0);
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    const frames = recv
      .output('stdout')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { width: number; height: number });
    expect(frames).toHaveLength(3);
    for (const frame of frames) expect(frame).toMatchObject({ width: 320, height: 240 });
  });

  it('takes $DISPLAY when no display is named', async () => {
    const recv = await startReceiver(['--json', '--frames', '1']);
    const send = vstream(['send', '--screen', '--ffmpeg', SYSTEM_FFMPEG, '--frames', '1', '--to', `127.0.0.1:${recv.port}`], { env: xvfb.env });
    expect(await send.exitCode, send.stderr()).toBe(0);
    expect(await recv.exitCode).toBe(0);
    expect(JSON.parse(recv.output('stdout').find((line) => line.startsWith('{'))!)).toMatchObject({ width: 320, height: 240 });
  });

  it('a display that does not exist: one line, exit 4', async () => {
    const recv = await startReceiver(['--json']);
    const send = vstream(['send', '--screen', ':9999', '--ffmpeg', SYSTEM_FFMPEG, '--frames', '1', '--to', `127.0.0.1:${recv.port}`]);
    expect(await send.exitCode).toBe(4);
    expect(send.stderr()).toBe('vstream: cannot capture the screen :9999: no such display (is an X server running there? --screen :N)\n');
  });
});
