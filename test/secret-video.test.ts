/**
 * Video by name with a shared secret: `send --serve` and `recv --request` / `--list` run the same
 * exchange inside TLS; a client or a server with a different or no secret is refused in the
 * handshake, before a name is read or a frame sent, with a line on both sides. Real processes,
 * real ffmpeg, loopback.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG, runFfmpeg } from './helpers/ffmpeg.js';
import { stopAll, vstream, type TestProcess } from './helpers/process.js';

const SECRET = 'video-test-secret-0123456789abcdefghij';
const OTHER = 'another-video-secret-0123456789abcdef';
const FRAMES = 10;

let work: string;
let videos: string;
let secretFile: string;
let otherFile: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vstream-secret-video-'));
  videos = join(work, 'videos');
  await mkdir(videos);
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-frames:v', String(FRAMES), '-y', join(videos, 'traffic.avi')]);
  secretFile = join(work, 'secret');
  otherFile = join(work, 'other');
  await writeFile(secretFile, `${SECRET}\n`);
  await writeFile(otherFile, `${OTHER}\n`);
  await chmod(secretFile, 0o600);
  await chmod(otherFile, 0o600);
});

afterEach(() => stopAll());
afterAll(() => rm(work, { recursive: true, force: true }));

function run(args: string[]): TestProcess {
  return vstream(args, { env: { VSTREAM_FFMPEG: FFMPEG, VSTREAM_DEBUG: '', VSTREAM_SECRET: '' }, cwd: work });
}

async function startServe(extra: string[]): Promise<{ server: TestProcess; port: number }> {
  const server = run(['send', '--serve', videos, '--listen', '0', '--fps', 'max', ...extra]);
  const [, port] = await server.waitForLine(/serving the videos of .* on (?:port |\S*:)(\d+)/, 'stderr');
  return { server, port: Number(port) };
}

async function exitCode(proc: TestProcess, expected: number): Promise<void> {
  const code = await proc.exitCode;
  if (code !== expected) throw proc.describeFailure(`expected exit code ${expected}, got ${code}`);
}

async function jpegsIn(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).filter((name) => name.endsWith('.jpg'));
}

describe('send --serve with a secret', () => {
  it('plays a video to recv --request with the same secret, and lists its videos to --list (IPv4 and IPv6)', async () => {
    const { server, port } = await startServe(['--secret-file', secretFile]);
    expect(server.stderr()).toMatch(/on port \d+ \(IPv4 and IPv6\) \(TLS, shared secret\)/);
    const out = join(work, 'same-secret');
    const recv = run(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out, '--secret-file', secretFile]);
    await exitCode(recv, 0);
    expect(await jpegsIn(out)).toHaveLength(FRAMES);
    await server.waitForLine(/"traffic\.avi" ended after 10 frames \(end of video\)/, 'stderr');
    const list = run(['recv', '--connect', `[::1]:${port}`, '--list', '--secret-file', secretFile]);
    await exitCode(list, 0);
    expect(list.output('stdout')).toEqual(['traffic.avi']);
  });

  it('refuses a client with a different secret in the handshake: it exits 9, the server says who and goes on', async () => {
    const { server, port } = await startServe(['--secret-file', secretFile]);
    const out = join(work, 'wrong-secret');
    const wrong = run(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out, '--secret-file', otherFile]);
    await exitCode(wrong, 9);
    expect(wrong.stderr()).toMatch(/^vstream: TLS handshake with 127\.0\.0\.1:\d+ failed: the peer has a different secret\n$/);
    await server.waitForLine(/refused 127\.0\.0\.1:\d+: it has a different secret/, 'stderr');
    expect(await jpegsIn(out)).toEqual([]);
    // The server never read a name from it, and still plays to a good client.
    expect(server.stderr()).not.toMatch(/plays "traffic\.avi"/);
    const good = run(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--frames', '2', '--save-dir', join(work, 'after-wrong'), '--secret-file', secretFile]);
    await exitCode(good, 0);
  });

  it('refuses a client without a secret (a plain request, as the reference client sends it) without answering', async () => {
    const { server, port } = await startServe(['--secret-file', secretFile]);
    // The reference client's first bytes: the bare name. Whatever comes back is not `True`.
    const socket = connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('error', () => {});
    socket.write('traffic.avi');
    await new Promise((resolve) => socket.once('close', resolve));
    // Not `True`: the TLS alert that tells a vstream client why.
    expect(Buffer.concat(received).toString('hex')).toBe('15030300020228');
    await server.waitForLine(/refused 127\.0\.0\.1:\d+: sent no TLS handshake/, 'stderr');
    expect(server.stderr()).not.toMatch(/plays "traffic\.avi"/);
  });

  it('tells recv --request and --list without a secret why they are refused: exit 9', async () => {
    const { port } = await startServe(['--secret-file', secretFile]);
    const out = join(work, 'plain-client');
    const plain = run(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out]);
    await exitCode(plain, 9);
    expect(plain.stderr()).toMatch(/^vstream: 127\.0\.0\.1:\d+ refused this client \(a TLS alert\): it has a shared secret and this client none \(give both the same --secret-file\)\n$/);
    expect(await jpegsIn(out)).toEqual([]);
    const list = run(['recv', '--connect', `127.0.0.1:${port}`, '--list']);
    await exitCode(list, 9);
    expect(list.output('stdout')).toEqual([]);
    expect(list.stderr()).toMatch(/refused this client \(a TLS alert\)/);
  });

  it('a secret client against a server without one exits 9 and gets no frame', async () => {
    const { server, port } = await startServe([]);
    const out = join(work, 'no-secret-server');
    const recv = run(['recv', '--connect', `127.0.0.1:${port}`, '--request', 'traffic.avi', '--no-window', '--save-dir', out, '--secret-file', secretFile]);
    await exitCode(recv, 9);
    expect(recv.stderr()).toMatch(/^vstream: TLS handshake with 127\.0\.0\.1:\d+ failed: the peer has no secret \(or does not speak TLS\)\n$/);
    expect(await jpegsIn(out)).toEqual([]);
    server.kill('SIGINT');
    await exitCode(server, 130);
  });

  it('says once that its videos are open to the network when it listens beyond loopback without a secret', async () => {
    const { server } = await startServe([]);
    await server.waitForLine(/note: no --secret-file: anyone who can reach this port can watch or inject streams/, 'stderr');
    const { server: bound, port } = await startServe(['--bind', '127.0.0.1']);
    // Its first client has been served after anything it says at the start.
    await exitCode(run(['recv', '--connect', `127.0.0.1:${port}`, '--list']), 0);
    expect(bound.stderr()).not.toMatch(/no --secret-file/);
  });
});
