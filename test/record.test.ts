/**
 * `recv --record FILE`, end to end: a real `send --pattern` (or a raw peer) into a real `recv`,
 * the files read back by the real ffprobe and decoded by the real ffmpeg.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startProcess, startReceiver, stopAll, vstream, VSTREAM_BIN, type TestProcess } from './helpers/process.js';
import { BUNDLED_FFMPEG, runFfmpeg, SYSTEM_FFMPEG } from './helpers/ffmpeg.js';
import { metadataInsertOffset, metadataSegment } from '../src/frame/metadata.js';

const run = promisify(execFile);
const FFPROBE = '/usr/bin/ffprobe';
const env = { VSTREAM_FFMPEG: SYSTEM_FFMPEG };

afterEach(() => stopAll());

interface Probed {
  codec: string;
  frames: number;
  /** Each frame's time in ms, in presentation order. */
  times: number[];
  duration: string;
  title: string;
}

async function probe(path: string): Promise<Probed> {
  const { stdout } = await run(FFPROBE, ['-v', 'error', '-count_frames', '-show_entries', 'stream=codec_name,nb_read_frames:format=duration:format_tags=title', '-of', 'json', path]);
  const info = JSON.parse(stdout) as { streams: { codec_name: string; nb_read_frames: string }[]; format: { duration?: string; tags?: { title?: string } } };
  const packets = await run(FFPROBE, ['-v', 'error', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path]);
  return {
    codec: info.streams[0]!.codec_name,
    frames: Number(info.streams[0]!.nb_read_frames),
    times: packets.stdout
      .trim()
      .split('\n')
      .map((line) => Math.round(Number(line) * 1000))
      .sort((a, b) => a - b),
    duration: info.format.duration ?? 'N/A',
    title: info.format.tags?.title ?? '',
  };
}

/** Every frame decoded, any error fatal: the file plays. */
async function decodesCleanly(path: string): Promise<void> {
  await runFfmpeg(['-xerror', '-err_detect', 'explode', '-i', path, '-f', 'null', '-']);
}

interface JsonFrame {
  sender: string;
  seq: number;
  captureTime: number | null;
  receivedAt: number;
}

function jsonFrames(recv: TestProcess): JsonFrame[] {
  return recv.output('stdout').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as JsonFrame);
}

/** Capture times as offsets from the first, in whole ms: what the file's timestamps should be. */
function captureOffsets(frames: JsonFrame[]): number[] {
  const first = frames[0]!.captureTime!;
  return frames.map((frame) => Math.round(frame.captureTime! - first));
}

function send(port: number, label: string, frames: number, extra: string[] = []): TestProcess {
  return vstream(['send', '--pattern', '--size', '320x240', '--fps', '30', '--frames', String(frames), '--label', label, '--to', `127.0.0.1:${port}`, '-q', ...extra], { env });
}

let dir: string;
let count = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vstream-record-'));
});
async function freshDir(): Promise<string> {
  const path = join(dir, String(++count));
  await run('mkdir', ['-p', path]);
  return path;
}

describe('recv --record', () => {
  it('records a .mkv itself, no ffmpeg: as many frames as were received, timed by their capture times', async () => {
    const out = await freshDir();
    // An ffmpeg that does not exist: a .mkv of MJPEG must not need one.
    const recv = await startReceiver(['--record', join(out, '{sender}.mkv'), '--json', '--frames', '45'], { env: { VSTREAM_FFMPEG: '/nonexistent/ffmpeg' } });
    send(recv.port, 'cam', 1000);
    expect(await recv.exitCode).toBe(0);
    expect(await readdir(out)).toEqual(['cam.mkv']);
    const frames = jsonFrames(recv);
    expect(frames).toHaveLength(45);
    const file = await probe(join(out, 'cam.mkv'));
    expect(file).toMatchObject({ codec: 'mjpeg', frames: 45, title: 'cam' });
    expect(file.times).toEqual(captureOffsets(frames));
    expect(Number(file.duration)).toBeGreaterThan(1);
    expect(recv.stderr()).toMatch(/recorded 45 frames \(\d+\.\d s\) of cam to .*cam\.mkv/);
    await decodesCleanly(join(out, 'cam.mkv'));
  });

  it('stores each JPEG byte for byte as it was sent (the metadata segment left out), and a PNG as a JPEG', async () => {
    const out = await freshDir();
    const photos = await freshDir();
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=5', '-frames:v', '6', '-c:v', 'mjpeg', '-q:v', '3', '-f', 'image2', join(photos, '%d.jpg')]);
    await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x240', '-frames:v', '1', join(photos, '7.png')]);
    const path = join(out, 'rec.mkv');
    const recv = await startReceiver(['--record', path, '--frames', '7'], { env });
    const sender = vstream(['send', '--dir', photos, '--to', `127.0.0.1:${recv.port}`, '-q'], { env });
    expect(await recv.exitCode).toBe(0);
    expect(await sender.exitCode).toBe(0);
    expect((await probe(path)).frames).toBe(7);
    // The packets as they are in the file, one JPEG each.
    const copies = await freshDir();
    await runFfmpeg(['-i', path, '-c', 'copy', '-f', 'image2', join(copies, '%d.jpg')]);
    for (let i = 1; i <= 6; i++) {
      const [sent, stored] = await Promise.all([readFile(join(photos, `${i}.jpg`)), readFile(join(copies, `${i}.jpg`))]);
      expect(stored.equals(sent), `frame ${i}`).toBe(true);
    }
    expect((await readFile(join(copies, '7.jpg'))).subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    await decodesCleanly(path);
  });

  // The bundled ffmpeg 4.1 is what a machine without one of its own uses: the oldest to support.
  for (const [container, codec, ffmpeg] of [
    ['mp4', 'mjpeg', SYSTEM_FFMPEG],
    ['avi', 'mjpeg', SYSTEM_FFMPEG],
    ['mkv', 'h264', SYSTEM_FFMPEG],
    ['mp4', 'h264', SYSTEM_FFMPEG],
    ['avi', 'mjpeg', BUNDLED_FFMPEG],
    ['mp4', 'h264', BUNDLED_FFMPEG],
  ] as const) {
    it(`records a .${container} of ${codec} through ${ffmpeg === SYSTEM_FFMPEG ? 'the system' : 'the bundled'} ffmpeg: every frame received, at its capture time`, async () => {
      const out = await freshDir();
      const path = join(out, `rec.${container}`);
      const recv = await startReceiver(['--record', path, '--record-codec', codec, '--json', '--frames', '30'], { env: { VSTREAM_FFMPEG: ffmpeg } });
      send(recv.port, 'cam', 1000);
      expect(await recv.exitCode).toBe(0);
      const frames = jsonFrames(recv);
      expect(frames).toHaveLength(30);
      const file = await probe(path);
      expect(file.codec).toBe(codec);
      expect(file.frames).toBe(30);
      const expected = captureOffsets(frames);
      file.times.forEach((time, i) => expect(Math.abs(time - expected[i]!), `frame ${i}: ${time} ms, captured at ${expected[i]} ms`).toBeLessThanOrEqual(1));
      await decodesCleanly(path);
    });
  }

  it('starts a new file at each --record-segment boundary, named by its start time, and loses no frame there', async () => {
    const out = await freshDir();
    const startedAt = new Date();
    // MP4: each segment's file is a new ffmpeg, the slowest start there is.
    const recv = await startReceiver(['--record', join(out, '{sender}-%Y%m%d-%H%M%S.mp4'), '--record-segment', '1s', '--json', '--frames', '80'], { env });
    send(recv.port, 'cam', 1000);
    expect(await recv.exitCode).toBe(0);
    const frames = jsonFrames(recv);
    expect(frames).toHaveLength(80);
    const names = (await readdir(out)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
    expect(names.length).toBeGreaterThanOrEqual(3);
    for (const name of names) expect(name).toMatch(/^cam-\d{8}-\d{6}(-\d+)?\.mp4$/);
    const pad = (n: number) => String(n).padStart(2, '0');
    expect(names[0]!.slice(4, 12)).toBe(`${startedAt.getFullYear()}${pad(startedAt.getMonth() + 1)}${pad(startedAt.getDate())}`);
    // The files in the order the log gave them, each with its frame count.
    const logged = [...recv.stderr().matchAll(/recorded (\d+) frames .* to (.*)$/gm)].map((m) => ({ frames: Number(m[1]), path: m[2]! }));
    expect(logged.map((entry) => entry.path).sort()).toEqual(names.map((name) => join(out, name)).sort());
    let total = 0;
    const offsets = captureOffsets(frames);
    for (const entry of logged) {
      const file = await probe(entry.path);
      expect(file.frames, entry.path).toBe(entry.frames);
      // Every frame of the segment is in it, at its own time from the segment's first frame.
      const own = offsets.slice(total, total + file.frames);
      file.times.forEach((time, i) => expect(Math.abs(time - (own[i]! - own[0]!)), `${entry.path} frame ${i}`).toBeLessThanOrEqual(1));
      expect(file.times.at(-1)!).toBeLessThan(1000);
      total += file.frames;
      await decodesCleanly(entry.path);
    }
    expect(total).toBe(80);
  });

  it('closes the file when its sender leaves, even killed, and a reconnection gets a new file; each plays', async () => {
    const out = await freshDir();
    const recv = await startReceiver(['--record', join(out, 'rec.mp4'), '--json'], { env });
    const first = send(recv.port, 'cam', 10_000);
    await recv.waitForLines(/^\{/, 20, { stream: 'stdout' });
    first.kill('SIGKILL');
    await recv.waitForLine(/recorded \d+ frames .* to .*rec\.mp4$/);
    const second = send(recv.port, 'cam', 15);
    expect(await second.exitCode).toBe(0);
    await recv.waitForLine(/recorded \d+ frames .* to .*rec-1\.mp4$/);
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    const logged = [...recv.stderr().matchAll(/recorded (\d+) frames .* to (.*)$/gm)].map((m) => ({ frames: Number(m[1]), path: m[2]! }));
    expect(logged.map((entry) => entry.path)).toEqual([join(out, 'rec.mp4'), join(out, 'rec-1.mp4')]);
    expect(logged[1]!.frames).toBe(15);
    expect(logged[0]!.frames + logged[1]!.frames).toBe(jsonFrames(recv).length);
    for (const entry of logged) {
      expect((await probe(entry.path)).frames).toBe(entry.frames);
      await decodesCleanly(entry.path);
    }
  });

  it("finishes an ffmpeg-written file whole at a terminal's Ctrl-C, which signals ffmpeg's process group too", async () => {
    const out = await freshDir();
    const path = join(out, 'rec.mp4');
    // A process group of its own, as a shell gives a foreground job: the signal goes to the group.
    const recv = startProcess('vstream recv', process.execPath, [VSTREAM_BIN, 'recv', '--no-window', '--listen', '0', '--record', path, '--record-codec', 'h264', '--json'], {
      env: { ...process.env, ...env },
      detached: true,
    });
    recv.child.stdin!.end();
    const [, port] = await recv.waitForLine(/listening on .*?(\d+)(?:\s|$)/, 'stderr');
    send(Number(port), 'cam', 10_000);
    await recv.waitForLines(/^\{/, 40, { stream: 'stdout' });
    process.kill(-recv.child.pid!, 'SIGINT');
    expect(await recv.exitCode).toBe(130);
    const file = await probe(path);
    expect(file.frames).toBe(jsonFrames(recv).length);
    expect(file.times).toHaveLength(file.frames);
    await decodesCleanly(path);
  });

  it('gives a file that can be read while it is written, and is complete once recv is stopped', async () => {
    const out = await freshDir();
    const path = join(out, 'live.mkv');
    const recv = await startReceiver(['--record', path, '--json'], { env });
    send(recv.port, 'cam', 10_000);
    await recv.waitForLines(/^\{/, 45, { stream: 'stdout' });
    const growing = await probe(path);
    expect(growing.frames).toBeGreaterThanOrEqual(30);
    expect(growing.duration).toBe('N/A');
    recv.kill('SIGTERM');
    expect(await recv.exitCode).toBe(143);
    const done = await probe(path);
    expect(done.frames).toBe(jsonFrames(recv).length);
    expect(done.times).toEqual(captureOffsets(jsonFrames(recv)));
    expect(Number(done.duration)).toBeGreaterThan(1);
    await decodesCleanly(path);
  });

  it('with {sender}, gives each of two senders its own file', async () => {
    const out = await freshDir();
    const recv = await startReceiver(['--record', join(out, '{sender}.mkv'), '--json'], { env });
    const senders = [send(recv.port, 'left', 20), send(recv.port, 'right', 25)];
    expect(await Promise.all(senders.map((s) => s.exitCode))).toEqual([0, 0]);
    await recv.waitForLines(/recorded \d+ frames .* of (left|right) to /, 2);
    expect((await readdir(out)).sort()).toEqual(['left.mkv', 'right.mkv']);
    const frames = jsonFrames(recv);
    for (const label of ['left', 'right']) {
      const own = frames.filter((frame) => frame.sender === label);
      const file = await probe(join(out, `${label}.mkv`));
      expect(file.frames).toBe(own.length);
      expect(file.times).toEqual(captureOffsets(own));
    }
  });

  it('without {sender}, gives each sender a file of its own with a suffix, and never touches an existing file', async () => {
    const out = await freshDir();
    await writeFile(join(out, 'rec.mkv'), 'not ours');
    const recv = await startReceiver(['--record', join(out, 'rec.mkv'), '--json'], { env });
    const senders = [send(recv.port, 'left', 20), send(recv.port, 'right', 20)];
    expect(await Promise.all(senders.map((s) => s.exitCode))).toEqual([0, 0]);
    await recv.waitForLines(/recorded \d+ frames .* of (left|right) to /, 2);
    expect((await readdir(out)).sort()).toEqual(['rec-1.mkv', 'rec-2.mkv', 'rec.mkv']);
    expect(await readFile(join(out, 'rec.mkv'), 'utf8')).toBe('not ours');
    const titles = await Promise.all(['rec-1.mkv', 'rec-2.mkv'].map(async (name) => (await probe(join(out, name))).title));
    expect(titles.sort()).toEqual(['left', 'right']);
  });

  it('skips and counts frames that are not JPEGs or claim too many pixels, and records the others', async () => {
    const out = await freshDir();
    const path = join(out, 'rec.mkv');
    const recv = await startReceiver(['--record', path, '--max-pixels', '1000000'], { env });
    const jpeg = await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=160x120', '-frames:v', '1', '-c:v', 'mjpeg', '-f', 'image2pipe', '-']);
    // The same JPEG claiming 4000x4000 in its SOF0 (after FF C0, length, precision: height, width).
    const huge = Buffer.from(jpeg);
    const sof = huge.indexOf(Buffer.from([0xff, 0xc0]));
    huge.writeUInt16BE(4000, sof + 5);
    huge.writeUInt16BE(4000, sof + 7);
    const frame = (payload: Buffer) => Buffer.concat([Buffer.from(String(payload.length).padEnd(16)), payload]);
    // And capture times no clock gives: they must not put a frame centuries into the file.
    const timed = (captureTime: number) => {
      const at = metadataInsertOffset(jpeg);
      return Buffer.concat([jpeg.subarray(0, at), metadataSegment({ seq: 0, captureTime }), jpeg.subarray(at)]);
    };
    const socket = connect(recv.port, '127.0.0.1');
    socket.end(Buffer.concat([frame(timed(1e300)), frame(Buffer.from('not a picture at all')), frame(huge), frame(timed(-1e300))]));
    await recv.waitForLine(/recorded 2 frames .* to .*rec\.mkv$/);
    expect(recv.stderr()).toMatch(/ERR_NOT_JPEG/);
    expect(recv.stderr()).toMatch(/ERR_PIXEL_LIMIT/);
    const file = await probe(path);
    expect(file.frames).toBe(2);
    expect(file.times[1]!).toBeLessThan(10_000);
    await decodesCleanly(path);
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    expect(recv.stderr()).toMatch(/received 4 frames .* 2 dropped \(0 by the sender, 2 here\)/);
  });

  it('stops at --record-max-bytes with exit 8, the file closed and playable', async () => {
    const out = await freshDir();
    const path = join(out, 'rec.mkv');
    const recv = await startReceiver(['--record', path, '--record-max-bytes', '200k'], { env });
    send(recv.port, 'cam', 10_000);
    expect(await recv.exitCode).toBe(8);
    expect(recv.stderr()).toMatch(/reached --record-max-bytes \(204\.8 kB\): recording stopped, every file closed/);
    expect((await stat(path)).size).toBeLessThanOrEqual(200 * 1024 + 1024);
    expect((await probe(path)).frames).toBeGreaterThan(0);
    await decodesCleanly(path);
  });

  it('stops rather than leave less than --record-min-free on the disk, with exit 8 and no file left', async () => {
    const out = await freshDir();
    const recv = await startReceiver(['--record', join(out, 'rec.mkv'), '--record-min-free', '1000T'], { env });
    send(recv.port, 'cam', 10_000);
    expect(await recv.exitCode).toBe(8);
    expect(recv.stderr()).toMatch(/rec\.mkv: [\d.]+ [kMGT]?B left on the disk, under --record-min-free \([\d.]+ [kMGTPE]?B\): recording stopped/);
    expect(await readdir(out)).toEqual([]);
  });

  it('says what is wrong with the command line in one line, before receiving anything', async () => {
    const cases: [string[], RegExp, number, NodeJS.ProcessEnv][] = [
      [['--record', 'x.mov'], /must end in \.mkv, \.avi or \.mp4/, 2, env],
      [['--record', 'x-%Q.mkv'], /%Q is not one of/, 2, env],
      [['--record-segment', '10m'], /--record-segment needs --record/, 2, env],
      [['--record', 'x.mkv', '--record-segment', '10 minutes'], /invalid --record-segment/, 2, env],
      [['--record', 'x.mkv', '--record-codec', 'vp9'], /invalid --record-codec "vp9"/, 2, env],
      [['--record', join(dir, 'x.mp4')], /ffmpeg not found/, 5, { VSTREAM_FFMPEG: '/nonexistent/ffmpeg' }],
    ];
    for (const [args, message, code, environment] of cases) {
      const recv = vstream(['recv', '--no-window', '--listen', '0', ...args], { env: environment });
      expect(await recv.exitCode, args.join(' ')).toBe(code);
      const lines = recv.output('stderr').filter((line) => line.trim() !== '');
      expect(lines, args.join(' ')).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});
