/**
 * The other dialects of the reference UDP programs, against the real CLI (`node bin/vstream.js`,
 * i.e. the compiled dist/): clients that send each image as one datagram, PNGs cut into
 * 1024-byte pieces after a binary or an ASCII length, JSON messages, a stray datagram; and a
 * server that `cv2.imdecode`s every datagram, fed by `send --udp --legacy whole`. The Python
 * programs below are written the way the tutorials write them (blocking sockets,
 * `recvfrom(1024)`), plus a timeout so that a test cannot hang; they run over 127.0.0.1 and [::1].
 *
 * Needs Debian's python3-opencv, importable by /usr/bin/python3 only; skipped, with a message,
 * when `import cv2` fails there.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Command } from 'commander';
import { recvSchema, recvSettings } from '../src/cli/commands/recv.js';
import { sendSchema, sendSettings } from '../src/cli/commands/send.js';
import { addOptions, type OptionSchema } from '../src/options/schema.js';
import { JsonLinesSink, MAX_PENDING_MESSAGE_BYTES, messageRecord } from '../src/sink/json-lines.js';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { startProcess, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON } from './helpers/python.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
if (!HAVE_CV2) console.warn(`udp-dialects.test.ts: SKIPPED: ${CV2_SKIP_REASON}`);

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const socket = createSocket('udp6');
  socket.once('error', () => resolve(false));
  socket.bind(0, '::1', () => socket.close(() => resolve(true)));
});
if (!hasIpv6) console.warn('udp-dialects.test.ts: no IPv6 loopback (::1) here: the [::1] cases are skipped');

interface Family {
  name: string;
  /** As the Python programs take it. */
  host: string;
  /** As `vstream send --to` and vstream's peer names write it. */
  inUrl: string;
}
const FAMILIES: Family[] = ([
  { name: 'IPv4', host: '127.0.0.1', inUrl: '127.0.0.1' },
  { name: 'IPv6', host: '::1', inUrl: '[::1]' },
] satisfies Family[]).filter((f) => f.name === 'IPv4' || hasIpv6);

/** Shared by the clients: a colour gradient with its number on it, distinct per index. */
const IMAGE_PY = `
import numpy as np
import cv2

def make_image(i, width=160, height=120):
    frame = np.zeros((height, width, 3), np.uint8)
    frame[:, :, 0] = np.linspace(0, 255, width, dtype=np.uint8)[None, :]
    frame[:, :, 1] = (60 * i) % 256
    frame[:, :, 2] = np.linspace(0, 255, height, dtype=np.uint8)[:, None]
    cv2.putText(frame, str(i), (50, 80), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 3)
    return frame
`;

const PROGRAMS: Record<string, string> = {
  // usage: whole_client.py HOST PORT EXT... ; prints "sent INDEX EXT BYTES SHA256 REPLY" per image
  'whole_client.py': `
import hashlib, socket, sys
import cv2
from image import make_image

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
for i, ext in enumerate(sys.argv[3:]):
    encoded, buffer = cv2.imencode(ext, make_image(i))
    data = buffer.tobytes()
    sock.sendto(data, (host, port))
    reply, addr = sock.recvfrom(1024)
    print('sent', i, ext, len(data), hashlib.sha256(data).hexdigest(), reply.decode(), flush=True)
sock.close()
`,
  // usage: chunked_client.py HOST PORT binary|ascii EXT... ; the length, 1024-byte pieces, the reply
  'chunked_client.py': `
import hashlib, socket, struct, sys
import cv2
from image import make_image

host, port, length = sys.argv[1], int(sys.argv[2]), sys.argv[3]
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
addr = (host, port)
for i, ext in enumerate(sys.argv[4:]):
    data = cv2.imencode(ext, make_image(i))[1].tobytes()
    if length == 'ascii':
        sock.sendto(str(len(data)).encode(), addr)
    else:
        sock.sendto(struct.pack('l', len(data)), addr)
    for k in range(0, len(data), 1024):
        sock.sendto(data[k:k + 1024], addr)
    reply, _ = sock.recvfrom(1024)
    print('sent', i, ext, len(data), hashlib.sha256(data).hexdigest(), reply.decode(), flush=True)
sock.close()
`,
  // usage: json_client.py HOST PORT COUNT ; COUNT messages, each answered, then one JPEG
  'json_client.py': `
import json, socket, sys
import cv2
from image import make_image

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
addr = (host, port)
for i in range(count):
    message = {'frame': i, 'objects': [{'label': 'person', 'box': [10, 20, 30 + i, 40]}], 'note': 'caf\\u00e9'}
    data = json.dumps(message).encode()
    sock.sendto(data, addr)
    reply, _ = sock.recvfrom(1024)
    print('reply', len(data), reply.decode(), flush=True)
sock.sendto(cv2.imencode('.jpg', make_image(0))[1].tobytes(), addr)
reply, _ = sock.recvfrom(1024)
print('image reply', reply.decode(), flush=True)
sock.close()
`,
  // usage: stray_client.py HOST PORT ; a datagram that is nothing, then a JPEG; the reply to each
  'stray_client.py': `
import socket, sys
import cv2
from image import make_image

host, port = sys.argv[1], int(sys.argv[2])
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
sock.sendto(b'hello?', (host, port))
reply, _ = sock.recvfrom(1024)
print('stray reply', reply.decode(), flush=True)
sock.sendto(cv2.imencode('.jpg', make_image(1))[1].tobytes(), (host, port))
reply, _ = sock.recvfrom(1024)
print('image reply', reply.decode(), flush=True)
sock.close()
`,
  // usage: decode_server.py HOST COUNT [silent] ; imdecode every datagram, reply OK (not if silent), COUNT times
  'decode_server.py': `
import json, socket, sys
import numpy as np
import cv2

host, count = sys.argv[1], int(sys.argv[2])
silent = len(sys.argv) > 3 and sys.argv[3] == 'silent'
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_DGRAM)
sock.settimeout(10)
sock.bind((host, 0))
print('listening', sock.getsockname()[1], flush=True)
decoded = failed = 0
for i in range(count):
    data, addr = sock.recvfrom(65536)
    frame = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if frame is None:
        failed += 1
        print('failed', i, len(data), flush=True)
    else:
        decoded += 1
        print('decoded', i, frame.shape[1], frame.shape[0], len(data), flush=True)
    if not silent:
        sock.sendto(b'OK', addr)
print(json.dumps({'decoded': decoded, 'failed': failed}), flush=True)
`,
};

let programs: string;
const dirs: string[] = [];

beforeAll(async () => {
  programs = await mkdtemp(join(tmpdir(), 'vstream-dialects-py-'));
  await writeFile(join(programs, 'image.py'), IMAGE_PY);
  for (const [name, text] of Object.entries(PROGRAMS)) await writeFile(join(programs, name), text);
});

afterEach(async () => {
  await stopAll();
  while (dirs.length) await rm(dirs.pop()!, { recursive: true, force: true });
});

afterAll(async () => {
  if (programs) await rm(programs, { recursive: true, force: true });
});

function python(name: string, args: string[]): TestProcess {
  return startProcess(name, PYTHON, ['-u', join(programs, name), ...args], { cwd: programs });
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vstream-dialects-'));
  dirs.push(dir);
  return dir;
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function expectExit(proc: TestProcess, code: number): Promise<void> {
  const exit = await proc.exited;
  if (exit.code !== code) throw proc.describeFailure(`exit ${JSON.stringify(exit)}, expected ${code}`);
}

function expectCleanStderr(proc: TestProcess): void {
  expect(proc.output('stderr').filter((l) => /^\s+at |internal error|Traceback/.test(l)), `${proc.name} stderr`).toEqual([]);
}

/** `recv --udp --legacy` on a free port, once it listens. */
async function legacyRecv(args: string[]): Promise<{ recv: TestProcess; port: number }> {
  const recv = vstream(['recv', '--udp', '--legacy', '--listen', '0', '--no-window', ...args], { cwd: ROOT });
  const [, port] = await recv.waitForLine(/^vstream: listening on port (\d+) \(UDP, legacy format, IPv4 and IPv6\)$/, { stream: 'stderr' });
  return { recv, port: Number(port) };
}

interface Sent {
  index: number;
  ext: string;
  bytes: number;
  sha256: string;
  reply: string;
}

function sentLines(client: TestProcess): Sent[] {
  return client
    .output('stdout')
    .filter((l) => l.startsWith('sent '))
    .map((l) => {
      const [, index, ext, bytes, digest, reply] = l.split(' ');
      return { index: Number(index), ext: ext!, bytes: Number(bytes), sha256: digest!, reply: reply! };
    });
}

function jsonLines(proc: TestProcess): Record<string, unknown>[] {
  return proc
    .output('stdout')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The files of a --save-dir folder, in name order, with their bytes' digests. */
async function saved(dir: string): Promise<{ name: string; sha256: string }[]> {
  const names = (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
  return Promise.all(names.map(async (name) => ({ name, sha256: sha256(await readFile(join(dir, name))) })));
}

const numbered = (i: number, ext: string) => `${String(i).padStart(6, '0')}${ext === '.png' ? '.png' : '.jpg'}`;

describe.skipIf(!HAVE_CV2)('the reference UDP dialects', () => {
  describe.each(FAMILIES)('over $name', (family) => {
    it('a client sending whole JPEGs and PNGs as single datagrams -> recv --udp --legacy --save-dir: saved byte for byte as .jpg/.png, a reply after each', async () => {
      const exts = ['.jpg', '.png', '.jpg', '.png'];
      const dir = await tempDir();
      const { recv, port } = await legacyRecv(['--save-dir', dir, '--json', '--frames', String(exts.length)]);
      const client = python('whole_client.py', [family.host, String(port), ...exts]);
      await expectExit(client, 0);
      await expectExit(recv, 0);
      const sent = sentLines(client);
      expect(sent.map((s) => [s.ext, s.reply])).toEqual(exts.map((ext) => [ext, 'OK']));
      expect(sent.every((s) => s.bytes <= 65_507)).toBe(true);
      expect(await saved(dir)).toEqual(sent.map((s) => ({ name: numbered(s.index, s.ext), sha256: s.sha256 })));
      expect(jsonLines(recv).map((r) => [r.seq, r.width, r.height, r.bytes, r.framesReceived, r.framesDropped])).toEqual(
        sent.map((s) => [s.index, 160, 120, s.bytes, s.index + 1, 0]),
      );
      await recv.waitForLine(new RegExp(`^vstream: received ${exts.length} frames .* from 1 sender, 0 dropped; UDP loss: 0 frames dropped, 0 datagrams lost$`), {
        stream: 'stderr',
      });
      expectCleanStderr(recv);
    });

    it.each(['binary', 'ascii'])('PNGs (and a JPEG) cut into 1024-byte pieces after a %s length -> saved byte for byte', async (length) => {
      const exts = ['.png', '.jpg', '.png'];
      const dir = await tempDir();
      const { recv, port } = await legacyRecv(['--save-dir', dir, '--frames', String(exts.length)]);
      const client = python('chunked_client.py', [family.host, String(port), length, ...exts]);
      await expectExit(client, 0);
      await expectExit(recv, 0);
      const sent = sentLines(client);
      expect(sent.map((s) => s.reply)).toEqual(exts.map(() => 'OK'));
      expect(sent.filter((s) => s.ext === '.png').every((s) => s.bytes > 1024), 'several pieces per PNG').toBe(true);
      expect(await saved(dir)).toEqual(sent.map((s) => ({ name: numbered(s.index, s.ext), sha256: s.sha256 })));
      await recv.waitForLine(/^vstream: received 3 frames .* 0 dropped; UDP loss: 0 frames dropped, 0 datagrams lost$/, { stream: 'stderr' });
      expectCleanStderr(recv);
    });

    it('JSON datagrams -> recv --json prints each as a message line and replies; they are no frames for --save-dir or the counts', async () => {
      const N = 3;
      const dir = await tempDir();
      const output = join(await tempDir(), 'out.mjpeg');
      const { recv, port } = await legacyRecv(['--json', '--save-dir', dir, '--output', output, '--frames', '1']);
      const client = python('json_client.py', [family.host, String(port), String(N)]);
      await expectExit(client, 0);
      await expectExit(recv, 0);
      const replies = client.output('stdout');
      expect(replies.map((l) => l.replace(/^reply \d+ /, 'reply '))).toEqual([...Array(N).fill('reply OK'), 'image reply OK']);
      const lines = recv.output('stdout').filter((l) => l.startsWith('{'));
      expect(lines).toHaveLength(N + 1);
      const messages = lines.slice(0, N).map((l) => JSON.parse(l) as Record<string, unknown>);
      const peer = messages[0]!.peer as string;
      expect(peer).toMatch(new RegExp(`^${family.inUrl.replace(/[[\]]/g, '\\$&')}:\\d+$`));
      for (const [i, line] of lines.slice(0, N).entries()) {
        expect(line.startsWith('{"message":'), line).toBe(true);
        const message = { frame: i, objects: [{ label: 'person', box: [10, 20, 30 + i, 40] }], note: 'café' };
        expect(JSON.parse(line)).toEqual({ message, sender: peer, peer, bytes: Number(replies[i]!.split(' ')[1]), receivedAt: expect.any(Number) });
      }
      // The frame line after them is unchanged: a frame record, not a message.
      expect(JSON.parse(lines[N]!)).toMatchObject({ sender: peer, peer, seq: 0, width: 160, height: 120, framesReceived: 1, framesDropped: 0 });
      expect(await readdir(dir)).toEqual(['000000.jpg']);
      // --output holds that one JPEG and nothing of the messages.
      expect((await readFile(output)).equals(await readFile(join(dir, '000000.jpg')))).toBe(true);
      await recv.waitForLine(/^vstream: received 1 frames .* from 1 sender, 0 dropped; UDP loss: 0 frames dropped, 0 datagrams lost$/, { stream: 'stderr' });
      expect(recv.output('stderr')).toContain(`vstream: ${N} messages received (JSON datagrams, not frames)`);
      expectCleanStderr(recv);
    });

    it('a stray datagram that is neither a length, an image nor JSON: replied to after the silence, dropped with its reason, counted', async () => {
      const dir = await tempDir();
      const { recv, port } = await legacyRecv(['--save-dir', dir, '--frames', '1', '--max-age', '200']);
      const client = python('stray_client.py', [family.host, String(port)]);
      await expectExit(client, 0);
      await expectExit(recv, 0);
      expect(client.output('stdout')).toEqual(['stray reply OK', 'image reply OK']);
      expect(await readdir(dir)).toEqual(['000000.jpg']);
      const stderr = recv.output('stderr');
      expect(stderr).toContainEqual(
        expect.stringMatching(
          /^vstream: legacy UDP sender \S+: 1 datagram \(6 bytes\) dropped: neither a length \(digits or a 4- or 8-byte long\), a whole JPEG or PNG, nor JSON, and no length datagram before it \(ERR_LEGACY_NO_LENGTH\)$/,
        ),
      );
      expect(stderr).toContainEqual(expect.stringMatching(/^vstream: received 1 frames .* from 1 sender, .*; UDP loss: 1 frames dropped, 1 datagrams lost$/));
      expect(stderr).toContain('vstream: problems caused by peers: 1 ERR_LEGACY_NO_LENGTH');
      expectCleanStderr(recv);
    });

    it('send --udp --legacy whole --dir (small JPEGs and PNGs, one too large) -> a server that imdecodes every datagram decodes every one; the large one is skipped with one line and counted', async () => {
      const folder = await tempDir();
      const images: [string, Buffer][] = [
        ['1.jpg', await makeJpeg({ width: 64, height: 48 })],
        ['2.png', await makePng({ width: 40, height: 30, noise: false, color: '#20a040' })],
        ['3.jpg', await makeJpeg({ width: 1200, height: 900, quality: 95 })],
        ['4.png', await makePng({ width: 48, height: 64, noise: false, color: '#c04020' })],
        ['5.jpg', await makeJpeg({ width: 32, height: 24 })],
      ];
      expect(images[2]![1].length).toBeGreaterThan(65_527);
      for (const [name, data] of images) await writeFile(join(folder, name), data);
      const fitting = images.filter(([name]) => name !== '3.jpg');
      const server = python('decode_server.py', [family.host, String(fitting.length)]);
      const [, port] = await server.waitForLine(/^listening (\d+)$/, { stream: 'stdout' });
      const to = `${family.inUrl}:${port}`;
      const send = vstream(['send', '--udp', '--legacy', 'whole', '--dir', folder, '--to', to], { cwd: ROOT });
      await expectExit(send, 0);
      await expectExit(server, 0);
      const decoded = server.output('stdout').filter((l) => l.startsWith('decoded '));
      // The folder source sends JPEGs and PNGs as they are.
      expect(decoded.map((l) => l.split(' ').slice(2, 4).map(Number))).toEqual([
        [64, 48],
        [40, 30],
        [48, 64],
        [32, 24],
      ]);
      expect(server.output('stdout').at(-1)).toBe('{"decoded": 4, "failed": 0}');
      const warnings = send.output('stderr').filter((l) => l.includes('does not fit one UDP datagram'));
      expect(warnings).toEqual([expect.stringMatching(/^vstream: image "3\.jpg" of \d+ bytes does not fit one UDP datagram \(at most 655(07|27) bytes to .*\): use --legacy chunked, or a smaller --size or --quality; skipped/)]);
      await send.waitForLine(new RegExp(`^vstream: sent 4 frames .* to ${to.replace(/[[\]]/g, '\\$&')} over UDP, 0 dropped; 1 skipped \\(too large for one datagram\\)$`), {
        stream: 'stderr',
      });
      expectCleanStderr(send);
    });
  });

  it.each(FAMILIES)('send --udp --legacy whole -> a server that decodes every datagram and never replies: one line, then the images go without waiting ($name)', async (family) => {
    const folder = await tempDir();
    for (let i = 1; i <= 4; i += 1) await writeFile(join(folder, `${i}.jpg`), await makeJpeg({ width: 32 + 8 * i, height: 24 }));
    const server = python('decode_server.py', [family.host, '4', 'silent']);
    const [, port] = await server.waitForLine(/^listening (\d+)$/, { stream: 'stdout' });
    const to = `${family.inUrl}:${port}`;
    const send = vstream(['send', '--udp', '--legacy', 'whole', '--dir', folder, '--to', to], { cwd: ROOT });
    await expectExit(send, 0);
    await expectExit(server, 0);
    expect(server.output('stdout').at(-1)).toBe('{"decoded": 4, "failed": 0}');
    expect(send.output('stderr').filter((l) => l.includes('without waiting for replies'))).toEqual([
      expect.stringMatching(/^vstream: no reply from .* within 2000 ms .*; sending the next images without waiting for replies$/),
    ]);
    expect(send.stderr()).toMatch(/sent 4 frames .* over UDP, 0 dropped/);
  });

  it('send --legacy takes chunked or whole, nothing else; --packet-size does not go with whole', async () => {
    const bad = vstream(['send', '--udp', '--legacy', 'halves', '--pattern', '--frames', '1', '--to', '127.0.0.1:9']);
    expect(await bad.exitCode).toBe(2);
    expect(bad.output('stderr')).toContain('vstream: --legacy takes chunked (the default) or whole, got "halves"');
    const sized = vstream(['send', '--udp', '--legacy', 'whole', '--packet-size', '1400', '--pattern', '--frames', '1', '--to', '127.0.0.1:9']);
    expect(await sized.exitCode).toBe(2);
    expect(sized.output('stderr')).toContain('vstream: --packet-size does not apply to --legacy whole, which sends each image as one datagram');
  });
});

describe('JsonLinesSink messages', () => {
  const message = { message: { a: [1, 'x'] }, sender: 'cam', peer: '127.0.0.1:5000', bytes: 14, receivedAt: 1700000000000.1234 };

  it('prints a message as one line, `message` first', async () => {
    const out = new PassThrough();
    const sink = new JsonLinesSink(out);
    sink.message(message);
    await sink.close();
    expect(out.read()!.toString()).toBe('{"message":{"a":[1,"x"]},"sender":"cam","peer":"127.0.0.1:5000","bytes":14,"receivedAt":1700000000000.123}\n');
  });

  it('leaves messages out, counted, while the reader is more than 4 MiB behind: they come with no backpressure', () => {
    // A reader that never takes anything: every line stays buffered in the stream.
    const stuck = new Writable({ highWaterMark: 1, write: () => {} });
    const sink = new JsonLinesSink(stuck);
    const big = { ...message, message: 'x'.repeat(64 * 1024) };
    const lineBytes = Buffer.byteLength(JSON.stringify(messageRecord(big))) + 1;
    // A line is written while at most the limit waits: the one that crosses it is the last.
    const written = Math.floor(MAX_PENDING_MESSAGE_BYTES / lineBytes) + 1;
    for (let i = 0; i < written + 10; i++) sink.message(big);
    expect(stuck.writableLength).toBe(written * lineBytes);
    expect(sink.messagesSkipped).toBe(10);
  });
});

describe('--legacy [format]', () => {
  function raw(schema: OptionSchema, args: string[]): Record<string, string | boolean | undefined> {
    return addOptions(new Command('test').exitOverride().configureOutput({ writeErr: () => {} }), schema).parse(args, { from: 'user' }).opts();
  }
  const send = (...args: string[]) => sendSettings(raw(sendSchema, args));
  const recv = (...args: string[]) => recvSettings(raw(recvSchema, args));

  it('is chunked bare or named, whole when asked, on both commands; the legacy transport either way', () => {
    expect([send('--udp', '--legacy'), send('--udp', '--legacy', 'chunked'), send('--udp', '--legacy', 'whole')].map((s) => [s.transport, s.legacy])).toEqual([
      ['udp-legacy', 'chunked'],
      ['udp-legacy', 'chunked'],
      ['udp-legacy', 'whole'],
    ]);
    expect(send('--udp', '--legacy', '--pattern').transport).toBe('udp-legacy');
    expect(recv('--udp', '--legacy', 'whole').transport).toBe('udp-legacy');
    expect(send('--udp').transport).toBe('udp');
  });

  it('refuses any other value, and needs --udp', () => {
    expect(() => send('--udp', '--legacy', 'halves')).toThrow('--legacy takes chunked (the default) or whole, got "halves"');
    expect(() => send('--legacy', 'whole')).toThrow('--legacy needs --udp');
  });
});
