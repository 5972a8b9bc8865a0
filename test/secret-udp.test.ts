/**
 * `vstream send --udp` -> `vstream recv --udp` with a shared secret, the real CLI processes,
 * directly or through a small relay in this test that alters, replays, reorders and forges
 * datagrams in flight.
 */
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll, startReceiver, vstream, type TestProcess, jsonLines } from './helpers/process.js';
import { FFMPEG } from './helpers/ffmpeg.js';
import { freePort } from './helpers/ports.js';
import { endDatagram } from '../src/frame/udp-datagram.js';
import { SEALED_VERSION } from '../src/frame/udp-seal.js';

const SECRET = 'k3Jx9mQ2vR7tW1yZ5bN8cF4hL6pD0sGa';
const OTHER = 'a-different-secret-of-enough-bytes';
const env = { VSTREAM_FFMPEG: FFMPEG };
const withSecret = (secret: string) => ({ ...env, VSTREAM_SECRET: secret });
const sockets: Socket[] = [];
afterEach(async () => {
  await stopAll();
  for (const socket of sockets.splice(0)) socket.close();
});

let secretFile: string;
beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vstream-secret-udp-'));
  secretFile = join(dir, 'secret');
  await writeFile(secretFile, `${SECRET}\n`, { mode: 0o600 });
});

const to = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);
const sendArgs = (target: string, frames = 20) => ['send', '--udp', '--pattern', '--size', '320x240', '--fps', '60', '--frames', String(frames), '--to', target];

/** Waits for the receiver's end-of-stream line, then Ctrl-C for its summary. */
async function finish(recv: TestProcess, frames: number): Promise<void> {
  await recv.waitForLine(new RegExp(`(disconnected|stream ended) after ${frames} frames`), 'stderr');
  recv.kill('SIGINT');
  expect(await recv.exitCode).toBe(130);
}

/**
 * Forwards each datagram from the sender to `target` as `shape` says: a list of datagrams to
 * forward now (none drops it, two replays it). `index` counts datagrams from 0.
 */
async function startRelay(host: string, target: number, shape: (msg: Buffer, index: number, forward: (d: Buffer) => void) => void): Promise<{ port: number; seen: () => number }> {
  const type = host.includes(':') ? 'udp6' : 'udp4';
  const front = createSocket(type);
  const back = createSocket(type);
  sockets.push(front, back);
  await new Promise<void>((resolve) => front.bind(0, host, resolve));
  await new Promise<void>((resolve) => back.bind(0, host, resolve));
  let index = 0;
  const forward = (d: Buffer) => back.send(d, target, host);
  front.on('message', (msg) => shape(msg, index++, forward));
  return { port: front.address().port, seen: () => index };
}

describe.each([['127.0.0.1'], ['::1']])('with the same secret over %s', (host) => {
  it('every frame arrives (secret file on one end, VSTREAM_SECRET on the other)', async () => {
    const recv = await startReceiver(['--udp', '--json', '--bind', host, '--secret-file', secretFile], { env });
    const send = vstream(sendArgs(to(host, recv.port)), { env: withSecret(SECRET) });
    expect(await send.exitCode).toBe(0);
    await finish(recv, 20);
    const records = jsonLines(recv.stdout());
    expect(records).toHaveLength(20);
    expect(records.every((r) => r.width === 320 && r.height === 240)).toBe(true);
    expect(recv.stderr()).not.toMatch(/ERR_UDP_|problems caused by peers/);
  });
});

describe('either end killed and started again, with the secret', () => {
  it('a receiver started again takes the running stream up from its next datagram; a sender started again is a new stream', async () => {
    const port = await freePort();
    const recvArgs = ['recv', '--udp', '--no-window', '--json', '--bind', '127.0.0.1', '--listen', String(port), '--secret-file', secretFile];
    const first = vstream(recvArgs, { env });
    await first.waitForLine(/listening on/, 'stderr');
    const live = ['send', '--udp', '--pattern', '--size', '160x120', '--fps', '30', '--to', `127.0.0.1:${port}`];
    const send1 = vstream(live, { env: withSecret(SECRET) });
    await first.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    first.kill('SIGKILL');
    await first.exited;
    const second = vstream(recvArgs, { env });
    await second.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    send1.kill('SIGKILL');
    await send1.exited;
    const seen = second.output('stdout').length;
    const send2 = vstream(live, { env: withSecret(SECRET) });
    await second.waitForLines(/"seq":/, seen + 5, { stream: 'stdout' });
    send2.kill('SIGINT');
    await send2.exitCode;
    second.kill('SIGINT');
    expect(await second.exitCode).toBe(130);
    // Nothing of either sender was taken for a forgery or a replay.
    expect(second.stderr()).not.toMatch(/ERR_UDP_/);
  });
});

describe('a peer without the same secret delivers nothing', () => {
  it.each([
    { name: 'wrong secret', recvEnv: withSecret(SECRET), sendEnv: withSecret(OTHER), line: /UDP datagram failed authentication \(a wrong secret/, code: 'ERR_UDP_FORGED' },
    { name: 'sender without one', recvEnv: withSecret(SECRET), sendEnv: env, line: /UDP datagram not sealed with a secret/, code: 'ERR_UDP_UNSEALED' },
    { name: 'receiver without one', recvEnv: env, sendEnv: withSecret(SECRET), line: /sealed with a shared secret, and this receiver has none/, code: 'ERR_UDP_SEALED' },
  ])('$name', async ({ recvEnv, sendEnv, line, code }) => {
    const recv = await startReceiver(['--udp', '--json', '--bind', '127.0.0.1'], { env: recvEnv });
    const send = vstream(sendArgs(to('127.0.0.1', recv.port), 5), { env: sendEnv });
    expect(await send.exitCode).toBe(0);
    await recv.waitForLine(line, 'stderr');
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    expect(jsonLines(recv.stdout())).toEqual([]);
    expect(recv.stderr()).toMatch(/received 0 frames/);
    expect(recv.stderr()).toMatch(new RegExp(`problems caused by peers: \\d+ ${code}$`, 'm'));
  });
});

describe('through a relay that tampers with datagrams', () => {
  it('one flipped byte: that frame is dropped and counted, the stream goes on', async () => {
    const recv = await startReceiver(['--udp', '--json', '--bind', '127.0.0.1'], { env: withSecret(SECRET) });
    // Datagram 40 is a piece of a frame in the middle of the run (320x240 frames are several datagrams).
    const relay = await startRelay('127.0.0.1', recv.port, (msg, index, forward) => {
      if (index === 40) msg[msg.length - 30]! ^= 0x20;
      forward(msg);
    });
    const send = vstream(sendArgs(to('127.0.0.1', relay.port)), { env: withSecret(SECRET) });
    expect(await send.exitCode).toBe(0);
    expect(relay.seen()).toBeGreaterThan(60);
    await finish(recv, 19);
    expect(jsonLines(recv.stdout())).toHaveLength(19);
    expect(recv.stderr()).toMatch(/UDP datagram failed authentication .*dropped \(1 forged so far\)/);
    expect(recv.stderr()).toMatch(/UDP loss: 1 frames dropped, 1 datagrams lost/);
  });

  it('every datagram replayed, pairs swapped, forged ENDs and a flood of made-up streams: all frames, replays dropped', async () => {
    const recv = await startReceiver(['--udp', '--json', '--bind', '127.0.0.1'], { env: withSecret(SECRET) });
    let held: Buffer | undefined;
    const relay = await startRelay('127.0.0.1', recv.port, (msg, index, forward) => {
      if (index === 3) {
        // What anyone on the path can make without the secret: plain ENDs and pieces of made-up
        // streams, and sealed-looking datagrams with random salts.
        for (let i = 0; i < 300; i++) {
          forward(endDatagram(randomBytes(4).readUInt32BE(0), 1));
          const fake = randomBytes(120);
          fake.writeUInt16BE(0x5653, 0);
          fake[2] = SEALED_VERSION;
          fake[3] = 0;
          forward(fake);
        }
      }
      // Swap each pair (reordered within the window), and send each datagram twice (replay).
      if (held === undefined && index % 2 === 0) {
        held = msg;
        return;
      }
      forward(msg);
      forward(msg);
      if (held) {
        forward(held);
        forward(held);
        held = undefined;
      }
    });
    const send = vstream(sendArgs(to('127.0.0.1', relay.port)), { env: withSecret(SECRET) });
    expect(await send.exitCode).toBe(0);
    // The END copies: a last odd one may be held; the next copy releases it.
    const [, ended] = await recv.waitForLine(/(?:disconnected|stream ended) after (\d+) frames/, 'stderr');
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    // Replays and reordering cost nothing; on a loaded machine the kernel may still lose a
    // datagram of the burst, which the loss counters must then account for.
    const delivered = jsonLines(recv.stdout()).length;
    expect(delivered).toBe(Number(ended));
    const [, lostFrames] = /UDP loss: (\d+) frames dropped/.exec(recv.stderr()) ?? [];
    expect(delivered + Number(lostFrames)).toBe(20);
    expect(delivered).toBeGreaterThanOrEqual(19);
    // Every datagram the sender sent was forwarded twice: one copy of each dropped as a replay.
    const totals = /problems caused by peers: (.*)$/m.exec(recv.stderr());
    expect(totals, recv.stderr()).not.toBeNull();
    const count = (code: string) => Number(new RegExp(`(\\d+) ${code}`).exec(totals![1]!)?.[1] ?? 0);
    // Less the last END copies, which may still be in flight or held by the swap at the signal.
    expect(count('ERR_UDP_REPLAYED')).toBeLessThanOrEqual(relay.seen());
    expect(count('ERR_UDP_REPLAYED')).toBeGreaterThanOrEqual(relay.seen() - 4);
    expect(count('ERR_UDP_UNSEALED')).toBe(300);
    expect(count('ERR_UDP_FORGED')).toBe(300);
  });
});

describe('--packet-size with a secret', () => {
  it('leaves room for the seal or is a usage error', async () => {
    const run = vstream(['send', '--udp', '--pattern', '--frames', '1', '--packet-size', '100', '--to', '127.0.0.1:9'], { env: withSecret(SECRET) });
    expect(await run.exitCode).toBe(2);
    expect(run.stderr().toString()).toMatch(/with a secret the packet size must be at least 112 bytes/);
  });
});

describe('--ack with a secret', () => {
  it('is a usage error: a reply over UDP would leave unsealed', async () => {
    const run = vstream(['recv', '--udp', '--listen', '0', '--no-window', '--ack', 'Rec'], { env: withSecret(SECRET) });
    expect(await run.exitCode).toBe(2);
    expect(run.stderr().toString()).toMatch(/^vstream: --ack with a shared secret: replies over UDP are not sealed; use TCP for replies\n$/);
  });
});

describe('a UDP receiver without a secret', () => {
  it('says once that its port is open to the network, unless bound to loopback', async () => {
    const open = vstream(['recv', '--udp', '--listen', '0', '--no-window'], { env });
    await open.waitForLine(/note: no --secret-file: anyone who can reach this port can watch or inject streams/, 'stderr');
    open.kill('SIGINT');
    expect(await open.exitCode).toBe(130);
    expect(open.stderr().toString().match(/no --secret-file/g)).toHaveLength(1);
    const bound = vstream(['recv', '--udp', '--listen', '0', '--bind', '127.0.0.1', '--no-window'], { env });
    await bound.waitForLine(/listening on 127\.0\.0\.1:\d+/, 'stderr');
    bound.kill('SIGINT');
    expect(await bound.exitCode).toBe(130);
    expect(bound.stderr().toString()).not.toMatch(/no --secret-file/);
  });
});
