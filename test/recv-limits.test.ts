/**
 * A real `vstream recv` process under the attacks its limits are for: many connections
 * declaring huge frames and never finishing them, a slowloris of idle connections, a
 * process with only 1024 file descriptors. Each time, a good sender must still get through.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { mkdtemp, readdir } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startProcess, stopAll, VSTREAM_BIN, type TestProcess } from './helpers/process.js';
import { makeJpeg } from './helpers/jpeg.js';
import { TcpFrameSender } from '../src/transport/tcp-sender.js';
import { encodeHeader } from '../src/frame/header.js';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../src/transport/memory-budget.js';
import { recvSettings } from '../src/cli/commands/recv.js';
import { UsageError } from '../src/errors.js';

const sockets: Socket[] = [];
const senders: TcpFrameSender[] = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const sender of senders.splice(0)) sender.destroy();
  await stopAll();
});

let image: Buffer;
beforeAll(async () => {
  image = await makeJpeg({ width: 64, height: 48 });
});

/** Starts `vstream recv --no-window --listen 0 ARGS`, under `prlimit` when `fdLimit` is given. */
async function startRecv(args: string[], fdLimit?: number): Promise<{ recv: TestProcess; port: number }> {
  const command = [process.execPath, VSTREAM_BIN, 'recv', '--no-window', '--listen', '0', ...args];
  const recv =
    fdLimit === undefined
      ? startProcess('recv', command[0]!, command.slice(1))
      : startProcess('recv', 'prlimit', [`--nofile=${fdLimit}:${fdLimit}`, ...command]);
  const [, port] = await recv.waitForLine(/listening on .*?(\d+)(?:\s|$)/, { stream: 'stderr' });
  return { recv, port: Number(port) };
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

function rawSocket(port: number): Promise<Socket> {
  const socket = connect({ host: '127.0.0.1', port });
  sockets.push(socket);
  // The receiver closing or resetting it is what some tests are about.
  socket.on('error', () => {});
  return once(socket, 'connect').then(() => socket);
}

/** Opens `count` silent connections, `parallel` at a time, and waits until recv has accepted them all. */
async function idleConnections(recv: TestProcess, port: number, count: number, parallel = 50): Promise<void> {
  const from = recv.output('stderr').length;
  let opened = 0;
  const worker = async () => {
    while (opened < count) {
      opened += 1;
      await rawSocket(port);
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
  // recv names the first connections of each second and counts the rest in one line.
  for (;;) {
    const lines = recv.output('stderr');
    if (acceptedIn(lines.slice(from)) >= count) return;
    await recv.waitForLine(/ connected$/, { stream: 'stderr', from: lines.length });
  }
}

/** Connections recv reported: `HOST:PORT connected` lines, and `N more (connected)` counts. */
function acceptedIn(lines: string[]): number {
  let accepted = 0;
  for (const line of lines) {
    const counted = /^vstream: (\d+) more \(connected\)/.exec(line);
    if (counted) accepted += Number(counted[1]);
    else if (/^vstream: 127\.0\.0\.1:\d+ connected$/.test(line)) accepted += 1;
  }
  return accepted;
}

/** Sends `count` frames labelled `label`; resolves when recv has printed their JSON lines. */
async function goodSenderGetsThrough(recv: TestProcess, port: number, label: string, count: number): Promise<void> {
  const from = recv.output('stdout').length;
  // Each send waits for recv's reply (its --ack), sent once every sink is done with the frame:
  // the sinks run side by side, so a JSON line alone says nothing of the save.
  const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, label, waitAck: true });
  senders.push(sender);
  for (let i = 0; i < count; i++) await sender.send(image);
  await recv.waitForLines(new RegExp(`"sender":"${label}"`), count, { stream: 'stdout', from });
}

describe.runIf(process.platform === 'linux')('vstream recv limits', () => {
  it('stays under its memory budget + 192 MiB while 50 connections each declare 60 MiB (3000 MiB in all) and never finish', async () => {
    // The idle timeout ends the attack (2 s after the budget is full and they wait).
    const { recv, port } = await startRecv(['--json', '--idle-timeout', '2']);
    const declared = 60 * 1024 * 1024;
    const piece = Buffer.alloc(256 * 1024, 0x41);
    let stoppedByReceiver = 0;
    const attack = Array.from({ length: 50 }, async () => {
      const socket = await rawSocket(port);
      socket.write(encodeHeader(declared));
      // One MiB short of the frame: it never completes.
      for (let sent = 0; sent < declared - 2 ** 20; sent += piece.length) {
        if (socket.destroyed) break;
        if (socket.write(piece)) continue;
        // Wait until the receiver reads on, or closes this connection.
        await new Promise<void>((resolve) => {
          const done = () => {
            socket.off('drain', done).off('close', done);
            resolve();
          };
          socket.on('drain', done).on('close', done);
        });
      }
      // Closed with bytes unread, the socket is reset: an 'error' before 'close', which once() would throw.
      if (!socket.destroyed) await new Promise((resolve) => socket.once('close', resolve));
      stoppedByReceiver += 1;
    });
    let attacking = true;
    const attackOver = Promise.all(attack).finally(() => (attacking = false));
    // A good sender, stop-and-wait on recv's output, all through the attack.
    const sender = await TcpFrameSender.connect({ host: '127.0.0.1', port, label: 'good' });
    senders.push(sender);
    let delivered = 0;
    while (attacking) {
      await sender.send(image);
      delivered += 1;
      await recv.waitForLines(/"sender":"good"/, delivered, { stream: 'stdout' });
    }
    await attackOver;
    expect(stoppedByReceiver).toBe(50);
    const peakMb = statusKb(recv.child.pid!, 'VmHWM') / 1024;
    // Over the budget: recv's own 60 MiB at rest, and the read chunks already copied into their
    // frames that the garbage collector has not freed yet. Measured 330-400 MiB in all, with the
    // code before and after the serve/pull work alike; without the budget it would be 3000.
    expect(peakMb, `peak RSS ${peakMb.toFixed(0)} MiB`).toBeLessThan(DEFAULT_MAX_BUFFERED_BYTES / 2 ** 20 + 192);
    expect(recv.output('stderr').some((line) => line.includes('(ERR_BUDGET)'))).toBe(true);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('serves a good sender at once during a slowloris of 1100 idle connections, with 1024 file descriptors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vstream-slowloris-'));
    const { recv, port } = await startRecv(['--json', '--ack', '--save-dir', dir, '--idle-timeout', '60'], 1024);
    await idleConnections(recv, port, 1100);
    // The idle timeout (60 s) has freed nothing yet: the newcomer gets in by replacing the
    // oldest connection that has completed no frame.
    await goodSenderGetsThrough(recv, port, 'good', 5);
    expect(recv.output('stderr').filter((line) => line.includes('(ERR_REPLACED)')).length).toBeGreaterThan(0);
    expect((await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.jpg'))).toHaveLength(5);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('keeps file descriptors for its own files when --max-connections is over the fd limit', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vstream-fd-reserve-'));
    const { recv, port } = await startRecv(['--json', '--ack', '--save-dir', dir, '--max-connections', '5000', '--idle-timeout', '60'], 1024);
    await idleConnections(recv, port, 1100);
    // Near the fd limit, with connections held up to it, writing a file must still work.
    await goodSenderGetsThrough(recv, port, 'good', 5);
    expect((await readdir(dir, { recursive: true })).filter((name) => name.endsWith('.jpg'))).toHaveLength(5);
    expect(recv.output('stderr').join('\n')).not.toMatch(/EMFILE/);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('keeps nothing of a frame once its sinks are done with it: 3000 frames of 100 kB through recv --json', async () => {
    // Each frame used to stay reachable from a promise reaction left on the shutdown signal.
    const { recv, port } = await startRecv(['--json']);
    const socket = await rawSocket(port);
    const payload = Buffer.alloc(100_000, 0x55);
    payload[0] = 0xff;
    payload[1] = 0xd8;
    const frame = Buffer.concat([encodeHeader(payload.length), payload]);
    for (let i = 0; i < 3000; i++) {
      if (!socket.write(frame)) await once(socket, 'drain');
    }
    await recv.waitForLines(/"bytes":100000/, 3000, { stream: 'stdout', timeoutMs: 60_000 });
    const peakMb = statusKb(recv.child.pid!, 'VmHWM') / 1024;
    // 300 MB went through; a receiver that keeps them would be well past this.
    expect(peakMb, `peak RSS ${peakMb.toFixed(0)} MiB`).toBeLessThan(200);
  });

  it('closes a connection that completes no frame within --idle-timeout', async () => {
    const { recv, port } = await startRecv(['--json', '--idle-timeout', '1']);
    const socket = await rawSocket(port);
    socket.write('12');
    await once(socket, 'close');
    await recv.waitForLine(/\(ERR_IDLE_TIMEOUT\)/, { stream: 'stderr' });
    expect(recv.exitInfo).toBeUndefined();
  });

  it('takes --max-buffered-bytes as a size: a header over it closes that connection at once', async () => {
    const { recv, port } = await startRecv(['--json', '--max-buffered-bytes', '1M']);
    const socket = await rawSocket(port);
    socket.write(encodeHeader(2 * 1024 * 1024));
    await once(socket, 'close');
    await recv.waitForLine(/\(ERR_BUDGET\)/, { stream: 'stderr' });
    expect(recv.exitInfo).toBeUndefined();
  });
});

describe('recv limit options', () => {
  it('parses sizes, counts and seconds', () => {
    const settings = recvSettings({ listen: '0', window: true, maxBufferedBytes: '256M', maxConnections: '10', idleTimeout: '5' });
    expect(settings).toMatchObject({ maxBufferedBytes: 256 * 1024 * 1024, maxConnections: 10, idleTimeoutMs: 5000 });
  });

  it('refuses nonsense with a usage error', () => {
    for (const raw of [{ maxBufferedBytes: '0' }, { maxConnections: '0' }, { maxConnections: 'many' }, { idleTimeout: '-1' }, { idleTimeout: '1.5' }]) {
      expect(() => recvSettings({ listen: '0', window: true, ...raw })).toThrow(UsageError);
    }
  });
});
