/**
 * The video player of the Python/OpenCV tutorials, both ways round: the reference client (it
 * names a file, waits for `True`, replies `Rec` after each frame) against
 * `vstream send --serve DIR --listen PORT`, and `vstream recv --connect --request NAME` against
 * the reference server (it answers `True`, plays the file with cv2, waits for each reply) and
 * against `send --serve`. Real processes, real ffmpeg, loopback over IPv4 and IPv6.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG, runFfmpeg } from './helpers/ffmpeg.js';
import { TcpFrameParser } from '../src/reassemble/tcp-parser.js';
import { recvSchema, recvSettings } from '../src/cli/commands/recv.js';
import { sendSchema, sendSettings } from '../src/cli/commands/send.js';
import { addOptions, type OptionSchema } from '../src/options/schema.js';
import { UsageError } from '../src/errors.js';
import { startProcess, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { freePort } from './helpers/ports.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON } from './helpers/python.js';

if (!HAVE_CV2) console.warn(`video-player.test.ts: SKIPPED: ${CV2_SKIP_REASON}`);

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
});

/** The reference server, as the tutorial writes it; it prints its port, and what it saw at the end. */
const REFERENCE_SERVER = `
import os, socket, sys
import cv2

s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('::', 0))
s.listen()
print('listening', s.getsockname()[1], flush=True)
conn, _ = s.accept()
name = conn.recv(1024).decode()
if os.path.exists(name):
    conn.send(b'True')
    cap = cv2.VideoCapture(name)
    sent = 0
    replies = []
    stopped = False
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        ok, jpg = cv2.imencode('.jpg', frame)
        data = jpg.tobytes()
        conn.send(str(len(data)).ljust(16).encode())
        conn.send(data)
        sent += 1
        reply = conn.recv(1024)
        replies.append(reply.decode())
        if reply == b'EOF':
            stopped = True
            break
    if not stopped:
        conn.send(b'EOF')
    conn.close()
    print('sent', sent, 'replies', ','.join(replies), flush=True)
else:
    conn.send(b'False')
    conn.close()
    print('no such file', name, flush=True)
`;

/** The reference client, as the tutorial writes it; it prints each frame it decoded. */
const REFERENCE_CLIENT = `
import socket, sys
import cv2
import numpy as np

def recvall(sock, count):
    buf = b''
    while count:
        newbuf = sock.recv(count)
        if not newbuf:
            break
        buf += newbuf
        count -= len(newbuf)
    return buf

host, port, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
c = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
c.connect((host, port))
c.send(name.encode())
answer = c.recv(1024)
if answer != b'True':
    print('refused', repr(answer), flush=True)
    sys.exit(3)
count = 0
while True:
    header = recvall(c, 16)
    if header.startswith(b'EOF'):
        print('EOF', flush=True)
        break
    length = int(header)
    data = recvall(c, length)
    frame = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        print('undecodable', length, flush=True)
        sys.exit(4)
    count += 1
    print('frame', count, frame.shape[1], frame.shape[0], flush=True)
    c.send(b'Rec')
c.close()
print('frames', count, flush=True)
`;

/** The reference client's request, for many names in a row: it prints what each was answered. */
const REQUEST_PROBE = `
import socket, sys

host, port = sys.argv[1], int(sys.argv[2])
for name in sys.argv[3:]:
    c = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
    c.connect((host, port))
    c.send(name.encode())
    answer = c.recv(1024)
    if answer != b'True':
        print('refused', repr(answer), flush=True)
    else:
        print('accepted', flush=True)
    c.close()
`;

interface Family {
  name: string;
  host: string;
  inUrl: string;
}
const FAMILIES: Family[] = [
  { name: 'IPv4', host: '127.0.0.1', inUrl: '127.0.0.1' },
  ...(hasIpv6 ? [{ name: 'IPv6', host: '::1', inUrl: '[::1]' }] : []),
];

let work: string;
/** The served folder: traffic.avi (20 frames, 160x120), a sub-folder, a text file. */
let videos: string;
let programs: string;
const FRAMES = 20;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vstream-video-'));
  videos = join(work, 'videos');
  programs = join(work, 'programs');
  await mkdir(join(videos, 'sub'), { recursive: true });
  await mkdir(programs);
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-frames:v', String(FRAMES), '-y', join(videos, 'traffic.avi')]);
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-frames:v', '3', '-y', join(videos, 'sub', 'short.avi')]);
  await writeFile(join(videos, 'notes.txt'), 'not a video\n');
  await writeFile(join(videos, '.hidden.avi'), 'hidden\n');
  // Outside the served folder, and ways to point at it from inside.
  await writeFile(join(work, 'secret.avi'), 'secret\n');
  await symlink(join(work, 'secret.avi'), join(videos, 'link.avi'));
  await symlink('sub/short.avi', join(videos, 'inside-link.avi'));
  await writeFile(join(programs, 'server.py'), REFERENCE_SERVER);
  await writeFile(join(programs, 'client.py'), REFERENCE_CLIENT);
  await writeFile(join(programs, 'probe.py'), REQUEST_PROBE);
});

afterEach(() => stopAll());
afterAll(() => rm(work, { recursive: true, force: true }));

function vstreamWith(args: string[]): TestProcess {
  return vstream(args, { env: { VSTREAM_FFMPEG: FFMPEG, VSTREAM_DEBUG: '' }, cwd: work });
}

async function startServe(extra: string[] = []): Promise<{ server: TestProcess; port: number }> {
  const server = vstreamWith(['send', '--serve', videos, '--listen', '0', ...extra]);
  const [, port] = await server.waitForLine(/serving the videos of .* on port (\d+)/, 'stderr');
  return { server, port: Number(port) };
}

function referenceClient(family: Family, port: number, name: string): TestProcess {
  return startProcess(`client ${name}`, PYTHON, ['-u', join(programs, 'client.py'), family.host, String(port), name]);
}

async function referenceServer(): Promise<{ server: TestProcess; port: number }> {
  // The client names files relative to the server's folder, as in the tutorial.
  const server = startProcess('reference server', PYTHON, ['-u', join(programs, 'server.py')], { cwd: videos });
  const [, port] = await server.waitForLine(/^listening (\d+)$/, 'stdout');
  return { server, port: Number(port) };
}

async function exitCode(proc: TestProcess, expected: number): Promise<void> {
  const code = await proc.exitCode;
  if (code !== expected) throw proc.describeFailure(`expected exit code ${expected}, got ${code}`);
}

/** The JPEGs of a folder, decoded: each one's size. */
async function savedFrames(dir: string): Promise<{ name: string; width: number; height: number }[]> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.jpg')).sort();
  return Promise.all(
    names.map(async (name) => {
      const { width, height } = await sharp(await readFile(join(dir, name))).metadata();
      return { name, width: width!, height: height! };
    }),
  );
}

describe.skipIf(!HAVE_CV2)('the reference client against send --serve', () => {
  it.each(FAMILIES)('gets True, decodes all 20 frames with cv2, replies Rec and gets EOF ($name)', async (family) => {
    const { server, port } = await startServe(['--fps', 'max']);
    const client = referenceClient(family, port, 'traffic.avi');
    await exitCode(client, 0);
    const frames = client.output('stdout').filter((line) => line.startsWith('frame '));
    expect(frames).toHaveLength(FRAMES);
    expect(frames.every((line) => line.endsWith(' 160 120'))).toBe(true);
    expect(client.output('stdout').slice(-2)).toEqual(['EOF', `frames ${FRAMES}`]);
    await server.waitForLine(/"traffic\.avi" ended after 20 frames \(end of video\)/, 'stderr');
    server.kill('SIGINT');
    await exitCode(server, 130);
    expect(server.stderr()).toMatch(/served 1 client \(traffic\.avi to .*: 20 frames\); 0 requests refused/);
  });

  it('plays each of two clients at once its own 20 frames: one held up does not hold up the other', async () => {
    const family = FAMILIES.at(-1)!;
    const { server, port } = await startServe();
    const first = referenceClient(family, port, 'traffic.avi');
    await first.waitForLine(/^frame 1 /, 'stdout');
    // Stopped, it sends no reply, so its playback waits; the second client's goes on.
    first.kill('SIGSTOP');
    const second = referenceClient(family, port, 'traffic.avi');
    await exitCode(second, 0);
    first.kill('SIGCONT');
    await exitCode(first, 0);
    for (const client of [first, second]) {
      expect(client.output('stdout').filter((line) => line.startsWith('frame '))).toHaveLength(FRAMES);
      expect(client.output('stdout').slice(-2)).toEqual(['EOF', `frames ${FRAMES}`]);
    }
    const lines = server.output('stderr');
    const plays = lines.map((line, i) => (/ plays "traffic\.avi"$/.test(line) ? i : -1)).filter((i) => i >= 0);
    const ends = lines.map((line, i) => (/ended after 20 frames \(end of video\)/.test(line) ? i : -1)).filter((i) => i >= 0);
    expect(plays).toHaveLength(2);
    expect(ends).toHaveLength(2);
    expect(Math.max(...plays)).toBeLessThan(Math.min(...ends));
    server.kill('SIGTERM');
    await exitCode(server, 143);
    expect(server.stderr()).toMatch(/served 2 clients \(traffic\.avi to .*: 20 frames, traffic\.avi to .*: 20 frames\)/);
  });

  it('refuses names outside the folder, and goes on serving', async () => {
    const family = FAMILIES.at(-1)!;
    const { server, port } = await startServe(['--fps', 'max']);
    const refusedNames = ['../secret.avi', join(work, 'secret.avi'), '/etc/passwd', 'link.avi', 'sub/../../secret.avi', 'sub/../traffic.avi', '\n', 'missing.avi', 'sub', 'notes.txt', 'tab\there.avi'];
    // A client that never names anything holds a place for a while only.
    const silent = connect({ host: family.host, port });
    const silentClosed = once(silent, 'close');
    const probe = startProcess('request probe', PYTHON, ['-u', join(programs, 'probe.py'), family.host, String(port), ...refusedNames]);
    await exitCode(probe, 0);
    const answers = probe.output('stdout');
    expect(answers).toHaveLength(refusedNames.length);
    for (const answer of answers) expect(answer).toMatch(/^refused b'False: [a-z .,]+\\n'$/);
    // A symlink that stays inside is a name like any other.
    const inside = referenceClient(family, port, 'inside-link.avi');
    await exitCode(inside, 0);
    expect(inside.output('stdout').at(-1)).toBe('frames 3');
    const good = referenceClient(family, port, 'traffic.avi');
    await exitCode(good, 0);
    expect(good.output('stdout').at(-1)).toBe(`frames ${FRAMES}`);
    await silentClosed;
    server.kill('SIGINT');
    await exitCode(server, 130);
    const stderr = server.stderr();
    expect(stderr).toMatch(/sent no request within 10 s \(ERR_TIMEOUT\)/);
    expect(stderr).toMatch(new RegExp(`served 2 clients .*; ${refusedNames.length} requests refused`));
    // Refusals are problems: one line a second at most, none with a raw control byte.
    expect(stderr).toMatch(/refused ".*" to .*: [a-z .,]+ \(ERR_BAD_REQUEST\)/);
    expect(stderr).not.toMatch(/\t/);
  });
});

describe.skipIf(!HAVE_CV2)('recv --connect --request', () => {
  it.each(FAMILIES)('gets every frame from the reference server, which sees Rec after each ($name)', async (family) => {
    const { server, port } = await referenceServer();
    const out = join(work, `from-reference-${family.name}`);
    const recv = vstreamWith(['recv', '--connect', `${family.inUrl}:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out]);
    await exitCode(recv, 0);
    await exitCode(server, 0);
    expect(server.output('stdout').at(-1)).toBe(`sent ${FRAMES} replies ${Array(FRAMES).fill('Rec').join(',')}`);
    const saved = await savedFrames(out);
    expect(saved).toHaveLength(FRAMES);
    expect(saved.every(({ width, height }) => width === 160 && height === 120)).toBe(true);
    expect(recv.stderr()).toMatch(new RegExp(`receiving "traffic\\.avi" from ${family.inUrl.replace(/[[\].]/g, '\\$&')}:${port}`));
    expect(recv.stderr()).toMatch(/received 20 frames/);
  });

  it('says EOF instead of Rec after --frames N', async () => {
    const { server, port } = await referenceServer();
    const out = join(work, 'from-reference-5');
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out, '--frames', '5']);
    await exitCode(recv, 0);
    await exitCode(server, 0);
    expect(server.output('stdout').at(-1)).toBe('sent 5 replies Rec,Rec,Rec,Rec,EOF');
    expect(await savedFrames(out)).toHaveLength(5);
  });

  it('prints what the reference server answered to a missing file, and exits 4', async () => {
    const { server, port } = await referenceServer();
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'missing.avi', '--no-window', '--save-dir', join(work, 'none')]);
    await exitCode(recv, 4);
    expect(recv.stderr()).toMatch(/^vstream: \[::1\]:\d+ refused "missing\.avi": False\n$/);
    await exitCode(server, 0);
  });

  it.each(FAMILIES)('gets every frame from send --serve, and EOF after --frames N ($name)', async (family) => {
    const { server, port } = await startServe(['--fps', 'max', '--size', '80x60']);
    const out = join(work, `from-serve-${family.name}`);
    const all = vstreamWith(['recv', '--connect', `${family.inUrl}:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out, '--json']);
    await exitCode(all, 0);
    // vstream's metadata came along: numbered frames with their capture times.
    const records = all.output('stdout').map((line) => JSON.parse(line) as { seq: number; captureTime?: number });
    expect(records.map((r) => r.seq)).toEqual([...Array(FRAMES).keys()]);
    expect(records.every((r) => typeof r.captureTime === 'number')).toBe(true);
    const saved = await savedFrames(out);
    expect(saved).toHaveLength(FRAMES);
    expect(saved.every(({ width, height }) => width === 80 && height === 60)).toBe(true);
    await server.waitForLine(/ended after 20 frames \(end of video\)/, 'stderr');
    const few = vstreamWith(['recv', '--connect', `${family.inUrl}:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', `${out}-3`, '--frames', '3']);
    await exitCode(few, 0);
    expect(await savedFrames(`${out}-3`)).toHaveLength(3);
    await server.waitForLine(/ended after 3 frames \(stopped by the client\)/, 'stderr');
    const refused = vstreamWith(['recv', '--connect', `${family.inUrl}:${port}`, '--request', '../secret.avi', '--no-window', '--save-dir', `${out}-x`]);
    await exitCode(refused, 4);
    expect(refused.stderr()).toMatch(/refused "\.\.\/secret\.avi": False: names with \.\. are not served\n$/);
  });

  it('loops a video with --loop until the client says EOF', async () => {
    const { server, port } = await startServe(['--fps', 'max', '--loop']);
    const out = join(work, 'looped');
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'sub/short.avi', '--no-window', '--save-dir', out, '--frames', '10']);
    await exitCode(recv, 0);
    expect(await savedFrames(out)).toHaveLength(10);
    await server.waitForLine(/"sub\/short\.avi" ended after 10 frames \(stopped by the client\)/, 'stderr');
  });

  it('fails with exit 3 and one line when nothing listens', async () => {
    const port = await freePort();
    const recv = vstreamWith(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', join(work, 'none')]);
    await exitCode(recv, 3);
    expect(recv.stderr()).toMatch(/^vstream: cannot connect to 127\.0\.0\.1:\d+: connection refused \(is a video server listening there\?\)\n$/);
  });
});

describe('recv --connect --list', () => {
  it('prints the names send --serve offers, one a line', async () => {
    const { port } = await startServe();
    const list = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--list']);
    await exitCode(list, 0);
    // Not the hidden file, not the symlink that leads outside, nor the folder itself.
    expect(list.output('stdout')).toEqual(['inside-link.avi', 'notes.txt', 'sub/short.avi', 'traffic.avi']);
  });

  it.skipIf(!HAVE_CV2)('says that the reference server has no list, and exits 4', async () => {
    const { server, port } = await referenceServer();
    const list = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--list']);
    await exitCode(list, 4);
    expect(list.stderr()).toMatch(/^vstream: \[::1\]:\d+ does not list its videos: it answered "False"\n$/);
    await exitCode(server, 0);
  });
});

/** Connects and writes `parts` one write each, each flushed to the kernel before the next. */
async function rawClient(host: string, port: number, parts: (string | Buffer)[]): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<unknown> }> {
  const socket = connect({ host, port });
  socket.setNoDelay(true);
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  const closed = once(socket, 'close');
  for (const part of parts) await new Promise((resolve) => socket.write(part, resolve));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

/** Frames in what a server sent after `True`: each header's length, how many are whole, whether `EOF` came. */
function framesIn(bytes: Buffer): { lengths: number[]; complete: number; end: boolean } {
  const lengths: number[] = [];
  let complete = 0;
  let at = 0;
  while (at + 3 <= bytes.length) {
    if (bytes.subarray(at, at + 3).toString() === 'EOF') return { lengths, complete, end: true };
    if (at + 16 > bytes.length) break;
    const length = Number(bytes.subarray(at, at + 16).toString().trim());
    lengths.push(length);
    at += 16 + length;
    if (at <= bytes.length) complete += 1;
  }
  return { lengths, complete, end: false };
}

describe('send --serve, what clients can do to it', () => {
  it('takes a name sent a byte per segment', async () => {
    const { server, port } = await startServe(['--fps', 'max']);
    const client = await rawClient('::1', port, [...'traffic.avi']);
    // A reply after each whole frame, as the reference client does.
    let replied = 0;
    client.socket.on('data', () => {
      const { lengths, complete } = framesIn(client.received().subarray(4));
      for (; replied < complete; replied++) client.socket.write('Rec');
      expect(lengths.length - complete).toBeLessThanOrEqual(1);
    });
    await client.closed;
    const bytes = client.received();
    expect(bytes.subarray(0, 4).toString()).toBe('True');
    const { lengths, end } = framesIn(bytes.subarray(4));
    expect(lengths).toHaveLength(FRAMES);
    expect(end).toBe(true);
    expect(replied).toBe(FRAMES);
    await server.waitForLine(/ended after 20 frames \(end of video\)/, 'stderr');
  });

  it('lets a client that goes away mid-video go, with its decoder', async () => {
    const { server, port } = await startServe();
    const family = FAMILIES.at(-1)!;
    const client = referenceClient(family, port, 'traffic.avi');
    await client.waitForLine(/^frame 3 /, 'stdout');
    expect(childrenOf(server.child.pid!)).toContain('ffmpeg');
    client.kill('SIGKILL');
    await server.waitForLine(/"traffic\.avi" ended after \d+ frames \(client gone\)/, 'stderr');
    expect(childrenOf(server.child.pid!)).not.toContain('ffmpeg');
  });

  it('refuses a client over --max-clients, and ends playbacks with EOF at a signal', async () => {
    // Looped, the first video plays until the signal.
    const { server, port } = await startServe(['--max-clients', '1', '--loop']);
    const family = FAMILIES[0]!;
    const first = referenceClient(family, port, 'traffic.avi');
    await first.waitForLine(/^frame 2 /, 'stdout');
    const second = referenceClient(family, port, 'traffic.avi');
    await exitCode(second, 3);
    expect(second.output('stdout')).toEqual(["refused b'False: busy: 1 clients are playing (--max-clients)\\n'"]);
    server.kill('SIGINT');
    await exitCode(first, 0);
    expect(first.output('stdout').at(-2)).toBe('EOF');
    await exitCode(server, 130);
    expect(server.stderr()).toMatch(/served 1 client \(traffic\.avi to 127\.0\.0\.1:\d+: \d+ frames\); 1 request refused/);
  });

  it('is stopped by recv --request at a signal: EOF instead of the next Rec', async () => {
    const { server, port } = await startServe();
    const out = join(work, 'interrupted');
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out]);
    await server.waitForLine(/ plays "traffic\.avi"$/, 'stderr');
    await recv.waitForLine(/connected/, 'stderr');
    recv.kill('SIGINT');
    await exitCode(recv, 130);
    const [, frames] = await server.waitForLine(/"traffic\.avi" ended after (\d+) frames \(stopped by the client\)/, 'stderr');
    expect(Number(frames)).toBeLessThan(FRAMES);
    expect((await savedFrames(out)).length).toBeLessThanOrEqual(Number(frames));
  });
});

/** Command names of a process's children. */
function childrenOf(pid: number): string[] {
  const result = spawnSync('ps', ['--ppid', String(pid), '-o', 'comm='], { encoding: 'utf8' });
  return result.stdout.split('\n').filter(Boolean);
}

describe('the parser end marker', () => {
  const marker = Buffer.from('EOF');
  const frame = (payload: string) => Buffer.concat([Buffer.from(String(payload.length).padEnd(16)), Buffer.from(payload)]);

  it('ends the stream at a header boundary, split or not, and ignores what follows', () => {
    for (const split of [1, 2, 3, 20, 40]) {
      const parser = new TcpFrameParser({ endMarker: marker });
      const got: string[] = [];
      const bytes = Buffer.concat([frame('abc'), frame('EOF in a payload'), marker, Buffer.from('garbage after it')]);
      for (let at = 0; at < bytes.length; at += split) parser.push(bytes.subarray(at, at + split), (p) => got.push(p.toString()));
      expect(got).toEqual(['abc', 'EOF in a payload']);
      expect(parser.ended).toBe(true);
      expect(parser.pendingBytes).toBe(0);
    }
  });

  it('leaves anything else where a header should be a bad header', () => {
    const parser = new TcpFrameParser({ endMarker: marker });
    expect(() => parser.push(Buffer.from('EOX             '), () => {})).toThrow(/header/);
    const without = new TcpFrameParser();
    expect(() => without.push(Buffer.from('EOF             '), () => {})).toThrow(/header/);
    expect(without.ended).toBe(false);
  });
});

describe('recv --request, what a server can do to it', () => {
  const servers: Server[] = [];
  afterEach(() => {
    for (const server of servers.splice(0)) server.close();
  });
  /** A server that answers `True` and then sends `after`, replying to nothing, and closes. */
  async function oneShotServer(after: Buffer): Promise<number> {
    const server = createServer((socket) => {
      socket.once('data', () => socket.end(Buffer.concat([Buffer.from('True'), after])));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen({ host: '::1', port: 0 }, resolve));
    return (server.address() as { port: number }).port;
  }
  const jpeg = async () => sharp({ create: { width: 8, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
  const framed = (data: Buffer) => Buffer.concat([Buffer.from(String(data.length).padEnd(16)), data]);

  it('exits 3 with one line when the connection ends before the video does', async () => {
    const port = await oneShotServer(framed(await jpeg()));
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'a.avi', '--no-window', '--save-dir', join(work, 'cut')]);
    await exitCode(recv, 3);
    expect(recv.stderr()).toMatch(/\nvstream: \[::1\]:\d+: connection closed before the end of the stream \(no EOF\), after 1 frames\n$/);
    expect(await savedFrames(join(work, 'cut'))).toHaveLength(1);
  });

  it('exits 6 with one line for something that is no header where one should be', async () => {
    const port = await oneShotServer(Buffer.concat([framed(await jpeg()), Buffer.from('EOX and then some')]));
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'a.avi', '--no-window', '--save-dir', join(work, 'bad')]);
    await exitCode(recv, 6);
    expect(recv.stderr()).toMatch(/\nvstream: \[::1\]:\d+: [^\n]*header[^\n]*, after 1 frames\n$/);
  });

  it('takes True, frames and EOF arriving in one segment', async () => {
    const one = await jpeg();
    const port = await oneShotServer(Buffer.concat([framed(one), framed(one), Buffer.from('EOF')]));
    const recv = vstreamWith(['recv', '--connect', `[::1]:${port}`, '--request', 'a.avi', '--no-window', '--save-dir', join(work, 'together')]);
    await exitCode(recv, 0);
    expect(await savedFrames(join(work, 'together'))).toHaveLength(2);
  });
});

describe('the options of both sides', () => {
  const raw = (schema: OptionSchema, args: string[]) => {
    const command = addOptions(new Command('test').exitOverride().configureOutput({ writeErr: () => {} }), schema);
    command.parse(args, { from: 'user' });
    return command.opts();
  };
  const send = (...args: string[]) => sendSettings(raw(sendSchema, args));
  const recv = (...args: string[]) => recvSettings(raw(recvSchema, args));

  it('pick the video kinds', () => {
    expect(send('--serve', 'videos', '--listen', '9000', '--loop')).toMatchObject({ transport: 'video-serve', serve: 'videos', listen: 9000, loop: true, maxClients: 8 });
    expect(recv('--connect', '[::1]:9000', '--request', 'a.avi')).toMatchObject({ transport: 'video-request', request: 'a.avi', connect: { host: '::1', port: 9000 } });
    expect(recv('--connect', '127.0.0.1:9000', '--list').transport).toBe('video-list');
  });

  it.each([
    [send, ['--serve', 'videos'], '--serve needs --listen'],
    [send, ['--serve', 'videos', '--listen', '9000', '--to', 'h:1'], '--to does not apply to --serve'],
    [send, ['--serve', 'videos', '--listen', '9000', '--camera', '0'], '--camera does not apply to --serve'],
    [send, ['--max-clients', '2'], '--max-clients needs --serve'],
    [send, ['--pattern', '--loop'], '--loop applies to --file only (and to --serve)'],
    [recv, ['--request', 'a.avi'], '--request needs --connect'],
    [recv, ['--connect', '[::1]:9000', '--request', 'a.avi', '--list'], '--request and --list cannot be used together'],
    [recv, ['--connect', '[::1]:9000', '--request', 'a.avi', '--ack'], '--ack does not apply to --request'],
    [recv, ['--connect', '[::1]:9000', '--request', 'a.avi', '--listen', '1'], '--listen does not apply to --request'],
    [recv, ['--connect', '[::1]:9000', '--request', ''], 'invalid --request'],
    [recv, ['--connect', '[::1]:9000', '--request', 'x'.repeat(1025)], 'invalid --request'],
  ] as const)('refuse %#: one usage line', (parse, args, message) => {
    expect(() => parse(...args)).toThrow(UsageError);
    expect(() => parse(...args)).toThrow(message);
  });
});
