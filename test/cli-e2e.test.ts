import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { stopAll, startReceiver, vstream } from './helpers/process.js';
import { makeClip, FFMPEG } from './helpers/ffmpeg.js';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { MjpegSplitter } from '../src/source/mjpeg-splitter.js';
import { freePort } from './helpers/ports.js';

afterEach(() => stopAll());

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vstream-e2e-'));
});

const env = { VSTREAM_FFMPEG: FFMPEG };

async function tmp(name: string): Promise<string> {
  return mkdtemp(join(work, `${name}-`));
}

function to(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

function jsonLines(out: Buffer): Array<Record<string, unknown>> {
  return out
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function splitMjpeg(data: Buffer): Buffer[] {
  return new MjpegSplitter().push(data);
}

describe.each([['127.0.0.1'], ['::1']])('vstream send -> vstream recv over %s', (host) => {
  it('sends the test pattern; every saved frame is a decodable JPEG of the requested size', async () => {
    const dir = await tmp('pattern');
    const recv = await startReceiver(['--save-dir', dir, '--frames', '15'], { env });
    const send = vstream(['send', '--pattern', '--size', '320x240', '--fps', '60', '--to', to(host, recv.port), '--label', 'pat', '--retry', '0'], { env });
    expect(await recv.exitCode).toBe(0);
    // A labelled sender's frames go to the folder named after its label.
    const files = (await readdir(join(dir, 'pat'))).sort();
    expect(files).toHaveLength(15);
    expect(files[0]).toMatch(/^\d{6}\.jpg$/);
    for (const file of files) {
      const meta = await sharp(await readFile(join(dir, 'pat', file))).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['jpeg', 320, 240]);
    }
    expect(recv.stderr()).toMatch(/received 15 frames .* from 1 sender/);
    // The receiver hung up after 15 frames: told not to wait for it (--retry 0), the sender says
    // so and exits with the network code.
    expect(await send.exitCode).toBe(3);
    // Closed with frames unread, the connection may be reset rather than shut down in order.
    expect(send.stderr()).toMatch(/closed the connection|connection reset by the peer/);
  });

  it('sends a video file at full speed; the MJPEG output holds every frame', async () => {
    const clip = await makeClip(await tmp('clip'), { frames: 30, width: 160, height: 120 });
    const output = join(await tmp('out'), 'out.mjpeg');
    const recv = await startReceiver(['--output', output, '--frames', '30'], { env });
    const send = vstream(['send', '--file', clip, '--fps', 'max', '--to', to(host, recv.port)], { env });
    expect(await send.exitCode).toBe(0);
    expect(await recv.exitCode).toBe(0);
    expect(send.stderr()).toMatch(/sent 30 frames/);
    const frames = splitMjpeg(await readFile(output));
    expect(frames).toHaveLength(30);
    for (const frame of frames) expect((await sharp(frame).metadata()).width).toBe(160);
  });

  it('sends a folder in natural order; files are saved under their own names, JPEGs and PNGs byte-identical', async () => {
    const src = await tmp('dir-src');
    const original = await makeJpeg({ width: 80, height: 60 });
    const png = await makePng({ width: 80, height: 60 });
    await writeFile(join(src, '10.png'), png);
    await writeFile(join(src, '2.png'), await makePng({ width: 80, height: 60 }));
    await writeFile(join(src, '1.jpg'), original);
    await writeFile(join(src, 'notes.txt'), 'not an image');
    const dest = await tmp('dir-dest');
    const recv = await startReceiver(['--save-dir', dest, '--json', '--frames', '3'], { env });
    const send = vstream(['send', '--dir', src, '--to', to(host, recv.port)], { env });
    expect(await send.exitCode).toBe(0);
    expect(await recv.exitCode).toBe(0);
    expect(jsonLines(recv.stdout()).map((r) => r.name)).toEqual(['1.jpg', '2.png', '10.png']);
    // Hidden: the save journal of the resumable transfer.
    expect((await readdir(dest)).filter((name) => !name.startsWith('.')).sort()).toEqual(['1.jpg', '10.png', '2.png']);
    expect((await readFile(join(dest, '1.jpg'))).equals(original)).toBe(true);
    expect((await readFile(join(dest, '10.png'))).equals(png)).toBe(true);
  });

  it('sends JPEGs from stdin unchanged', async () => {
    const jpegs = await Promise.all([1, 2, 3, 4].map((i) => makeJpeg({ width: 32 * i, height: 24 * i })));
    const dest = await tmp('stdin-dest');
    const recv = await startReceiver(['--json', '--save-dir', dest, '--frames', '4'], { env });
    const send = vstream(['send', '--stdin', '--to', to(host, recv.port)], { env, input: Buffer.concat(jpegs) });
    expect(await send.exitCode).toBe(0);
    expect(await recv.exitCode).toBe(0);
    const records = jsonLines(recv.stdout());
    expect(records.map((r) => r.width)).toEqual([32, 64, 96, 128]);
    const saved = await Promise.all([0, 1, 2, 3].map((i) => readFile(join(dest, `00000${i}.jpg`))));
    expect(saved.every((bytes, i) => bytes.equals(jpegs[i]!))).toBe(true);
    expect(records.every((r) => typeof r.latencyMs === 'number' && r.latencyMs >= 0)).toBe(true);
  });
});

describe('frames through stdout', () => {
  it('recv --output - writes the frames to stdout as MJPEG', async () => {
    const recv = await startReceiver(['--output', '-', '--frames', '5'], { env });
    vstream(['send', '--pattern', '--size', '160x120', '--to', to('127.0.0.1', recv.port)], { env });
    expect(await recv.exitCode).toBe(0);
    const frames = splitMjpeg(recv.stdout());
    expect(frames).toHaveLength(5);
    // The metadata segment is left out of the output: each frame starts with the JPEG's own header.
    expect(frames.every((f) => !f.includes(Buffer.from('VSTREAM\0')))).toBe(true);
  });
});

describe('several senders at once', () => {
  it('keeps each sender apart, named by label, over IPv4 and IPv6 on one port', async () => {
    const dest = await tmp('multi');
    const recv = await startReceiver(['--json', '--save-dir', dest, '--stats', '--frames', '120'], { env });
    const a = vstream(['send', '--pattern', '--retry', '0', '--size', '160x120', '--label', 'alpha', '--to', to('127.0.0.1', recv.port)], { env });
    await recv.waitForLine(/connected/, 'stderr');
    const b = vstream(['send', '--pattern', '--retry', '0', '--size', '320x240', '--label', 'beta', '--to', to('::1', recv.port)], { env });
    // Per-second stats name each sender.
    await recv.waitForLine(/beta: \d+ fps/, 'stderr');
    expect(await recv.exitCode).toBe(0);
    const records = jsonLines(recv.stdout());
    const alpha = records.filter((r) => r.sender === 'alpha');
    const beta = records.filter((r) => r.sender === 'beta');
    expect(alpha.length + beta.length).toBe(120);
    expect(alpha.every((r) => r.width === 160 && String(r.peer).startsWith('127.0.0.1:'))).toBe(true);
    expect(beta.length).toBeGreaterThan(0);
    expect(beta.every((r) => r.width === 320 && String(r.peer).startsWith('[::1]:'))).toBe(true);
    // Each sender's files go to a subfolder named after its label, so names never collide.
    expect((await readdir(dest)).sort()).toEqual(['alpha', 'beta']);
    expect((await readdir(join(dest, 'alpha'))).length).toBe(alpha.length);
    expect((await readdir(join(dest, 'beta'))).length).toBe(beta.length);
    expect(recv.stderr()).toMatch(/from 2 senders/);
    await Promise.all([a.exitCode, b.exitCode]);
  });
});

const HAVE_NUMPY = spawnSync('/usr/bin/python3', ['-c', 'import numpy']).status === 0;

describe('raw pixels for scripts', () => {
  it.skipIf(!HAVE_NUMPY)('recv --format bgr24 --size WxH --output - feeds the numpy example frame by frame', async () => {
    const recv = await startReceiver(['--format', 'bgr24', '--size', '160x120', '--output', '-', '--frames', '6'], { env });
    vstream(['send', '--pattern', '--to', to('127.0.0.1', recv.port)], { env });
    expect(await recv.exitCode).toBe(0);
    const pixels = recv.stdout();
    expect(pixels.length).toBe(6 * 160 * 120 * 3);
    const script = fileURLToPath(new URL('../examples/read_pixels.py', import.meta.url));
    const result = spawnSync('/usr/bin/python3', [script, '160', '120'], { input: pixels, encoding: 'utf8' });
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[5]).toMatch(/^6 160x120 mean_bgr [\d.]+ [\d.]+ [\d.]+$/);
  });

  it('refuses a pixel format without --output, and --size without a pixel format', async () => {
    const a = vstream(['recv', '--no-window', '--format', 'rgb24'], { env });
    expect(await a.exitCode).toBe(2);
    expect(a.stderr()).toMatch(/--format rgb24 needs --output/);
    const b = vstream(['recv', '--no-window', '--size', '320x240', '--output', '-'], { env });
    expect(await b.exitCode).toBe(2);
  });
});

describe('recv --bind', () => {
  it('listens on the given address only', async () => {
    const recv = await startReceiver(['--bind', '127.0.0.1', '--frames', '1'], { env });
    const v6 = vstream(['send', '--retry', '0', '--to', to('::1', recv.port)], { env });
    expect(await v6.exitCode).toBe(3);
    expect(v6.stderr()).toMatch(/connection refused/);
    vstream(['send', '--size', '160x120', '--to', to('127.0.0.1', recv.port)], { env });
    expect(await recv.exitCode).toBe(0);
  });
});

describe('a reader that goes away', () => {
  it('ends recv cleanly with exit 0 when stdout is closed (`recv --output - | head -c 1000`)', async () => {
    const recv = await startReceiver(['--output', '-'], { env });
    vstream(['send', '--pattern', '--size', '160x120', '--to', to('127.0.0.1', recv.port)], { env });
    await once(recv.child.stdout!, 'data');
    recv.child.stdout!.destroy();
    expect(await recv.exitCode).toBe(0);
    expect(recv.stderr()).toMatch(/output closed by the reader/);
    expect(recv.stderr()).not.toMatch(/^\s+at /m);
  });
});

describe('errors: one line, a meaningful exit code, no stack trace', () => {
  async function fails(args: string[], code: number, message: RegExp, extraEnv: NodeJS.ProcessEnv = {}) {
    const run = vstream(args, { env: { ...env, ...extraEnv } });
    expect(await run.exitCode).toBe(code);
    const lines = run.stderr().trim().split('\n');
    expect(lines.filter((l) => l.startsWith('vstream:'))).toHaveLength(1);
    expect(run.stderr()).toMatch(message);
    expect(run.stderr()).not.toMatch(/^\s+at /m);
  }

  it('busy port', async () => {
    const recv = await startReceiver([]);
    await fails(['recv', '--no-window', '--listen', String(recv.port)], 3, /port \d+: address already in use/);
  });
  it('nothing listening', async () => {
    await fails(['send', '--retry', '0', '--to', `127.0.0.1:${await freePort()}`], 3, /connection refused/);
  });
  it('unknown host', async () => {
    await fails(['send', '--to', 'no-such-host.invalid:8088'], 3, /host name (not found|lookup failed)/);
  });
  it('missing file', async () => {
    await fails(['send', '--file', join(work, 'missing.mp4'), '--to', '127.0.0.1:1'], 4, /missing\.mp4/);
  });
  it('missing camera', async () => {
    await fails(['send', '--camera', '/dev/video99', '--to', '127.0.0.1:1'], 4, /video99/);
  });
  it('missing folder', async () => {
    await fails(['send', '--dir', join(work, 'nope'), '--to', '127.0.0.1:1'], 4, /nope/);
  });
  it('ffmpeg that does not exist', async () => {
    await fails(['send', '--pattern', '--ffmpeg', '/nonexistent/ffmpeg'], 5, /\/nonexistent\/ffmpeg/);
  });
  it('ffmpeg that dies mid-stream (the frames before it still arrive)', async () => {
    const crash = fileURLToPath(new URL('./fixtures/ffmpeg/crash.mjs', import.meta.url));
    const recv = await startReceiver(['--json'], { env });
    await fails(['send', '--pattern', '--to', to('127.0.0.1', recv.port), '--ffmpeg', crash], 5, /ffmpeg .*(crash|SIGSEGV|signal)/i);
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    expect(jsonLines(recv.stdout()).length).toBeGreaterThanOrEqual(1);
  });
  it('malformed address', async () => {
    await fails(['send', '--to', '::1:8088'], 2, /brackets/);
  });
  it('two sources', async () => {
    await fails(['send', '--pattern', '--file', 'x.mp4'], 2, /choose one source/);
  });
  it('bad option value', async () => {
    await fails(['send', '--quality', '0'], 2, /--quality/);
  });
  it('no display and no headless sink', async () => {
    await fails(['recv', '--listen', '0'], 7, /--no-window/, { DISPLAY: '', WAYLAND_DISPLAY: '' });
  });
});
