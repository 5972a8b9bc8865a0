/**
 * `vstream send --udp` -> `vstream recv --udp`, the real CLI processes, mostly through the
 * lossy relay (test/helpers/lossy-relay.ts): its record of what it forwarded, in which order,
 * says exactly which frames the receiver must deliver, with which bytes and which counters.
 */
import { describe, it, expect, afterEach, beforeAll } from 'vitest';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopAll, startReceiver, vstream, type TestProcess, jsonLines } from './helpers/process.js';
import { FFMPEG } from './helpers/ffmpeg.js';
import { imageInfo, makeJpeg } from './helpers/jpeg.js';
import { startRelay, type LossyRelay, type ExpectedStream } from './helpers/lossy-relay.js';
import { readMetadata, withoutMetadata } from '../src/frame/metadata.js';
import { encodeDatagramHeader, DatagramType } from '../src/frame/udp-datagram.js';
import { freeUdpPort } from './helpers/ports.js';

const env = { VSTREAM_FFMPEG: FFMPEG };
const relays: LossyRelay[] = [];
afterEach(async () => {
  await stopAll();
  await Promise.all(relays.splice(0).map((r) => r.close()));
});

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'vstream-udp-e2e-'));
});

const tmp = (name: string) => mkdtemp(join(work, `${name}-`));
const to = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/** Waits until the receiver has reported the stream over, then stops it (Ctrl-C) for its summary. */
async function finish(recv: TestProcess): Promise<void> {
  await recv.waitForLine(/(disconnected|stream ended) after \d+ frames/, 'stderr');
  recv.kill('SIGINT');
  expect(await recv.exitCode).toBe(130);
}

/** Resolves when `condition` holds; a guard against a hang, not a synchronisation by time. */
async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The one stream the relay saw, with what it says must be delivered. */
function onlyStream(relay: LossyRelay): { key: string; expected: ExpectedStream } {
  const expected = relay.expected();
  expect(expected.size).toBe(1);
  const [[key, stream]] = [...expected];
  return { key: key!, expected: stream! };
}

/**
 * The core check of a run through the relay: the JSON lines are exactly the frames the relay's
 * record says must be delivered, in order, each with the counters the record implies; each
 * saved file is byte for byte the frame the relay forwarded whole, and decodes.
 */
async function checkAgainstRelay(relay: LossyRelay, records: Array<Record<string, unknown>>, dir: string): Promise<ExpectedStream> {
  const { key, expected } = onlyStream(relay);
  const payloads = expected.delivered.map(({ frameSeq }) => relay.payload(key, frameSeq)!);
  const seqs = payloads.map((payload) => readMetadata(payload)!.seq);
  expect(records.map((r) => r.seq)).toEqual(seqs);
  expect(records.map((r) => [r.framesReceived, r.framesDropped, r.datagramsLost])).toEqual(
    expected.delivered.map(({ loss }) => [loss.framesReceived, loss.framesDropped, loss.datagramsLost]),
  );
  // Saved files are numbered in the order they arrived, whatever gaps the losses left in seq.
  const names = seqs.map((_, i) => `${String(i).padStart(6, '0')}.jpg`);
  expect((await readdir(dir)).sort()).toEqual(names);
  for (const [i, name] of names.entries()) {
    const saved = await readFile(join(dir, name));
    expect(saved.equals(Buffer.concat(withoutMetadata(payloads[i]!)))).toBe(true);
    expect((await imageInfo(saved)).format).toBe('jpeg');
  }
  return expected;
}

function summaryLoss(recv: TestProcess): [number, number] {
  const match = /received \d+ frames .*UDP loss: (\d+) frames dropped, (\d+) datagrams lost/.exec(recv.stderr());
  expect(match, recv.stderr()).not.toBeNull();
  return [Number(match![1]), Number(match![2])];
}

describe.each([['127.0.0.1'], ['::1']])('send --udp -> relay -> recv --udp over %s', (host) => {
  it('delivers every frame of a clean link; each decodes and is byte-identical to what was sent', async () => {
    const dir = await tmp('clean');
    const recv = await startReceiver(['--udp', '--json', '--save-dir', dir], { env });
    expect(recv.stderr()).toMatch(/listening on port \d+ \(UDP, IPv4 and IPv6\)/);
    const relay = await startRelay({ target: { host, port: recv.port }, host });
    relays.push(relay);
    const send = vstream(['send', '--udp', '--pattern', '--size', '320x240', '--fps', '60', '--frames', '20', '--label', 'clean', '--to', to(host, relay.port)], {
      env,
    });
    expect(await send.exitCode).toBe(0);
    expect(send.stderr()).toMatch(/sent 20 frames .* over UDP/);
    await finish(recv);
    const records = jsonLines(recv.stdout());
    const expected = await checkAgainstRelay(relay, records, join(dir, 'clean'));
    expect(records).toHaveLength(20);
    expect(expected.final).toEqual({ framesReceived: 20, framesDropped: 0, datagramsLost: 0 });
    expect(records.every((r) => r.sender === 'clean' && r.width === 320 && r.height === 240)).toBe(true);
    expect(String(records[0]!.peer)).toMatch(host === '::1' ? /^\[::1\]:\d+$/ : /^127\.0\.0\.1:\d+$/);
    expect(summaryLoss(recv)).toEqual([0, 0]);
  });
});

describe('through a lossy relay (fixed seeds)', () => {
  it.each([
    { drop: 0.05, duplicate: 0.05, reorder: 0.1, seed: 3 },
    { drop: 0.01, duplicate: 0.02, reorder: 0.2, seed: 11 },
  ])('never delivers a corrupt frame, delivers exactly what the losses allow, counts them exactly (drop $drop)', async (losses) => {
    const dir = await tmp('lossy');
    // A generous --max-age: the relay's reordering is by count, and timing must not decide.
    const recv = await startReceiver(['--udp', '--json', '--save-dir', dir, '--max-age', '2000'], { env });
    const relay = await startRelay({ target: { host: '127.0.0.1', port: recv.port }, maxHold: 8, ...losses });
    relays.push(relay);
    // 640x480 at 1200-byte datagrams: about 30 pieces a frame, so most frames lose one at 5 %.
    const args = ['send', '--udp', '--pattern', '--size', '640x480', '--fps', '30', '--frames', '120', '--packet-size', '1200'];
    const send = vstream([...args, '--label', 'lossy', '--to', to('127.0.0.1', relay.port)], { env });
    expect(await send.exitCode).toBe(0);
    await finish(recv);
    expect(relay.counts.dropped).toBeGreaterThan(0);
    expect(relay.counts.duplicated).toBeGreaterThan(0);
    expect(relay.counts.held).toBeGreaterThan(0);

    const records = jsonLines(recv.stdout());
    const expected = await checkAgainstRelay(relay, records, join(dir, 'lossy'));
    // The seeds are chosen so that both outcomes happen.
    expect(expected.delivered.length).toBeGreaterThan(0);
    expect(expected.final.framesDropped).toBeGreaterThan(0);
    expect(expected.final.framesReceived + expected.final.framesDropped).toBe(120);
    expect(summaryLoss(recv)).toEqual([expected.final.framesDropped, expected.final.datagramsLost]);

    // Cross-check with the relay's plain tally. Every datagram it dropped belonged to a frame
    // never delivered, and no forwarded piece can be late: a piece is held for at most 8 arrivals,
    // too few for a newer frame of more pieces than that to complete first; END is never
    // dropped. So the receiver's lost datagrams are exactly the relay's drops.
    const { key } = onlyStream(relay);
    const pieceCounts = [...relay.streams.get(key)!.frames.values()].map((f) => f.pieceCount);
    expect(Math.min(...pieceCounts)).toBeGreaterThan(8);
    expect(expected.final.datagramsLost).toBe(relay.counts.dropped);
  });
});

describe('several UDP senders at once', () => {
  it('keeps each apart, named by label, over IPv4 and IPv6 on one port, with per-sender stats', async () => {
    const dest = await tmp('multi');
    const recv = await startReceiver(['--udp', '--json', '--save-dir', dest, '--stats', '--frames', '90'], { env });
    const a = vstream(['send', '--udp', '--pattern', '--size', '160x120', '--label', 'alpha', '--to', to('127.0.0.1', recv.port)], { env });
    await recv.waitForLine(/connected/, 'stderr');
    const b = vstream(['send', '--udp', '--pattern', '--size', '320x240', '--label', 'beta', '--to', to('::1', recv.port)], { env });
    await recv.waitForLine(/beta: \d+ fps.*UDP loss: \d+ frames dropped, \d+ datagrams lost/, 'stderr');
    expect(await recv.exitCode).toBe(0);
    const records = jsonLines(recv.stdout());
    const alpha = records.filter((r) => r.sender === 'alpha');
    const beta = records.filter((r) => r.sender === 'beta');
    expect(alpha.length + beta.length).toBe(90);
    expect(alpha.every((r) => r.width === 160 && String(r.peer).startsWith('127.0.0.1:'))).toBe(true);
    expect(beta.every((r) => r.width === 320 && String(r.peer).startsWith('[::1]:'))).toBe(true);
    // Each stream counts its own frames.
    expect(alpha.map((r) => r.framesReceived)).toEqual(alpha.map((_, i) => i + 1));
    expect(beta.map((r) => r.framesReceived)).toEqual(beta.map((_, i) => i + 1));
    expect((await readdir(dest)).sort()).toEqual(['alpha', 'beta']);
    expect((await readdir(join(dest, 'alpha'))).length).toBe(alpha.length);
    expect((await readdir(join(dest, 'beta'))).length).toBe(beta.length);
    // Two unpaced senders on a loaded machine can overflow the socket buffer, so the loss is not
    // asserted to be 0 here; that it is counted exactly is the relay test's job above.
    expect(recv.stderr()).toMatch(/from 2 senders, \d+ dropped(?: \(.*\))?; UDP loss: \d+ frames dropped, \d+ datagrams lost/);
    a.kill('SIGINT');
    b.kill('SIGINT');
    await Promise.all([a.exitCode, b.exitCode]);
  });
});

describe('receiver memory under a flood', () => {
  function rssKb(pid: number): number {
    return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  }

  it.runIf(process.platform === 'linux')('stays bounded while hostile datagrams and a fast sender flood it, and the real stream goes on', async () => {
    const recv = await startReceiver(['--udp', '--json'], { env });
    const pid = recv.child.pid!;
    const baseline = rssKb(pid);
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKb(pid))), 20);
    try {
      const send = vstream(['send', '--udp', '--pattern', '--size', '1280x720', '--fps', 'max', '--label', 'real', '--to', to('::1', recv.port)], { env });
      await recv.waitForLine(/"sender":"real"/, 'stdout');
      // Frames announcing 23.5 MB in 20000 pieces (as big as the reassembly memory accepts), from
      // 40 source ports with 7 stream ids each: every limit (pending bytes, frames per stream,
      // streams) is hit over and over.
      const sockets = Array.from({ length: 40 }, () => createSocket('udp4'));
      const piece = Buffer.alloc(1176, 0xab);
      let sent = 0;
      for (let round = 0; round < 60; round++) {
        for (const [s, socket] of sockets.entries()) {
          for (let i = 0; i < 40; i++) {
            const streamId = s * 1000 + (round % 7);
            const frameSeq = round * 40 + i;
            const header = encodeDatagramHeader({ type: DatagramType.PIECE, streamId, frameSeq, pieceIndex: i, pieceCount: 20_000, frameLength: 20_000 * 1176, offset: i * 1176 });
            socket.send([header, piece], recv.port, '127.0.0.1');
            sent++;
          }
        }
        // Let the receiver read: the point is what it holds, not how much the kernel drops.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(sent).toBe(96_000);
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
      // The real stream still gets through after the flood.
      const before = jsonLines(recv.stdout()).length;
      await until(() => jsonLines(recv.stdout()).length >= before + 10, 'ten more frames of the real stream');
      send.kill('SIGINT');
      await send.exitCode;
    } finally {
      clearInterval(sampler);
    }
    recv.kill('SIGINT');
    await recv.exitCode;
    // At most 32 MiB of incomplete frames and 32 MiB of queued ones on top of the baseline (seen:
    // about +35 MB). Unbounded, 96 000 pieces would hold 113 MB of payload and 23.5 MB frames.
    expect(peak - baseline, `baseline ${baseline} kB, peak ${peak} kB`).toBeLessThan(100 * 1024);
  });
});

describe('send --udp when nobody listens', () => {
  it('a live source warns once and goes on (a receiver may start later)', async () => {
    const send = vstream(['send', '--udp', '--pattern', '--size', '160x120', '--frames', '15', '--to', `127.0.0.1:${await freeUdpPort()}`], { env });
    expect(await send.exitCode).toBe(0);
    expect(send.stderr().match(/nobody is listening on UDP/g)).toHaveLength(1);
    expect(send.stderr()).toMatch(/sent 15 frames .* datagrams refused \(nobody listening\)/);
  });

  it('a folder transfer fails at once with exit 3, in one line', async () => {
    const src = await tmp('dir');
    for (let i = 0; i < 20; i++) await writeFile(join(src, `${i}.jpg`), await makeJpeg({ width: 64, height: 48 }));
    const send = vstream(['send', '--udp', '--dir', src, '--fps', '30', '--to', `127.0.0.1:${await freeUdpPort()}`], { env });
    expect(await send.exitCode).toBe(3);
    expect(send.stderr().trim().split('\n')).toHaveLength(1);
    expect(send.stderr()).toMatch(/nobody is listening on UDP 127\.0\.0\.1:\d+/);
  });
});

describe('recv --udp --bind', () => {
  it('listens on the given address only', async () => {
    const recv = await startReceiver(['--udp', '--bind', '127.0.0.1', '--json', '--frames', '3'], { env });
    expect(recv.stderr()).toMatch(/listening on 127\.0\.0\.1:\d+ \(UDP\)/);
    const src = await tmp('bind');
    await writeFile(join(src, 'a.jpg'), await makeJpeg({ width: 64, height: 48 }));
    // Nothing listens on ::1 at that port: a file transfer says so and fails.
    const v6 = vstream(['send', '--udp', '--dir', src, '--to', to('::1', recv.port)], { env });
    expect(await v6.exitCode).toBe(3);
    expect(v6.stderr()).toMatch(/nobody is listening on UDP \[::1\]:\d+/);
    vstream(['send', '--udp', '--pattern', '--size', '160x120', '--to', to('127.0.0.1', recv.port)], { env });
    expect(await recv.exitCode).toBe(0);
    expect(jsonLines(recv.stdout())).toHaveLength(3);
  });
});

describe('legacy mode, vstream at both ends', () => {
  it('send --udp --legacy -> relay -> recv --udp --legacy: frames arrive and replies go back', async () => {
    const dir = await tmp('legacy');
    const recv = await startReceiver(['--udp', '--legacy', '--save-dir', dir], { env });
    expect(recv.stderr()).toMatch(/listening on port \d+ \(UDP, legacy format, IPv4 and IPv6\)/);
    const relay = await startRelay({ target: { host: '127.0.0.1', port: recv.port } });
    relays.push(relay);
    const send = vstream(['send', '--udp', '--legacy', '--pattern', '--size', '160x120', '--frames', '5', '--to', to('127.0.0.1', relay.port)], { env });
    expect(await send.exitCode).toBe(0);
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    expect(await readdir(dir)).toHaveLength(5);
    // Each image waited for its reply, which came back through the relay.
    expect(relay.counts.replies).toBeGreaterThanOrEqual(5);
  });
});

describe('UDP usage and network errors: one line, the right exit code', () => {
  async function fails(args: string[], code: number, message: RegExp) {
    const run = vstream(args, { env });
    expect(await run.exitCode).toBe(code);
    expect(run.stderr().trim().split('\n')).toHaveLength(1);
    expect(run.stderr()).toMatch(message);
  }
  it('--wait-ack with --udp', () => fails(['send', '--udp', '--wait-ack'], 2, /--wait-ack does not apply to --udp/));
  it('UDP options without --udp', async () => {
    await fails(['send', '--packet-size', '1400'], 2, /--packet-size needs --udp/);
    await fails(['send', '--legacy'], 2, /--legacy needs --udp/);
    await fails(['recv', '--no-window', '--max-age', '100'], 2, /--max-age needs --udp/);
  });
  it('bad --packet-size and --max-age', async () => {
    await fails(['send', '--udp', '--packet-size', '63'], 2, /--packet-size "63": expected a whole number from 64 to 65507/);
    await fails(['send', '--udp', '--packet-size', '65508'], 2, /--packet-size/);
    await fails(['recv', '--udp', '--no-window', '--max-age', '0'], 2, /--max-age/);
  });
  it('busy UDP port', async () => {
    const recv = await startReceiver(['--udp'], { env });
    await fails(['recv', '--udp', '--no-window', '--json', '--listen', String(recv.port)], 3, /port \d+: address already in use/);
  });
});
