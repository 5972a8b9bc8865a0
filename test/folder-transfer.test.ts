/**
 * The folder transfer end to end, with real processes on loopback (IPv4 and IPv6): the
 * reference Python client and server, written here as the tutorials write them, against
 * `vstream recv --save-dir` and `vstream send --dir --protocol folder`, and vstream against
 * itself. Hostile peers are plain sockets from this process.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { PYTHON } from './helpers/python.js';
import { startProcess, startReceiver, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { openDir } from '../src/source/dir.js';
import { TcpFrameReceiver } from '../src/transport/tcp-receiver.js';
import type { ReceiverEvents } from '../src/transport/types.js';
import type { FrameRecord } from '../src/sink/json-lines.js';

/** The reference client, as the tutorials write it; it prints how many of its waits got a reply. */
const REFERENCE_CLIENT = `
import os, socket, sys
host, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fmt = 'jpg'
dirname = os.path.basename(folder)
names = sorted(os.listdir(folder))
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
waits = []
s.connect((host, port))
s.send(f"{fmt}|{dirname}".encode()); waits.append(s.recv(1024))
for i, name in enumerate(names):
    data = open(os.path.join(folder, name), 'rb').read()
    s.send(f"{len(data)}|{name}".encode()); waits.append(s.recv(1024))
    for off in range(0, len(data), 1024):
        s.send(data[off:off + 1024]); waits.append(s.recv(1024))
    s.send(b'continue' if i < len(names) - 1 else b'over')
s.close()
print('waited', len(waits), 'answered', len([w for w in waits if w]))
`;

/** The reference client with every message sent one byte per send(). */
const SPLIT_CLIENT = `
import os, socket, sys
host, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fmt = 'jpg'
dirname = os.path.basename(folder)
names = sorted(os.listdir(folder))
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
def send(message):
    for i in range(len(message)):
        s.send(message[i:i + 1])
waits = []
s.connect((host, port))
send(f"{fmt}|{dirname}".encode()); waits.append(s.recv(1024))
for i, name in enumerate(names):
    data = open(os.path.join(folder, name), 'rb').read()
    send(f"{len(data)}|{name}".encode()); waits.append(s.recv(1024))
    for off in range(0, len(data), 1024):
        send(data[off:off + 1024]); waits.append(s.recv(1024))
    send(b'continue' if i < len(names) - 1 else b'over')
s.close()
print('waited', len(waits), 'answered', len([w for w in waits if w]))
`;

/** A client that sends each file's header, bytes and flag in one send(), without waiting; it reads the replies at the end. */
const MERGING_CLIENT = `
import os, socket, sys
host, port, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fmt = 'jpg'
dirname = os.path.basename(folder)
names = sorted(os.listdir(folder))
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.connect((host, port))
s.send(f"{fmt}|{dirname}".encode()); s.recv(1024)
expected = 0
for i, name in enumerate(names):
    data = open(os.path.join(folder, name), 'rb').read()
    s.sendall(f"{len(data)}|{name}".encode() + data + (b'continue' if i < len(names) - 1 else b'over'))
    expected += 1 + (len(data) + 1023) // 1024
got = b''
while len(got) < 2 * expected:
    chunk = s.recv(1024)
    if not chunk:
        break
    got += chunk
s.close()
print('replies', len(got) // 2, 'expected', expected)
`;

/** The reference server, as the tutorials write it; it prints its port, then the source type it was told. */
const REFERENCE_SERVER = `
import os, socket, sys
host = sys.argv[1]
s = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
s.bind((host, 0))
s.listen(1)
print('port', s.getsockname()[1], flush=True)
conn, _ = s.accept()
fmt, dirname = conn.recv(1024).decode().split('|'); os.makedirs(dirname, exist_ok=True); conn.send(b'ok')
while True:
    size, name = conn.recv(1024).decode().split('|'); conn.send(b'ok')
    got = 0
    with open(os.path.join(dirname, name), 'wb') as f:
        while got < int(size):
            chunk = conn.recv(1024); f.write(chunk); got += len(chunk); conn.send(b'ok')
    if conn.recv(1024).decode() == 'over': break
print('done', fmt, flush=True)
`;

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
});
if (!hasIpv6) console.warn('folder-transfer.test.ts: no IPv6 loopback (::1) here: the [::1] cases are skipped');
const FAMILIES = [
  { name: 'IPv4', host: '127.0.0.1', inUrl: '127.0.0.1' },
  ...(hasIpv6 ? [{ name: 'IPv6', host: '::1', inUrl: '[::1]' }] : []),
];

let work: string;
let scripts: { client: string; split: string; merging: string; server: string };
/** The folder the tests send: 12 files, JPEG and PNG, one exactly 4 KiB, most over several pieces. */
let folder: string;
let files: Map<string, Buffer>;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vstream-folder-'));
  scripts = { client: join(work, 'client.py'), split: join(work, 'split.py'), merging: join(work, 'merging.py'), server: join(work, 'server.py') };
  await writeFile(scripts.client, REFERENCE_CLIENT);
  await writeFile(scripts.split, SPLIT_CLIENT);
  await writeFile(scripts.merging, MERGING_CLIENT);
  await writeFile(scripts.server, REFERENCE_SERVER);
  folder = join(work, 'holiday');
  await mkdir(folder);
  files = new Map();
  for (let i = 1; i <= 8; i++) files.set(`img${i}.jpg`, await makeJpeg({ width: 24 + 24 * i, height: 16 + 16 * i }));
  for (let i = 9; i <= 11; i++) files.set(`img${i}.png`, await makePng({ width: 16 * i, height: 12 * i }));
  // Padded after its end of image to 4 pieces exactly: still a JPEG, and the last piece is a full one.
  const small = await makeJpeg({ width: 16, height: 16, noise: false });
  files.set('img12.jpg', Buffer.concat([small, Buffer.alloc(4096 - small.length)]));
  for (const [name, data] of files) await writeFile(join(folder, name), data);
});

afterEach(() => stopAll());
afterAll(() => rm(work, { recursive: true, force: true }));

function sha(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function python(script: string, args: string[], cwd = work): TestProcess {
  return startProcess(script, PYTHON, ['-u', script, ...args], { cwd });
}

async function expectSaved(dir: string, expected: Map<string, Buffer>): Promise<void> {
  expect((await readdir(dir)).sort()).toEqual([...expected.keys()].sort());
  for (const [name, data] of expected) expect(sha(await readFile(join(dir, name))), name).toBe(sha(data));
}

function jsonRecords(recv: TestProcess): FrameRecord[] {
  return recv.output('stdout').map((line) => JSON.parse(line) as FrameRecord);
}

describe('reference client -> vstream recv --save-dir', () => {
  for (const family of FAMILIES) {
    it(`receives 12 files byte for byte into OUT/<dirname>/, one JSON line each (${family.name})`, async () => {
      const out = join(work, `out-ref-${family.name}`);
      const recv = await startReceiver(['--bind', family.host, '--save-dir', out, '--json', '--frames', '12']);
      const client = python(scripts.client, [family.host, String(recv.port), folder]);
      const [, waited, answered] = await client.waitForLine(/^waited (\d+) answered (\d+)/, 'stdout');
      expect(await client.exitCode).toBe(0);
      // The first message, 12 headers and every piece: 1 + 12 + sum of ceil(size / 1024).
      let pieces = 0;
      for (const data of files.values()) pieces += Math.ceil(data.length / 1024);
      expect(Number(waited)).toBe(1 + files.size + pieces);
      expect(answered).toBe(waited);
      // --frames: it exits once every sink has written all 12.
      expect(await recv.exitCode).toBe(0);
      await expectSaved(join(out, 'holiday'), files);
      const records = jsonRecords(recv);
      // The client sends in Python's sorted() order.
      const sorted = [...files].sort(([a], [b]) => (a < b ? -1 : 1));
      expect(records.map((r) => [r.name, r.bytes, r.sourceType, r.label])).toEqual(sorted.map(([name, data]) => [name, data.length, 'jpg', 'holiday']));
      expect(recv.stderr()).not.toMatch(/ERR_/);
    });
  }

  it('takes the client with its messages sent byte by byte, and one that merges header and data without waiting', async () => {
    const out = join(work, 'out-split-merge');
    const recv = await startReceiver(['--save-dir', out, '--json', '--frames', '24']);
    const split = python(scripts.split, ['127.0.0.1', String(recv.port), folder]);
    const [, waited, answered] = await split.waitForLine(/^waited (\d+) answered (\d+)/, 'stdout');
    expect(answered).toBe(waited);
    await recv.waitForLine(/disconnected after 12 frames/, 'stderr');

    const mergedFolder = join(work, 'merged');
    await mkdir(mergedFolder, { recursive: true });
    for (const [name, data] of files) await writeFile(join(mergedFolder, name), data);
    const merging = python(scripts.merging, [hasIpv6 ? '::1' : '127.0.0.1', String(recv.port), mergedFolder]);
    const [, replies, expected] = await merging.waitForLine(/^replies (\d+) expected (\d+)/, 'stdout');
    expect(replies).toBe(expected);
    expect(await recv.exitCode).toBe(0);
    await expectSaved(join(out, 'holiday'), files);
    await expectSaved(join(out, 'merged'), files);
    expect(jsonRecords(recv)).toHaveLength(24);
    expect(recv.stderr()).not.toMatch(/ERR_/);
  });
});

/** What `send --dir` sends of each file: JPEGs as they are; PNGs as the folder source hands them on. */
async function sentBytes(dir: string): Promise<Map<string, Buffer>> {
  const sent = new Map<string, Buffer>();
  const source = await openDir({ path: dir });
  for await (const frame of source) sent.set(frame.name!, frame.data);
  for (const [name, data] of files) if (name.endsWith('.jpg')) expect(sha(sent.get(name)!), name).toBe(sha(data));
  return sent;
}

describe('vstream send --dir --protocol folder', () => {
  for (const family of FAMILIES) {
    it(`sends every file byte for byte to the reference server (${family.name})`, async () => {
      const out = join(work, `out-server-${family.name}`);
      await mkdir(out);
      const server = python(scripts.server, [family.host], out);
      const [, port] = await server.waitForLine(/^port (\d+)/, 'stdout');
      const send = vstream(['send', '--dir', folder, '--protocol', 'folder', '--to', `${family.inUrl}:${port}`]);
      expect(await send.exitCode).toBe(0);
      await server.waitForLine(/^done jpg$/, 'stdout');
      expect(await server.exitCode).toBe(0);
      await expectSaved(join(out, 'holiday'), await sentBytes(folder));
      expect(send.stderr()).toMatch(/sent 12 frames .* \(folder transfer\)/);
    });
  }

  it('sends to vstream recv, which saves each file under its own name, with the source type given', async () => {
    const out = join(work, 'out-vstream');
    const recv = await startReceiver(['--save-dir', out, '--json', '--frames', '12']);
    const send = vstream(['send', '--dir', folder, '--protocol', 'folder', '--source-type', 'camera-roll', '--to', `127.0.0.1:${recv.port}`]);
    expect(await send.exitCode).toBe(0);
    expect(await recv.exitCode).toBe(0);
    await expectSaved(join(out, 'holiday'), await sentBytes(folder));
    expect(jsonRecords(recv).map((r) => [r.name, r.sourceType])).toEqual([...files.keys()].map((name) => [name, 'camera-roll']));
    expect(recv.stderr()).not.toMatch(/ERR_/);
  });

  it('gives up with one line and exit 3 on a server that never answers', async () => {
    const silent: Server = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as { port: number };
    try {
      const send = vstream(['send', '--dir', folder, '--protocol', 'folder', '--stall-timeout', '1', '--to', `127.0.0.1:${port}`]);
      expect(await send.exitCode).toBe(3);
      const lines = send.stderr().trim().split('\n');
      expect(lines.filter((l) => /no reply from 127\.0\.0\.1:\d+ within 1 s after the first message/.test(l))).toHaveLength(1);
      expect(lines.every((l) => !/^\s+at /.test(l))).toBe(true);
    } finally {
      silent.close();
    }
  });

  it('refuses --protocol folder without --dir', async () => {
    const send = vstream(['send', '--pattern', '--protocol', 'folder', '--to', '127.0.0.1:9']);
    expect(await send.exitCode).toBe(2);
    expect(send.stderr()).toMatch(/--protocol folder sends a folder: give --dir DIR/);
  });
});

/** A peer of our own: writes each message and, where the reference client would, waits for a reply. */
class RawPeer {
  private replies = 0;
  private waiter: (() => void) | undefined;
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    socket.on('data', () => {
      this.replies += 1;
      this.waiter?.();
    });
    socket.on('error', () => {});
    this.closed = once(socket, 'close').then(() => {
      this.waiter?.();
    });
  }

  static async connect(port: number): Promise<RawPeer> {
    const socket = connect({ host: '127.0.0.1', port });
    await once(socket, 'connect');
    return new RawPeer(socket);
  }

  /** Writes and waits for a reply; false when the connection closed instead. */
  async ask(message: string | Buffer): Promise<boolean> {
    this.replies = 0;
    this.socket.write(message);
    while (this.replies === 0 && !this.socket.destroyed) await new Promise<void>((resolve) => (this.waiter = resolve));
    return this.replies > 0;
  }

  write(message: string | Buffer): void {
    this.socket.write(message);
  }
}

describe('hostile folder transfers', () => {
  it('makes names safe, refuses a 10 GB length and a garbage first message, and goes on serving', async () => {
    const out = join(work, 'out-hostile');
    // 3 files from the first peer, 12 from the good one at the end.
    const recv = await startReceiver(['--save-dir', out, '--json', '--frames', '15']);
    const jpeg = files.get('img1.jpg')!;

    const escaping = await RawPeer.connect(recv.port);
    expect(await escaping.ask('jpg|../../evil')).toBe(true);
    for (const [i, name] of ['../../x.jpg', '/etc/passwd', 'a/../../b.jpg'].entries()) {
      if (i > 0) escaping.write('continue');
      expect(await escaping.ask(`${jpeg.length}|${name}`)).toBe(true);
      expect(await escaping.ask(jpeg)).toBe(true);
    }
    escaping.write('over');
    escaping.socket.end();
    await recv.waitForLine(/disconnected after 3 frames/, 'stderr');

    const huge = await RawPeer.connect(recv.port);
    expect(await huge.ask('jpg|huge')).toBe(true);
    huge.write(`${10 * 1024 ** 3}|huge.jpg`);
    await huge.closed;
    await recv.waitForLine(/ERR_FOLDER_FILE_TOO_LARGE|announces more than 67108864 bytes/, 'stderr');

    const garbage = await RawPeer.connect(recv.port);
    garbage.write(Buffer.from('jpg|\x1b[2J\x00\x01'));
    await garbage.closed;
    await recv.waitForLine(/first message .* is not text of the form TYPE\|FOLDER/, 'stderr');

    // The receiver still serves a good sender after all that.
    const client = python(scripts.client, ['127.0.0.1', String(recv.port), folder]);
    await client.waitForLine(/^waited \d+ answered \d+/, 'stdout');
    expect(await recv.exitCode).toBe(0);
    await expectSaved(join(out, 'holiday'), files);
    expect((await readdir(out)).sort()).toEqual(['evil', 'holiday']);
    expect((await readdir(join(out, 'evil'))).sort()).toEqual(['a.b.jpg', 'etcpasswd', 'x.jpg']);
    for (const name of await readdir(join(out, 'evil'))) expect(sha(await readFile(join(out, 'evil', name)))).toBe(sha(jpeg));
    // eslint-disable-next-line no-control-regex
    expect(recv.stderr()).not.toMatch(/[\x00-\x09\x0b-\x1f]/);
    expect(recv.stderr()).toMatch(/problems caused by peers: .*ERR_FOLDER_FILE_TOO_LARGE/);
  });
});

describe("a folder transfer in the receiver's memory budget", () => {
  it('charges the file being received as its bytes arrive, refuses one larger than the budget, and frees all at the end', async () => {
    const receiver = await TcpFrameReceiver.listen({ port: 0, host: '127.0.0.1', maxBufferedBytes: 4 * 1024 * 1024 });
    const ended: ReceiverEvents['disconnect'][0][] = [];
    let onEnd = (): void => {};
    receiver.on('disconnect', (info) => {
      ended.push(info);
      onEnd();
    });
    const disconnects = (n: number) => new Promise<void>((resolve) => (onEnd = () => ended.length >= n && resolve()));
    try {
      const slow = await RawPeer.connect(receiver.port);
      expect(await slow.ask('jpg|budget')).toBe(true);
      expect(await slow.ask('3000000|big.jpg')).toBe(true);
      const piece = Buffer.alloc(1024, 0x55);
      piece[0] = 0xff;
      for (let i = 0; i < 100; i++) expect(await slow.ask(piece)).toBe(true);
      // What arrived is held (in a buffer that grows by doubling), not the 3 MB announced.
      expect(receiver.bufferedBytes).toBeGreaterThanOrEqual(100 * 1024);
      expect(receiver.bufferedBytes).toBeLessThan(300 * 1024);

      const greedy = await RawPeer.connect(receiver.port);
      expect(await greedy.ask('jpg|greedy')).toBe(true);
      const firstGone = disconnects(1);
      greedy.write('5000000|x.jpg');
      await greedy.closed;
      await firstGone;
      expect(ended[0]!.error?.code).toBe('ERR_BUDGET');

      const bothGone = disconnects(2);
      slow.socket.destroy();
      await bothGone;
      expect(ended[1]!.error?.code).toBe('ERR_FOLDER_TRUNCATED');
      expect(ended[1]!.error?.message).toMatch(/"big\.jpg" \(102400 of 3000000 bytes received\)/);
      expect(receiver.bufferedBytes).toBe(0);
    } finally {
      await receiver.close();
    }
  });
});
