/**
 * Resumable transfers: `send --dir` / `send --file` keep each frame until the receiver says it
 * saved it (`ACK <stream> <seq>`), and send the unacknowledged ones again after the receiver
 * restarts; `recv --save-dir` journals what it saved, so every frame ends up saved exactly once.
 * Receivers that do not acknowledge (a reference Python program) see the transfer as before.
 */
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { execFileSync } from 'node:child_process';
import { link, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AckReplyParser, ackReplyFor } from '../src/frame/ack-reply.js';
import { readMetadata } from '../src/frame/metadata.js';
import { frame as tcpFrame } from '../src/frame/framer.js';
import { ResendWindow } from '../src/transport/resend-window.js';
import { ReconnectingSender, type ConnectionAcks } from '../src/transport/reconnecting-sender.js';
import { NetworkError } from '../src/errors.js';
import type { Sender, SendOptions } from '../src/transport/types.js';
import { JOURNAL_NAME, SaveJournal } from '../src/sink/save-journal.js';
import { ResentFrames } from '../src/cli/resent-frames.js';
import type { ReceivedFrame } from '../src/frame/frame.js';
import { FFMPEG, makeClip } from './helpers/ffmpeg.js';
import { makeJpeg, makePng } from './helpers/jpeg.js';
import { freePort } from './helpers/ports.js';
import { startProcess, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { PYTHON, PYTHON_FIXTURES } from './helpers/python.js';

const env = { VSTREAM_FFMPEG: FFMPEG };

afterEach(() => stopAll());

function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vstream-resume-'));
}

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The files a user sees in `dir` (not the hidden journal or temporaries). */
async function visibleFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
}

/** Resolves once `dir` shows at least `count` files, woken by the folder's change events. */
async function waitForFiles(dir: string, count: number): Promise<void> {
  const watcher = watch(dir);
  try {
    for (;;) {
      const changed = new Promise((resolve) => watcher.once('change', resolve));
      if ((await visibleFiles(dir)).length >= count) return;
      await changed;
    }
  } finally {
    watcher.close();
  }
}

function recvSaving(port: number, dir: string): TestProcess {
  return vstream(['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--save-dir', dir], { env });
}

/** Kills the receiver (SIGKILL: no clean-up of any kind) once `dir` holds `files` files, then starts another. */
async function restartAt(recv: TestProcess, port: number, dir: string, files: number): Promise<TestProcess> {
  await waitForFiles(dir, files);
  recv.kill('SIGKILL');
  await recv.exited;
  const next = recvSaving(port, dir);
  await next.waitForLine(/listening on/, 'stderr');
  return next;
}

describe('the resend window', () => {
  const kept = (seq: number, bytes = 10) => ({ seq, frame: Buffer.alloc(0), options: { seq }, bytes });

  it('keeps frames until acknowledged; an ACK lets go of every frame up to its seq', () => {
    const window = new ResendWindow({ maxFrames: 4, maxBytes: 1000 });
    for (let seq = 0; seq < 4; seq++) window.keep(kept(seq));
    expect(window.mode).toBe('undecided');
    expect(window.hasRoom(10)).toBe(false);
    window.acknowledged(1);
    expect(window.mode).toBe('acknowledging');
    expect(window.frames().map((f) => f.seq)).toEqual([2, 3]);
    expect(window.bytes).toBe(20);
    expect(window.hasRoom(10)).toBe(true);
    // An old acknowledgement changes nothing.
    window.acknowledged(0);
    expect(window.size).toBe(2);
  });

  it('is bounded in bytes too, but always takes one frame when empty', () => {
    const window = new ResendWindow({ maxFrames: 100, maxBytes: 100 });
    expect(window.hasRoom(500)).toBe(true);
    window.keep(kept(0, 60));
    expect(window.hasRoom(40)).toBe(true);
    expect(window.hasRoom(41)).toBe(false);
  });

  it('going plain lets go of everything and keeps nothing more, even if ACKs come later', async () => {
    const window = new ResendWindow({ maxFrames: 2 });
    window.keep(kept(0));
    const woken = window.changed();
    window.plain();
    await woken;
    window.keep(kept(1));
    window.acknowledged(1);
    expect(window.mode).toBe('plain');
    expect(window.size).toBe(0);
    expect(window.keeping).toBe(false);
  });
});

/** A connection without a socket: records what is sent on it; the test plays the receiver. */
class FakeConnection implements Sender {
  readonly address = 'fake:1';
  framesSent = 0;
  bytesSent = 0;
  readonly sent: { seq: number; askAck: boolean }[] = [];
  private failure: NetworkError | undefined;

  constructor(readonly acks: ConnectionAcks | undefined) {}

  async send(_frame: Buffer, options: SendOptions = {}): Promise<void> {
    if (this.failure) throw this.failure;
    this.sent.push({ seq: options.seq!, askAck: options.askAck === true });
    this.framesSent += 1;
  }

  async close(): Promise<void> {}
  destroy(): void {}

  ack(seq: number): void {
    this.acks!.listener.acknowledged(seq);
  }

  cut(): void {
    this.failure = new NetworkError('fake:1 closed the connection', 'ERR_CONNECTION_CLOSED');
    this.acks!.lost(this.failure);
  }
}

async function fakeSender(maxFrames: number): Promise<{ sender: ReconnectingSender; connections: FakeConnection[]; said: string[] }> {
  const connections: FakeConnection[] = [];
  const said: string[] = [];
  const sender = await ReconnectingSender.open({
    address: 'fake:1',
    connect: async (acks) => {
      const connection = new FakeConnection(acks);
      connections.push(connection);
      return connection;
    },
    retryMs: 1000,
    live: false,
    say: (line) => said.push(line),
    resume: { maxFrames, ackTimeoutMs: 5000 },
  });
  return { sender, connections, said };
}

/** Lets every callback already due run: enough for a send that is not held to finish. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('the resuming sender', () => {
  const frame = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);

  it('never acknowledged, a full window makes it plain: nothing is held, nothing waits', async () => {
    const { sender, connections } = await fakeSender(3);
    for (let seq = 0; seq < 5; seq++) await sender.send(frame, { seq });
    expect(connections[0]!.sent.map((s) => s.askAck)).toEqual([true, true, true, false, false]);
    expect(sender.resuming).toBe(false);
    await sender.close();
    expect(sender.framesSent).toBe(5);
  });

  it('acknowledging, a full window waits for the receiver (backpressure)', async () => {
    const { sender, connections } = await fakeSender(2);
    await sender.send(frame, { seq: 0 });
    connections[0]!.ack(0);
    await sender.send(frame, { seq: 1 });
    await sender.send(frame, { seq: 2 });
    let done = false;
    const third = sender.send(frame, { seq: 3 }).then(() => (done = true));
    await settle();
    expect(done).toBe(false);
    connections[0]!.ack(1);
    await third;
    expect(connections[0]!.sent.map((s) => s.seq)).toEqual([0, 1, 2, 3]);
    // Closing waits for the last acknowledgements too.
    let closed = false;
    const closing = sender.close().then(() => (closed = true));
    await settle();
    expect(closed).toBe(false);
    connections[0]!.ack(3);
    await closing;
  });

  it('after a cut, sends the unacknowledged frames again first, same seqs, then goes on', async () => {
    const { sender, connections, said } = await fakeSender(16);
    for (let seq = 0; seq < 4; seq++) await sender.send(frame, { seq });
    connections[0]!.ack(1);
    connections[0]!.cut();
    await sender.send(frame, { seq: 4 });
    expect(connections).toHaveLength(2);
    expect(connections[1]!.sent).toEqual([2, 3, 4].map((seq) => ({ seq, askAck: true })));
    expect(said[0]).toMatch(/closed the connection; reconnecting \(the 2 unacknowledged frames are sent again\)/);
    connections[1]!.ack(4);
    await sender.close();
    expect(sender.framesSent).toBe(5);
    expect(sender.resent).toBe(2);
  });

  it('a receiver that replies something else makes it plain; a cut then fails as before', async () => {
    const { sender, connections } = await fakeSender(16);
    await sender.send(frame, { seq: 0 });
    connections[0]!.acks!.listener.foreign();
    await sender.send(frame, { seq: 1 });
    expect(connections[0]!.sent.map((s) => s.askAck)).toEqual([true, false]);
    connections[0]!.cut();
    await expect(sender.send(frame, { seq: 2 })).rejects.toMatchObject({ code: 'ERR_CONNECTION_CLOSED' });
  });
});

describe('ACK replies', () => {
  it('are written for frames that ask, and read back by seq', () => {
    const meta = readMetadata(Buffer.concat(tcpFrame(Buffer.from([0xff, 0xd8, 0xff, 0xd9]), { seq: 7, captureTime: 1, stream: 'ab12', ack: true }).slice(1)));
    expect(meta).toMatchObject({ seq: 7, stream: 'ab12', ack: true });
    const reply = ackReplyFor(meta)!;
    expect(reply.toString()).toBe('ACK ab12 7\n');
    expect(ackReplyFor({ seq: 7, captureTime: 1, stream: 'ab12' })).toBeUndefined();

    const seen: number[] = [];
    let foreign = 0;
    const parser = new AckReplyParser('ab12', { acknowledged: (seq) => seen.push(seq), foreign: () => foreign++ });
    // Split anywhere: a reply may arrive a byte at a time.
    const bytes = Buffer.concat([reply, Buffer.from('ACK ab12 8\nACK ab12 9\n')]);
    for (const byte of bytes) parser.push(Buffer.from([byte]));
    expect(seen).toEqual([7, 8, 9]);
    expect(foreign).toBe(0);
  });

  it("take a receiver's other replies (OK, another stream, a runaway line) as foreign, once", () => {
    for (const text of ['OK', 'ACK other 1\n', `ACK ab12 ${'9'.repeat(200)}`, 'ACK ab12 -1\n']) {
      const seen: number[] = [];
      let foreign = 0;
      const parser = new AckReplyParser('ab12', { acknowledged: (seq) => seen.push(seq), foreign: () => foreign++ });
      parser.push(Buffer.from(text));
      parser.push(Buffer.from('ACK ab12 1\n'));
      expect(foreign, text).toBe(1);
      expect(seen, text).toEqual([]);
    }
  });

  it('a stream id that is not short plain text is no stream id', () => {
    const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xd9]);
    expect(() => tcpFrame(jpeg, { seq: 0, captureTime: 0, stream: 'a b', ack: true })).toThrow(RangeError);
  });
});

describe('copies sent again within one recv run', () => {
  const frameOf = (seq: number, stream = 's1'): ReceivedFrame =>
    ({ seq, meta: { seq, captureTime: 0, stream, ack: true } }) as unknown as ReceivedFrame;

  it('are skipped, and acknowledged once their first copy is through the sinks', () => {
    const acked: number[] = [];
    const resent = new ResentFrames((frame) => acked.push(frame.seq));
    const first = [0, 1, 2].map((seq) => frameOf(seq));
    for (const frame of first) expect(resent.isResent(frame)).toBe(false);
    resent.settled(first[0]!);
    // 0 is saved already: its copy is acknowledged at once; 1 and 2 wait for their first copy.
    expect(resent.isResent(frameOf(0))).toBe(true);
    expect(resent.isResent(frameOf(1))).toBe(true);
    expect(resent.isResent(frameOf(2))).toBe(true);
    expect(acked).toEqual([0]);
    resent.settled(first[1]!);
    expect(acked).toEqual([0, 1]);
    resent.settled(first[2]!);
    expect(acked).toEqual([0, 1, 2]);
    expect(resent.isResent(frameOf(3))).toBe(false);
    // Another stream, and frames that do not ask, are never copies.
    expect(resent.isResent(frameOf(0, 's2'))).toBe(false);
    expect(resent.isResent({ seq: 0, meta: { seq: 0, captureTime: 0 } } as unknown as ReceivedFrame)).toBe(false);
    expect(resent.skipped).toBe(3);
  });
});

describe('the save journal', () => {
  it('remembers what it recorded across a reopen, the highest seq per stream', async () => {
    const dir = await tempDir();
    const journal = await SaveJournal.open(dir);
    expect(journal.saved('s1', 0)).toBe(false);
    await journal.record('s1', 0);
    await journal.record('s1', 1);
    await journal.record('s2', 5);
    const again = await SaveJournal.open(dir);
    expect(again.saved('s1', 1)).toBe(true);
    expect(again.saved('s1', 2)).toBe(false);
    expect(again.saved('s2', 5)).toBe(true);
    expect(await readFile(join(dir, JOURNAL_NAME), 'utf8')).toBe('s1 0\ns1 1\ns2 5\n');
  });

  it('skips a line a crash cut short, and does not let it swallow the next record', async () => {
    const dir = await tempDir();
    await writeFile(join(dir, JOURNAL_NAME), `s1 0\ns1 1\nnot a record\n${'x'.repeat(500)}\ns1 2`);
    const journal = await SaveJournal.open(dir);
    // "s1 2" has no newline: it may be a cut "s1 23".
    expect(journal.saved('s1', 1)).toBe(true);
    expect(journal.saved('s1', 2)).toBe(false);
    await journal.record('s3', 0);
    expect((await SaveJournal.open(dir)).saved('s3', 0)).toBe(true);
  });

  it('is never read or written through a symlink or a FIFO put in its place', async () => {
    const dir = await tempDir();
    const outside = join(await tempDir(), 'target');
    await writeFile(outside, 'precious');
    await symlink(outside, join(dir, JOURNAL_NAME));
    await expect(SaveJournal.open(dir)).rejects.toMatchObject({ code: 'ELOOP' });
    expect(await readFile(outside, 'utf8')).toBe('precious');
    const fifoDir = await tempDir();
    execFileSync('mkfifo', [join(fifoDir, JOURNAL_NAME)]);
    await expect(SaveJournal.open(fifoDir)).rejects.toMatchObject({ code: 'ERR_OUTPUT' });
  });

  it('records a frame linked to its final name whose record a crash prevented, and removes dead temporaries', async () => {
    const dir = await tempDir();
    const journal = await SaveJournal.open(dir);
    // A crash between link() and the record: the temporary is a second link to the saved file.
    const linked = journal.tempName('s1', 4);
    await writeFile(join(dir, linked), 'jpeg');
    await link(join(dir, linked), join(dir, 'a.jpg'));
    // A crash while writing: never published, by a process that is gone.
    const unpublished = linked.replace(/\.s1\.4\.\d+-/, '.s1.5.999999999-');
    await writeFile(join(dir, unpublished), 'jp');
    const reopened = await SaveJournal.open(dir);
    expect(reopened.saved('s1', 4)).toBe(true);
    expect(reopened.saved('s1', 5)).toBe(false);
    expect(await readdir(dir)).toEqual(expect.arrayContaining([JOURNAL_NAME, 'a.jpg']));
    expect((await readdir(dir)).filter((name) => name.endsWith('.part'))).toEqual([]);
    expect((await stat(join(dir, 'a.jpg'))).nlink).toBe(1);
  });
});

describe('a transfer through receiver restarts (kill -9, twice)', () => {
  it('send --dir: every file saved exactly once, byte for byte, no -1 names', async () => {
    const source = await tempDir();
    const out = await tempDir();
    const originals = new Map<string, Buffer>();
    for (let i = 0; i < 30; i++) {
      // A few PNGs, which travel as they are, like the JPEGs.
      const png = i % 5 === 4;
      const name = `img${String(i).padStart(2, '0')}.${png ? 'png' : 'jpg'}`;
      const bytes = png ? await makePng({ width: 48, height: 32 }) : await makeJpeg({ width: 48, height: 32 });
      await writeFile(join(source, name), bytes);
      originals.set(name, bytes);
    }
    const port = await freePort();
    let recv = recvSaving(port, out);
    await recv.waitForLine(/listening on/, 'stderr');
    const send = vstream(['send', '--dir', source, '--fps', '20', '--to', `127.0.0.1:${port}`], { env });
    recv = await restartAt(recv, port, out, 5);
    recv = await restartAt(recv, port, out, 15);
    expect(await send.exitCode, send.stderr()).toBe(0);
    expect(send.stderr()).toMatch(/sent 30 frames .*; \d+ sent again after 2 reconnects/);

    expect(await visibleFiles(out)).toEqual([...originals.keys()].sort());
    for (const [name, bytes] of originals) {
      expect(sha256(await readFile(join(out, name))), name).toBe(sha256(bytes));
    }
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
  });

  it("send --file --fps 30: exactly the clip's frames saved, no two alike", async () => {
    const work = await tempDir();
    const out = await tempDir();
    const frames = 75;
    const clip = await makeClip(work, { frames, width: 96, height: 64, rate: 30 });
    const port = await freePort();
    let recv = recvSaving(port, out);
    await recv.waitForLine(/listening on/, 'stderr');
    const send = vstream(['send', '--file', clip, '--fps', '30', '--to', `127.0.0.1:${port}`], { env });
    recv = await restartAt(recv, port, out, 10);
    recv = await restartAt(recv, port, out, 35);
    expect(await send.exitCode, send.stderr()).toBe(0);
    expect(send.stderr()).toMatch(new RegExp(`sent ${frames} frames .*; \\d+ sent again after 2 reconnects`));

    const files = await visibleFiles(out);
    expect(files).toHaveLength(frames);
    // Numbered on from the highest number in the folder: 000000.jpg ... with no gap.
    expect(files).toEqual(Array.from({ length: frames }, (_, i) => `${String(i).padStart(6, '0')}.jpg`));
    const hashes = new Set(await Promise.all(files.map(async (name) => sha256(await readFile(join(out, name))))));
    expect(hashes.size).toBe(frames);
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
  });
});

/**
 * A TCP relay between sender and receiver that can hold back the receiver's replies and cut
 * every connection: a network outage with the receiver still running.
 */
async function cuttableRelay(upstreamPort: number): Promise<{ port: number; passReplies: boolean; cut(): void; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const relay = {
    port: 0,
    passReplies: true,
    cut: () => {
      for (const socket of sockets) socket.destroy();
      sockets.clear();
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
  const server = createServer((client) => {
    const upstream = connect(upstreamPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.on('close', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      if (relay.passReplies) client.write(chunk);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  relay.port = (server.address() as { port: number }).port;
  return relay;
}

describe('a network cut while the receiver runs on', () => {
  it('frames it saved but could not confirm are sent again and skipped, not saved twice', async () => {
    const source = await tempDir();
    const out = await tempDir();
    for (let i = 0; i < 30; i++) await writeFile(join(source, `f${i}.jpg`), await makeJpeg({ width: 16, height: 16 }));
    const port = await freePort();
    const recv = recvSaving(port, out);
    await recv.waitForLine(/listening on/, 'stderr');
    const relay = await cuttableRelay(port);
    try {
      const send = vstream(['send', '--dir', source, '--fps', '20', '--to', `127.0.0.1:${relay.port}`], { env });
      await waitForFiles(out, 5);
      // Saved from here on, but the sender never hears so.
      relay.passReplies = false;
      await waitForFiles(out, 12);
      relay.cut();
      relay.passReplies = true;
      expect(await send.exitCode, send.stderr()).toBe(0);
      expect(send.stderr()).toMatch(/sent 30 frames .*; \d+ sent again after 1 reconnect/);
      expect(await visibleFiles(out)).toEqual(Array.from({ length: 30 }, (_, i) => `f${i}.jpg`).sort());
      recv.kill('SIGINT');
      expect(await recv.exitCode).toBe(130);
      const [, skipped] = /received 30 frames .*; (\d+) sent again and skipped/.exec(recv.stderr()) ?? [];
      expect(Number(skipped), recv.stderr()).toBeGreaterThanOrEqual(7);
    } finally {
      relay.cut();
      await relay.close();
    }
  });
});

/** A receiver written the tutorial way: reads frames, never writes a byte back unless told `ok`. */
const REFERENCE_RECEIVER = `
import re, socket, sys

from peers import recvall
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 0))
server.listen(1)
print('listening', server.getsockname()[1], flush=True)
conn, addr = server.accept()
count = 0
while True:
    length = recvall(conn, 16)
    if length is None:
        break
    data = recvall(conn, int(length))
    if data is None:
        break
    count += 1
    print('frame', count, len(data), flush=True)
    if len(sys.argv) > 1 and sys.argv[1] == 'ok':
        conn.send(b'OK')
    if len(sys.argv) > 1 and sys.argv[1] == 'ack-first' and count == 1:
        stream = re.search(b'"stream":"([0-9a-f]+)"', data).group(1)
        conn.send(b'ACK ' + stream + b' 0\\n')
print('frames', count, flush=True)
`;

async function referenceReceiver(args: string[] = []): Promise<{ python: TestProcess; port: number }> {
  const dir = await tempDir();
  const script = join(dir, 'receiver.py');
  await writeFile(script, REFERENCE_RECEIVER);
  const python = startProcess('receiver.py', PYTHON, ['-u', script, ...args], { env: { ...process.env, PYTHONPATH: PYTHON_FIXTURES } });
  const [, port] = await python.waitForLine(/^listening (\d+)$/, 'stdout');
  return { python, port: Number(port) };
}

describe('a receiver that does not acknowledge', () => {
  it('gets a transfer longer than the window as before: every frame, no stall', async () => {
    const work = await tempDir();
    // More frames than the window keeps (1024): full before any ACK, it stops keeping them.
    const frames = 1100;
    const clip = await makeClip(work, { frames, width: 32, height: 32, rate: 30 });
    const { python, port } = await referenceReceiver();
    const send = vstream(['send', '--file', clip, '--fps', 'max', '--to', `127.0.0.1:${port}`], { env });
    expect(await send.exitCode, send.stderr()).toBe(0);
    expect(await python.exitCode).toBe(0);
    expect(python.output('stdout')).toContain(`frames ${frames}`);
    expect(send.stderr()).toMatch(new RegExp(`sent ${frames} frames`));
    expect(send.stderr()).not.toMatch(/stall|stopped reading|acknowledged none|timed out|reconnect/i);
  });

  it('one that replies OK is not a resuming receiver: a cut ends the transfer with exit 3, as before', async () => {
    const source = await tempDir();
    for (let i = 0; i < 30; i++) await writeFile(join(source, `${i}.jpg`), await makeJpeg({ width: 16, height: 16 }));
    const { python, port } = await referenceReceiver(['ok']);
    const send = vstream(['send', '--dir', source, '--fps', '20', '--to', `127.0.0.1:${port}`], { env });
    await python.waitForLine(/^frame 5 /, 'stdout');
    python.kill('SIGKILL');
    expect(await send.exitCode, send.stderr()).toBe(3);
    expect(send.stderr()).not.toMatch(/reconnecting/);
  });

  it('one that acknowledged, then stops: the sender gives up after --stall-timeout, exit 3', async () => {
    const source = await tempDir();
    for (let i = 0; i < 5; i++) await writeFile(join(source, `${i}.jpg`), await makeJpeg({ width: 16, height: 16 }));
    const { python, port } = await referenceReceiver(['ack-first']);
    const send = vstream(['send', '--dir', source, '--fps', '20', '--stall-timeout', '1', '--to', `127.0.0.1:${port}`], { env });
    expect(await send.exitCode, send.stderr()).toBe(3);
    expect(send.stderr()).toMatch(/acknowledged none of 4 frames for 1 s/);
    await python.exited;
    expect(python.output('stdout')).toContain('frames 5');
  });
});
