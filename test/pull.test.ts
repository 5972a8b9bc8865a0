/**
 * One live source, many viewers: `send --listen` serves the normal TCP stream to every
 * `recv --connect` that comes, each with its own newest-frame slot, and both ends come back
 * from the other being killed, in either start order. Real processes on loopback.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FFMPEG } from './helpers/ffmpeg.js';
import { freePort } from './helpers/ports.js';
import { PYTHON, PYTHON_FIXTURES } from './helpers/python.js';
import { startProcess, stopAll, vstream, type TestProcess } from './helpers/process.js';

const env = { VSTREAM_FFMPEG: FFMPEG };

afterEach(() => stopAll());

const FAMILIES = [
  { name: 'IPv4', host: '127.0.0.1', url: '127.0.0.1' },
  { name: 'IPv6', host: '::1', url: '[::1]' },
];

/** `send --listen` on a free port, once it says which. */
async function startServer(args: string[]): Promise<{ send: TestProcess; port: number }> {
  const send = vstream(['send', ...args], { env });
  const [, port] = await send.waitForLine(/listening for viewers on (?:port |\S+:)(\d+)/, 'stderr');
  return { send, port: Number(port) };
}

/** A headless viewer printing one JSON line per frame. */
function viewer(address: string, ...args: string[]): TestProcess {
  return vstream(['recv', '--no-window', '--connect', address, '--json', ...args], { env });
}

function jsonLines(proc: TestProcess): { seq: number }[] {
  return proc.output('stdout').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { seq: number });
}

interface Served {
  frames: number;
  viewers: number;
  perViewer: { name: string; sent: number; missed: number }[];
}

/** The sender's summary: `sent N frames (...) to V viewers on port P, D dropped; name: n (m missed), ...`. */
function served(send: TestProcess): Served {
  const line = send.output('stderr').find((l) => /sent \d+ frames .* viewers? on /.test(l));
  if (!line) throw send.describeFailure('no summary line');
  const [, frames, viewers] = /sent (\d+) frames .* to (\d+) viewers? on /.exec(line)!;
  const perViewer = [...line.matchAll(/(\[[^\]]+\]:\d+|[\d.]+:\d+): (\d+)(?: \((\d+) missed\))?/g)].map(([, name, sent, missed]) => ({
    name: name!,
    sent: Number(sent),
    missed: Number(missed ?? 0),
  }));
  return { frames: Number(frames), viewers: Number(viewers), perViewer };
}

/** Frames recv's sinks dropped because they were behind (live frames, newest wins), from its summary. */
function droppedHere(recv: TestProcess): number {
  const line = recv.output('stderr').find((l) => /received \d+ frames/.test(l));
  if (!line) throw recv.describeFailure('no summary line');
  return Number(/, (\d+) here\)/.exec(line)?.[1] ?? 0);
}

/** Frames the connection brought, from recv's line when it ended (cleanly or inside a frame). */
const CONNECTION_ENDED = /(?:disconnected|connection closed) after (\d+) frames/;

async function rssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]);
}

/**
 * The tutorial client (`recvall(sock, 16)`, then the JPEG), except that it reads nothing until
 * it is given a line on stdin: a viewer that stops reading, then catches up. With a tiny receive
 * window, the sender has to stop writing to it almost at once.
 */
const STALLS_THEN_READS = `
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
family = socket.AF_INET6 if ':' in host else socket.AF_INET
client_socket = socket.socket(family, socket.SOCK_STREAM)
client_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
client_socket.connect((host, port))
print('connected', flush=True)
sys.stdin.readline()

from peers import recvall

frames = 0
while True:
    length = recvall(client_socket, 16)
    if length is None:
        break
    data = recvall(client_socket, int(length))
    if data is None:
        break
    frames += 1
    print('frame', frames, len(data), flush=True)
print('end', frames, flush=True)
`;

function stallingViewer(host: string, port: number): TestProcess {
  // stdin stays open: the peer reads nothing until it is written to.
  return startProcess('stalls-then-reads.py', PYTHON, ['-u', '-c', STALLS_THEN_READS, host, String(port)], { env: { ...process.env, PYTHONPATH: PYTHON_FIXTURES } });
}

/** The commands of the sender's children (ffmpeg once the source runs). */
function children(pid: number): string[] {
  try {
    return execFileSync('ps', ['--ppid', String(pid), '-o', 'comm='], { encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    // ps exits 1 when there are none.
    return [];
  }
}

describe.each(FAMILIES)('send --listen, three viewers over $name', ({ host, url }) => {
  it('a viewer that stops reading holds up neither the source nor the others nor memory, and gets frames again once it reads', async () => {
    // Large frames, so that a viewer that reads nothing fills its socket within a second.
    const { send, port } = await startServer(['--pattern', '--size', '1280x720', '--stall-timeout', '300', '--listen', '0']);
    const a = viewer(`${url}:${port}`);
    await a.waitForLines(/^\{/, 1, { stream: 'stdout' });
    const b = viewer(`${url}:${port}`);
    await b.waitForLines(/^\{/, 1, { stream: 'stdout' });
    const stalled = stallingViewer(host, port);
    await stalled.waitForLine(/connected/);
    await send.waitForLines(/viewer .* connected/, 3, { stream: 'stderr' });

    const startSeq = jsonLines(a).at(-1)!.seq;
    await a.waitForLines(/^\{/, jsonLines(a).length + 30, { stream: 'stdout' });
    const rssEarly = await rssKb(send.child.pid!);
    await a.waitForLines(/^\{/, jsonLines(a).length + 120, { stream: 'stdout' });
    await b.waitForLines(/^\{/, jsonLines(b).length + 60, { stream: 'stdout' });
    const rssLate = await rssKb(send.child.pid!);
    // The source went on while one viewer took nothing: the others saw it move on.
    expect(jsonLines(a).at(-1)!.seq - startSeq).toBeGreaterThanOrEqual(150);
    console.log(`send --listen over ${host}, 1280x720, one viewer stalled: VmRSS ${rssEarly} kB, then ${rssLate} kB 120 frames later`);
    expect(rssLate).toBeLessThan(300 * 1024);
    expect(rssLate - rssEarly).toBeLessThan(64 * 1024);

    // Reading again, it gets frames again (what the kernel held for it, then the newest each time).
    stalled.write('read\n');
    await stalled.waitForLines(/^frame /, 10);
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    const summary = served(send);
    console.log(`send --listen over ${host}: ${JSON.stringify(summary)}`);
    expect(summary.viewers).toBe(3);
    expect(summary.perViewer).toHaveLength(3);
    const [forA, forB, forStalled] = summary.perViewer;
    // What a stalled viewer could not take is counted, not queued.
    expect(forStalled!.missed).toBeGreaterThanOrEqual(30);
    expect(forStalled!.sent).toBeLessThan(forA!.sent);
    const [, gotByStalled] = await stalled.waitForLine(/^end (\d+)/);
    expect(Number(gotByStalled)).toBe(forStalled!.sent);
    // Every frame the sender counts for a viewer is one that viewer received, no more, no less.
    for (const [proc, counted] of [
      [a, forA!],
      [b, forB!],
    ] as const) {
      const [, frames] = await proc.waitForLine(CONNECTION_ENDED, 'stderr');
      proc.kill('SIGINT');
      expect(await proc.exitCode).toBe(130);
      expect(Number(frames)).toBe(counted.sent);
      expect(jsonLines(proc).length + droppedHere(proc)).toBe(counted.sent);
    }
  });
});

describe('send --listen and recv --connect, each end killed and started again', () => {
  it('a viewer killed with -9 and started again gets frames again; the sender counts both connections', async () => {
    const { send, port } = await startServer(['--pattern', '--size', '160x120', '--listen', '0']);
    const first = await mkdtemp(join(tmpdir(), 'vstream-pull-a-'));
    const second = await mkdtemp(join(tmpdir(), 'vstream-pull-b-'));
    const a = viewer(`127.0.0.1:${port}`, '--save-dir', first);
    await a.waitForLines(/^\{/, 10, { stream: 'stdout' });
    a.kill('SIGKILL');
    await send.waitForLine(/viewer 127\.0\.0\.1:\d+ disconnected after \d+ frames/, 'stderr');
    const again = viewer(`127.0.0.1:${port}`, '--save-dir', second);
    await again.waitForLines(/^\{/, 10, { stream: 'stdout' });
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    const summary = served(send);
    expect(summary.viewers).toBe(2);
    const [forA, forAgain] = summary.perViewer;
    // A viewer killed outright had not written all that the sender counts for it.
    const savedByA = (await readdir(first)).length;
    expect(savedByA).toBeGreaterThan(0);
    // The frame in flight when it died may be on its disk and not yet counted by the sender
    // (which counts a frame once the kernel has taken all of it), or counted and never saved.
    expect(forA!.sent).toBeGreaterThanOrEqual(10);
    expect(savedByA).toBeLessThanOrEqual(forA!.sent + 1);
    // The one still running when the sender stopped received exactly what the sender counts,
    // and saved each of them but those its sinks were too far behind for (live frames).
    const [, received] = await again.waitForLine(CONNECTION_ENDED, 'stderr');
    again.kill('SIGINT');
    expect(await again.exitCode).toBe(130);
    expect(Number(received)).toBe(forAgain!.sent);
    const saved = (await readdir(second)).length;
    // --json and --save-dir are sinks side by side: a live frame one of them was too far behind
    // for is still on the other's record, so ten JSON lines need not be ten files.
    expect(saved).toBeGreaterThan(0);
    expect(saved).toBeLessThanOrEqual(forAgain!.sent);
    expect(saved + droppedHere(again)).toBeGreaterThanOrEqual(forAgain!.sent);
  });

  it('recv --connect started before the sender waits for it, and comes back after the sender is killed with -9 and started again', async () => {
    const port = await freePort();
    const recv = viewer(`127.0.0.1:${port}`);
    await recv.waitForLine(/connecting to 127\.0\.0\.1:\d+/, 'stderr');
    await recv.waitForLine(/connection refused .*; retrying \(--retry\)/, 'stderr');
    const send1 = vstream(['send', '--pattern', '--size', '160x120', '--listen', String(port)], { env });
    await recv.waitForLines(/^\{/, 10, { stream: 'stdout' });
    send1.kill('SIGKILL');
    await send1.exited;
    const [, firstFrames] = await recv.waitForLine(CONNECTION_ENDED, 'stderr');
    // One line for the outage, however many attempts it takes.
    const outage = recv.output('stderr').length;
    await recv.waitForLine(/connection refused .*; retrying \(--retry\)/, { stream: 'stderr', from: outage });
    const send2 = vstream(['send', '--pattern', '--size', '160x120', '--listen', String(port)], { env });
    await send2.waitForLine(/viewer 127\.0\.0\.1:\d+ connected/, 'stderr');
    await recv.waitForLines(/^\{/, Number(firstFrames) + 10, { stream: 'stdout' });
    expect(recv.output('stderr').slice(outage).filter((l) => /retrying/.test(l))).toHaveLength(1);
    // Back: recv names the sender that connected, as for any sender.
    expect(recv.output('stderr').slice(outage).filter((l) => /127\.0\.0\.1:\d+ connected/.test(l))).toHaveLength(1);

    send2.kill('SIGINT');
    expect(await send2.exitCode).toBe(130);
    const [forRecv] = served(send2).perViewer;
    const [, secondFrames] = await recv.waitForLine(CONNECTION_ENDED, { stream: 'stderr', from: outage });
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    expect(Number(secondFrames)).toBe(forRecv!.sent);
    expect(jsonLines(recv).length + droppedHere(recv)).toBe(Number(firstFrames) + Number(secondFrames));
  });

  it('recv --connect --retry 0 against nothing listening fails at once with exit 3, in one line', async () => {
    const recv = viewer(`127.0.0.1:${await freePort()}`, '--retry', '0');
    expect(await recv.exitCode).toBe(3);
    expect(recv.stderr().trim().split('\n')).toHaveLength(1);
    expect(recv.stderr()).toMatch(/cannot connect to 127\.0\.0\.1:\d+: connection refused/);
  });

  it('recv --connect --retry SECONDS gives up after that long with exit 3', async () => {
    const recv = viewer(`127.0.0.1:${await freePort()}`, '--retry', '0.5');
    expect(await recv.exitCode).toBe(3);
    const lines = recv.stderr().trim().split('\n');
    // What it does, the outage, and the error once --retry has run out.
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/connecting to 127\.0\.0\.1:\d+/);
    expect(lines[1]).toMatch(/retrying \(--retry\)/);
    expect(lines[2]).toMatch(/connection refused/);
  });

  it('recv --connect [::1]:PORT reaches a sender bound to ::1, and --frames ends it', async () => {
    const { send, port } = await startServer(['--pattern', '--size', '160x120', '--bind', '::1', '--listen', '0']);
    const recv = viewer(`[::1]:${port}`, '--frames', '5');
    expect(await recv.exitCode).toBe(0);
    expect(jsonLines(recv)).toHaveLength(5);
    await send.waitForLine(/viewer \[::1\]:\d+ disconnected after \d+ frames/, 'stderr');
  });
});

describe('send --listen', () => {
  it('starts the source with the first viewer', async () => {
    const { send, port } = await startServer(['--pattern', '--size', '160x120', '--listen', '0']);
    expect(children(send.child.pid!)).toEqual([]);
    const recv = viewer(`127.0.0.1:${port}`, '--frames', '3');
    expect(await recv.exitCode).toBe(0);
    expect(children(send.child.pid!)).toContain('ffmpeg');
  });

  it('starts it at once with --eager, so that a missing file fails at once with its own error', async () => {
    const send = vstream(['send', '--file', '/no/such/video.mp4', '--eager', '--listen', '0'], { env });
    expect(await send.exitCode).toBe(4);
    expect(send.stderr()).toMatch(/file not found: \/no\/such\/video\.mp4/);
  });

  it('a missing file fails with its own error when the first viewer comes', async () => {
    const { send, port } = await startServer(['--file', '/no/such/video.mp4', '--listen', '0']);
    viewer(`127.0.0.1:${port}`);
    expect(await send.exitCode).toBe(4);
    expect(send.stderr().trim().split('\n').at(-1)).toMatch(/file not found: \/no\/such\/video\.mp4$/);
  });

  it('refuses a viewer over --max-viewers with a line, and lets go of one that stops reading', async () => {
    const { send, port } = await startServer(['--pattern', '--size', '1280x720', '--max-viewers', '2', '--stall-timeout', '2', '--listen', '0']);
    const a = viewer(`127.0.0.1:${port}`);
    await a.waitForLines(/^\{/, 1, { stream: 'stdout' });
    const stalled = stallingViewer('127.0.0.1', port);
    await stalled.waitForLine(/connected/);
    const refused = viewer(`127.0.0.1:${port}`);
    await send.waitForLine(/refused a viewer from 127\.0\.0\.1:\d+: 2 viewers are connected \(--max-viewers\) \(ERR_TOO_MANY_VIEWERS\)/, 'stderr');
    await send.waitForLine(/viewer 127\.0\.0\.1:\d+ stopped reading: nothing could be sent to it for 2 s .* after \d+ frames \(\d+ missed\) \(ERR_STALLED\)/, 'stderr');
    // Its place is free: the viewer refused before gets in on its next try.
    await refused.waitForLines(/^\{/, 1, { stream: 'stdout' });
    const before = jsonLines(a).length;
    await a.waitForLines(/^\{/, before + 10, { stream: 'stdout' });
  });

  it('refuses options that need a receiver to connect to', async () => {
    for (const args of [
      ['send', '--listen', '0', '--to', '127.0.0.1:9'],
      ['send', '--listen', '0', '--retry', '1'],
      ['send', '--listen', '0', '--udp'],
      ['send', '--eager'],
      ['recv', '--connect', '127.0.0.1:9', '--listen', '9000'],
      ['recv', '--connect', '127.0.0.1:9', '--udp'],
      ['recv', '--retry', '1'],
    ]) {
      const proc = vstream(args, { env });
      expect(await proc.exitCode, args.join(' ')).toBe(2);
      expect(proc.stderr().trim().split('\n'), args.join(' ')).toHaveLength(1);
    }
  });
});
