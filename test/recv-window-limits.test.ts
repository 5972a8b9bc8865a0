/**
 * `vstream recv` windows against many or hostile senders, on a private X server: at most
 * --max-windows SDL windows, places handed on once a sender leaves, and a frame header that
 * claims 65000x65000 dropped before it can size or allocate anything.
 */
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { frame } from '../src/frame/framer.js';
import { jpegSegments } from '../src/frame/jpeg-segments.js';
import { HAVE_XVFB, startXvfb, type Xvfb } from './helpers/xvfb.js';
import { stopAll, vstream, type TestProcess } from './helpers/process.js';

const run = promisify(execFile);

/** A vstream-format TCP sender driven by the test, waiting for recv's ack after each frame. */
class TestSender {
  private seq = 0;
  private readonly closed: Promise<unknown>;
  private constructor(
    private readonly socket: Socket,
    readonly label: string,
  ) {
    this.closed = once(socket, 'close');
  }

  static async connect(port: number, label: string): Promise<TestSender> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new TestSender(socket, label);
  }

  /** Resolves once recv has handed the frame to its window and replied. */
  async send(jpeg: Buffer): Promise<void> {
    const replied = once(this.socket, 'data');
    for (const part of frame(jpeg, { seq: this.seq++, captureTime: Date.now(), label: this.label })) this.socket.write(part);
    await replied;
  }

  async close(): Promise<void> {
    this.socket.end();
    await this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

function solidJpeg(width: number, height: number, rgb: [number, number, number]): Promise<Buffer> {
  const [r, g, b] = rgb;
  return sharp({ create: { width, height, channels: 3, background: { r, g, b } } })
    .jpeg({ quality: 95 })
    .toBuffer();
}

/** `jpeg` with its frame header (SOF) claiming another size; the scan data stays as it was. */
function claimingSize(jpeg: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(jpeg);
  for (const { marker, payloadStart } of jpegSegments(out)) {
    if (marker === 0xc0 || marker === 0xc2) {
      out.writeUInt16BE(height, payloadStart + 1);
      out.writeUInt16BE(width, payloadStart + 3);
      return out;
    }
  }
  throw new Error('no SOF0/SOF2 in the test JPEG');
}

describe.skipIf(!HAVE_XVFB)('vstream recv windows against many and hostile senders', () => {
  let x: Xvfb;
  const senders: TestSender[] = [];
  beforeAll(async () => {
    x = await startXvfb({ width: 1280, height: 720 });
  });
  afterAll(async () => x?.stop());
  afterEach(async () => {
    for (const s of senders.splice(0)) s.destroy();
    await stopAll();
  });

  async function startRecv(args: string[]): Promise<{ recv: TestProcess; port: number }> {
    const recv = vstream(['recv', '--listen', '0', '--bind', '127.0.0.1', '--ack', ...args], { env: x.env });
    const [, port] = await recv.waitForLine(/listening on \S+:(\d+)/, 'stderr');
    return { recv, port: Number(port) };
  }

  async function sender(port: number, label: string): Promise<TestSender> {
    const s = await TestSender.connect(port, label);
    senders.push(s);
    return s;
  }

  async function leave(s: TestSender, recv: TestProcess, pattern: RegExp): Promise<void> {
    senders.splice(senders.indexOf(s), 1);
    await s.close();
    await recv.waitForLine(pattern, 'stderr');
  }

  /** X11 ids of the windows a process has open. */
  async function windowsOf(pid: number): Promise<string[]> {
    try {
      const { stdout } = await run('xdotool', ['search', '--pid', String(pid)], { env: x.env });
      return stdout.trim().split('\n').filter(Boolean);
    } catch (error) {
      // xdotool exits 1 when nothing matches.
      if ((error as { code?: number }).code === 1) return [];
      throw error;
    }
  }

  async function windowName(id: string): Promise<string> {
    return (await run('xdotool', ['getwindowname', id], { env: x.env })).stdout.replace(/\n$/, '');
  }

  async function geometry(id: string): Promise<{ x: number; y: number; width: number; height: number }> {
    const { stdout } = await run('xdotool', ['getwindowgeometry', '--shell', id], { env: x.env });
    const value = (key: string) => Number(new RegExp(`^${key}=(\\d+)`, 'm').exec(stdout)![1]);
    return { x: value('X'), y: value('Y'), width: value('WIDTH'), height: value('HEIGHT') };
  }

  it('opens at most --max-windows windows, names the sender left without one once, and gives it the place of one that leaves', async () => {
    const { recv, port } = await startRecv(['--max-windows', '2']);
    const pid = recv.child.pid!;
    const jpeg = await solidJpeg(160, 120, [0, 0, 255]);
    // The third label is hostile: a terminal escape and 4 KB (what a vstream sender sends at most).
    const hostile = `cam-c\x1b[2J${'x'.repeat(5000)}`;
    const [a, b, c] = await Promise.all([sender(port, 'cam-a'), sender(port, 'cam-b'), sender(port, hostile)]);
    await a!.send(jpeg);
    await b!.send(jpeg);
    for (let i = 0; i < 3; i++) await c!.send(jpeg);
    expect(await windowsOf(pid)).toHaveLength(2);
    const [refused] = await recv.waitForLine(/^.*no window for cam-c.*$/m, 'stderr');
    expect(refused).not.toContain('\x1b');
    expect(refused).toContain('cam-c\\x1b[2J');
    expect(refused.length).toBeLessThan(200);
    expect(refused).toContain('--max-windows');

    // cam-a leaves: its window is the one cam-c may take, and the count stays at two.
    await leave(a!, recv, /cam-a \(127\.0\.0\.1:\d+\) disconnected/);
    await c!.send(jpeg);
    const ids = await windowsOf(pid);
    expect(ids).toHaveLength(2);
    const names = await Promise.all(ids.map(windowName));
    const cTitle = names.find((name) => name.includes('cam-c'));
    expect(cTitle, names.join(' | ')).toBeDefined();
    expect(cTitle).not.toContain('\x1b');
    expect(cTitle!.length).toBeLessThan(200);
    expect(names.some((name) => name.includes('cam-a'))).toBe(false);

    recv.kill('SIGTERM');
    await recv.exitCode;
    const lines = recv.stderr().split('\n');
    expect(lines.filter((line) => line.includes('no window for'))).toHaveLength(1);
  });

  it('keeps at most --max-windows windows while 20 senders come and go one after another', async () => {
    const { recv, port } = await startRecv(['--max-windows', '4']);
    const pid = recv.child.pid!;
    const jpeg = await solidJpeg(96, 64, [0, 160, 0]);
    const counts: number[] = [];
    for (let i = 0; i < 20; i++) {
      const s = await sender(port, `seq-${i}`);
      await s.send(jpeg);
      await s.send(jpeg);
      counts.push((await windowsOf(pid)).length);
      await leave(s, recv, new RegExp(`seq-${i} \\(127\\.0\\.0\\.1:\\d+\\) disconnected`));
    }
    expect(counts).toEqual([1, 2, 3, 4, ...Array(16).fill(4)]);
    // Sequential senders never have to wait for a place.
    expect(recv.stderr()).not.toContain('no window for');
    recv.kill('SIGTERM');
    await recv.exitCode;
  });

  it('drops a frame claiming 65000x65000 undecoded, then opens the window at the size of the first good frame', async () => {
    const { recv, port } = await startRecv([]);
    const pid = recv.child.pid!;
    const green = await solidJpeg(320, 240, [0, 255, 0]);
    const s = await sender(port, 'big');
    await s.send(claimingSize(green, 65000, 65000));
    expect(await windowsOf(pid)).toHaveLength(0);
    const [dropped] = await recv.waitForLine(/^.*65000x65000.*$/m, 'stderr');
    expect(dropped).toMatch(/big .*dropped.*limit/);

    for (let i = 0; i < 3; i++) await s.send(green);
    const [id, ...more] = await windowsOf(pid);
    expect(more).toEqual([]);
    const win = await geometry(id!);
    expect([win.width, win.height]).toEqual([320, 240]);
    // Drawn once its decode finishes: look until it is on screen, within a deadline.
    const deadline = Date.now() + 10_000;
    let centre: number[] = [];
    while (Date.now() < deadline) {
      centre = (await x.screenshot()).at(win.x + 160, win.y + 180);
      if (centre[1]! > 200 && centre[0]! < 60 && centre[2]! < 60) break;
    }
    expect(centre[1]).toBeGreaterThan(200);
    expect(centre[0]).toBeLessThan(60);
    expect(recv.child.exitCode).toBeNull();
  });
});
