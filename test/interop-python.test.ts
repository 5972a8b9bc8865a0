/**
 * Interop with peers written the way the Python/OpenCV tutorials write them (see
 * test/fixtures/python/): `str(len).ljust(16)` + JPEG clients, a `recvall` + `cv2.imdecode`
 * server, a C++-style peer that sends one byte per send() and waits for an ack, and broken
 * peers. Runs the real CLI (`node bin/vstream.js`, i.e. the compiled dist/) against them over
 * 127.0.0.1 and [::1].
 *
 * Needs Debian's python3-opencv, importable by /usr/bin/python3 only; the whole file is skipped,
 * with a message, when `import cv2` fails there.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FFMPEG } from './helpers/ffmpeg.js';
import { startProcess, stopAll, VSTREAM_BIN, type TestProcess } from './helpers/process.js';
import type { FrameRecord } from '../src/sink/json-lines.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON, PYTHON_FIXTURES } from './helpers/python.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = PYTHON_FIXTURES;
const hasCv2 = HAVE_CV2;
const skipReason = CV2_SKIP_REASON;
if (!hasCv2) console.warn(`interop-python.test.ts: SKIPPED: ${skipReason}`);

/** Whether this host has an IPv6 loopback; without one the [::1] cases are skipped. */
const hasIpv6 = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
});
if (hasCv2 && !hasIpv6) console.warn('interop-python.test.ts: no IPv6 loopback (::1) here: the [::1] cases are skipped');

interface Family {
  name: string;
  /** As Python's getaddrinfo and `vstream recv` logs want it. */
  host: string;
  /** As `vstream send --to` wants it. */
  hostInUrl: string;
}
const FAMILIES: Family[] = [
  { name: 'IPv4', host: '127.0.0.1', hostInUrl: '127.0.0.1' },
  { name: 'IPv6', host: '::1', hostInUrl: '[::1]' },
];
const familyCases = FAMILIES.filter((f) => f.name === 'IPv4' || hasIpv6);

/** How vstream names a peer: `host:port`, IPv6 in brackets (src/transport/address.ts). */
function peerName(family: Family, port: number): string {
  return `${family.hostInUrl}:${port}`;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function vstream(args: string[], name = `vstream ${args[0]}`): TestProcess {
  // The same ffmpeg as the other end-to-end tests; no VSTREAM_DEBUG, since the tests check
  // that errors are one line without a stack.
  const env: NodeJS.ProcessEnv = { ...process.env, VSTREAM_FFMPEG: FFMPEG };
  delete env.VSTREAM_DEBUG;
  return startProcess(name, process.execPath, [VSTREAM_BIN, ...args], { cwd: ROOT, env });
}

function python(script: string, args: string[]): TestProcess {
  return startProcess(script, PYTHON, ['-u', join(FIXTURES, script), ...args], { cwd: ROOT });
}

/** `vstream recv --listen 0 --no-window ...args`, once it says which port it got. */
async function startRecv(args: string[]): Promise<{ recv: TestProcess; port: number }> {
  const recv = vstream(['recv', '--listen', '0', '--no-window', ...args]);
  const [, port] = await recv.waitForLine(/^vstream: listening on port (\d+)\b/, { stream: 'stderr' });
  return { recv, port: Number(port) };
}

/** `server_recvall.py HOST ...args`, once it prints its port. */
async function startPythonServer(family: Family, args: string[] = []): Promise<{ server: TestProcess; port: number }> {
  const server = python('server_recvall.py', [family.host, ...args]);
  const [, port] = await server.waitForLine(/^listening (\d+)$/, { stream: 'stdout' });
  return { server, port: Number(port) };
}

async function expectExit(proc: TestProcess, code: number): Promise<void> {
  const info = await proc.exited;
  if (info.code !== code) throw proc.describeFailure(`expected exit code ${code}, got ${info.signal ?? info.code}`);
}

/** `connected LOCALPORT`, printed by every Python client. */
async function clientPort(client: TestProcess): Promise<number> {
  const [, port] = await client.waitForLine(/^connected (\d+)$/, { stream: 'stdout' });
  return Number(port);
}

interface SentImage {
  index: number;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  /** client_ljust.py only: the solid colour drawn. */
  bgr?: [number, number, number];
}

/** The `sent ...` lines of client_ljust.py / client_bytewise.py. */
function sentImages(client: TestProcess): SentImage[] {
  return client
    .output('stdout')
    .filter((line) => line.startsWith('sent '))
    .map((line) => {
      const f = line.split(' ');
      return {
        index: Number(f[1]),
        width: Number(f[2]),
        height: Number(f[3]),
        bytes: Number(f[4]),
        sha256: f[5]!,
        ...(f.length >= 9 && { bgr: [Number(f[6]), Number(f[7]), Number(f[8])] as [number, number, number] }),
      };
    });
}

interface DecodedImage {
  index: number;
  width: number | null;
  height: number | null;
  meanBgr: [number, number, number] | null;
  bytes: number;
  early: number;
  meta: Record<string, unknown> | null;
}

/** The per-image lines of server_recvall.py, and its final JSON line. */
function serverReport(server: TestProcess): { images: DecodedImage[]; summary: { images: number; failed: number; eof: boolean } } {
  const out = server.output('stdout');
  const images = out
    .filter((line) => /^\d+ /.test(line))
    .map((line) => {
      const f = line.split(' ');
      const meta = f.slice(8).join(' ');
      return {
        index: Number(f[0]),
        width: f[1] === 'None' ? null : Number(f[1]),
        height: f[2] === 'None' ? null : Number(f[2]),
        meanBgr: f[3] === '-' ? null : ([Number(f[3]), Number(f[4]), Number(f[5])] as [number, number, number]),
        bytes: Number(f[6]),
        early: Number(f[7]),
        meta: meta === '-' ? null : (JSON.parse(meta) as Record<string, unknown>),
      };
    });
  const last = out.filter((line) => line.startsWith('{')).pop();
  if (!last) throw server.describeFailure('no final JSON line');
  return { images, summary: JSON.parse(last) as { images: number; failed: number; eof: boolean } };
}

function jsonRecords(recv: TestProcess): FrameRecord[] {
  return recv
    .output('stdout')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as FrameRecord);
}

/** recv's exit summary: `vstream: received N frames (...) from S sender(s), D dropped`. */
function recvSummary(recv: TestProcess): { frames: number; senders: number; dropped: number } {
  const line = recv.output('stderr').find((l) => /^vstream: received \d+ frames /.test(l));
  if (!line) throw recv.describeFailure('no exit summary line');
  const m = /^vstream: received (\d+) frames \(.*\) from (\d+) senders?, (\d+) dropped$/.exec(line);
  if (!m) throw recv.describeFailure(`unexpected summary line: ${line}`);
  return { frames: Number(m[1]), senders: Number(m[2]), dropped: Number(m[3]) };
}

/** No stack trace or internal error anywhere on a vstream's stderr. */
function expectCleanStderr(proc: TestProcess): void {
  const bad = proc.output('stderr').filter((l) => /^\s+at |internal error|Traceback/.test(l));
  expect(bad, `${proc.name} stderr`).toEqual([]);
}

/** Saved JPEGs of a --save-dir folder (top level), sorted by name. */
async function savedFiles(dir: string): Promise<{ name: string; data: Buffer }[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.jpg')).sort();
  return Promise.all(names.map(async (name) => ({ name, data: await readFile(join(dir, name)) })));
}

const tempDirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vstream-interop-'));
  tempDirs.push(dir);
  return dir;
}

describe.skipIf(!hasCv2)(`interop with Python + OpenCV reference peers${hasCv2 ? '' : ` (skipped: ${skipReason})`}`, () => {
  beforeAll(() => {
    if (!existsSync(join(ROOT, 'dist', 'cli', 'index.js'))) {
      throw new Error('dist/ is missing: build first (`npm run build`, or `npm test` which builds)');
    }
  });

  afterEach(async () => {
    await stopAll();
    await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
  });

  describe.each(familyCases)('over $name', (family) => {
    it('(a) client_ljust.py -> vstream recv --save-dir --json --frames N: every image arrives intact', async () => {
      const N = 5;
      const dir = await tempDir();
      const { recv, port } = await startRecv(['--save-dir', dir, '--json', '--frames', String(N)]);
      const client = python('client_ljust.py', [family.host, String(port), String(N)]);
      const localPort = await clientPort(client);
      await expectExit(client, 0);
      await expectExit(recv, 0);

      const sent = sentImages(client);
      expect(sent).toHaveLength(N);
      const records = jsonRecords(recv);
      expect(records).toHaveLength(N);
      records.forEach((r, i) => {
        expect(r).toMatchObject({
          sender: peerName(family, localPort),
          peer: peerName(family, localPort),
          seq: i,
          bytes: sent[i]!.bytes,
          width: 320,
          height: 240,
          // A reference client sends no capture time.
          latencyMs: null,
        });
      });

      const files = await savedFiles(dir);
      expect(files.map((f) => f.name)).toEqual(sent.map((s) => `${String(s.index).padStart(6, '0')}.jpg`));
      for (const [i, file] of files.entries()) {
        // Byte-identical to what Python encoded ...
        expect(sha256(file.data), file.name).toBe(sent[i]!.sha256);
        // ... and it decodes to the colour Python drew.
        const { channels } = await sharp(file.data).stats();
        const meta = await sharp(file.data).metadata();
        expect([meta.width, meta.height]).toEqual([320, 240]);
        const [b, g, r] = sent[i]!.bgr!;
        expect(Math.abs(channels[0]!.mean - r), `${file.name} red`).toBeLessThan(6);
        expect(Math.abs(channels[1]!.mean - g), `${file.name} green`).toBeLessThan(6);
        expect(Math.abs(channels[2]!.mean - b), `${file.name} blue`).toBeLessThan(6);
      }

      expect(recvSummary(recv)).toEqual({ frames: N, senders: 1, dropped: 0 });
      expectCleanStderr(recv);
    });

    it.each([
      { title: 'the default 640x480 pattern', args: [] as string[], width: 640, height: 480, label: undefined as string | undefined },
      { title: '--size 320x240 --label cam1', args: ['--size', '320x240', '--label', 'cam1'], width: 320, height: 240, label: 'cam1' },
    ])('(b) vstream send --pattern --frames N ($title) -> server_recvall.py: cv2.imdecode reads every frame', async ({ args, width, height, label }) => {
      const N = 6;
      const { server, port } = await startPythonServer(family);
      const send = vstream(['send', '--pattern', '--frames', String(N), '--to', `${family.hostInUrl}:${port}`, ...args]);
      await expectExit(send, 0);
      await expectExit(server, 0);

      const { images, summary } = serverReport(server);
      // Exactly N frames, then a clean end of stream at a frame boundary.
      expect(summary).toEqual({ images: N, failed: 0, eof: true });
      expect(images).toHaveLength(N);
      for (const image of images) {
        expect([image.width, image.height], `image ${image.index}`).toEqual([width, height]);
        // The metadata segment is there (so the frames were not sent plain) and cv2 ignored it.
        expect(image.meta, `image ${image.index} metadata`).not.toBeNull();
        expect(image.meta!.seq).toEqual(expect.any(Number));
        expect(image.meta!.captureTime).toEqual(expect.any(Number));
        expect(image.meta!.label).toBe(label);
      }
      // Numbered by capture: increasing (gaps are frames the live source dropped).
      const seqs = images.map((i) => i.meta!.seq as number);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect(new Set(seqs).size).toBe(N);

      await send.waitForLine(new RegExp(`^vstream: sent ${N} frames .* to ${escapeRegExp(`${family.hostInUrl}:${port}`)}, \\d+ dropped$`), {
        stream: 'stderr',
      });
      expectCleanStderr(send);
    });

    it.each(['ljust', 'rjust', 'nul'])(
      '(c) client_bytewise.py --header %s (one byte per send, waits for acks) -> vstream recv --ack: byte-identical frames, every ack received',
      async (header) => {
        const N = 3;
        const dir = await tempDir();
        const sentDir = await tempDir();
        const { recv, port } = await startRecv(['--ack', '--save-dir', dir, '--json']);
        const client = python('client_bytewise.py', [family.host, String(port), String(N), '--header', header, '--out-dir', sentDir]);
        const localPort = await clientPort(client);
        // Exit 0 means an ack arrived after every image (the peer exits 2 otherwise).
        await expectExit(client, 0);
        const sent = sentImages(client);
        expect(sent).toHaveLength(N);
        expect(client.output('stdout').filter((l) => l.startsWith('sent ')).map((l) => l.split(' ').pop())).toEqual(Array(N).fill('OK'));

        await recv.waitForLines(/^\{/, N, { stream: 'stdout' });
        await recv.waitForLine(new RegExp(`^vstream: ${escapeRegExp(peerName(family, localPort))} disconnected after ${N} frames$`), {
          stream: 'stderr',
        });
        expect(recv.exitInfo, 'recv keeps running after the sender left').toBeUndefined();
        recv.kill('SIGINT');
        await expectExit(recv, 130);

        const records = jsonRecords(recv);
        expect(records.map((r) => [r.bytes, r.width, r.height])).toEqual(sent.map((s) => [s.bytes, 160, 120]));
        const files = await savedFiles(dir);
        const originals = await savedFiles(sentDir);
        expect(originals).toHaveLength(N);
        expect(files.map((f) => f.name)).toEqual(originals.map((f) => f.name));
        for (const [i, file] of files.entries()) {
          expect(file.data.equals(originals[i]!.data), `${file.name} byte-identical`).toBe(true);
          expect(sha256(file.data)).toBe(sent[i]!.sha256);
        }
        expect(recvSummary(recv)).toEqual({ frames: N, senders: 1, dropped: 0 });
        expectCleanStderr(recv);
      },
    );

    it('(d) vstream send --wait-ack -> server_recvall.py --ack: frames are paced by the acks and all arrive', async () => {
      const N = 5;
      // The server holds each ack for 0.3 s and counts bytes of the next frame that arrive
      // meanwhile: a stop-and-wait sender sends none before the ack.
      const { server, port } = await startPythonServer(family, ['--ack', '--ack-hold', '0.3']);
      const send = vstream(['send', '--pattern', '--fps', '30', '--frames', String(N), '--wait-ack', '--to', `${family.hostInUrl}:${port}`]);
      await expectExit(send, 0);
      await expectExit(server, 0);
      const { images, summary } = serverReport(server);
      expect(summary).toEqual({ images: N, failed: 0, eof: true });
      expect(images.map((i) => [i.width, i.height])).toEqual(Array(N).fill([640, 480]));
      expect(images.map((i) => i.early), 'bytes of the next frame sent before the ack').toEqual(Array(N).fill(0));
      await send.waitForLine(new RegExp(`^vstream: sent ${N} frames `), { stream: 'stderr' });
      expectCleanStderr(send);
    });

    it('(d) control: without --wait-ack the next frame does arrive before the ack', async () => {
      // Shows that the "early bytes" measurement of (d) can see a sender that does not wait.
      const N = 4;
      const { server, port } = await startPythonServer(family, ['--ack', '--ack-hold', '0.3']);
      const send = vstream(['send', '--pattern', '--fps', '30', '--frames', String(N), '--to', `${family.hostInUrl}:${port}`]);
      await expectExit(send, 0);
      await expectExit(server, 0);
      const { images, summary } = serverReport(server);
      expect(summary).toEqual({ images: N, failed: 0, eof: true });
      expect(images.slice(0, N - 1).some((i) => i.early > 0)).toBe(true);
    });

    it('(e) malformed peers are cut off with a one-line error naming them; a concurrent good peer and the receiver go on', async () => {
      const N = 5;
      const maxFrameBytes = 100_000;
      const { recv, port } = await startRecv(['--json', '--max-frame-bytes', String(maxFrameBytes)]);
      const good = python('client_ljust.py', [family.host, String(port), String(N), '--pause-after', '2']);
      const goodPort = await clientPort(good);
      await good.waitForLine(/^paused$/, { stream: 'stdout' });
      await recv.waitForLines(/^\{/, 2, { stream: 'stdout' });

      const broken = [
        { mode: 'letters', args: [], code: 'ERR_BAD_HEADER', text: /bad frame header "12ab {12}"/ },
        { mode: 'oversize', args: ['--length', String(maxFrameBytes + 1)], code: 'ERR_FRAME_TOO_LARGE', text: new RegExp(`${maxFrameBytes + 1} bytes, over the limit of ${maxFrameBytes}`) },
        { mode: 'http', args: [], code: 'ERR_BAD_HEADER', text: /bad frame header "GET \/ HTTP\/1\.1\\r\\n"/ },
      ];
      for (const { mode, args, code, text } of broken) {
        const bad = python('client_malformed.py', [family.host, String(port), mode, ...args]);
        const badPort = await clientPort(bad);
        // The peer saw its connection closed (it exits 3 if it stays open).
        await expectExit(bad, 0);
        expect(bad.output('stdout')).toContain('closed-by-peer');
        const [line] = await recv.waitForLine(
          new RegExp(`^vstream: ${escapeRegExp(peerName(family, badPort))}: .*connection closed after 0 frames \\(ERR_[A-Z_]+\\)$`),
          { stream: 'stderr' },
        );
        expect(line).toContain(`(${code})`);
        expect(line).toMatch(text);
      }

      // The good peer, connected all along, finishes its stream.
      expect(recv.exitInfo, 'recv still running').toBeUndefined();
      good.write('\n');
      await expectExit(good, 0);
      await recv.waitForLines(/^\{/, N, { stream: 'stdout' });
      await recv.waitForLine(new RegExp(`^vstream: ${escapeRegExp(peerName(family, goodPort))} disconnected after ${N} frames$`), {
        stream: 'stderr',
      });
      expect(recv.exitInfo, 'recv still running').toBeUndefined();

      const records = jsonRecords(recv);
      expect(records).toHaveLength(N);
      expect(new Set(records.map((r) => r.sender))).toEqual(new Set([peerName(family, goodPort)]));
      expect(records.map((r) => r.bytes)).toEqual(sentImages(good).map((s) => s.bytes));

      recv.kill('SIGINT');
      await expectExit(recv, 130);
      expect(recvSummary(recv)).toEqual({ frames: N, senders: 1, dropped: 0 });
      expectCleanStderr(recv);
    });
  });
});
