/**
 * `recv --ack-mode`: replies that just work. Real `vstream recv` processes on loopback, with the
 * two reference senders written here as a tutorial writes them:
 *
 * - the Raspberry Pi camera loop in Python: `sendall(str(len(jpg)).ljust(16).encode())`,
 *   `sendall(jpg)`, as fast as it can, never reading; it closes at once when done. Replies it
 *   never reads would make its close() a reset and lose the frames still in its socket.
 * - the C++ client's stop-and-wait, in C: the 16-byte header in one send(), the JPEG one byte
 *   per send(), then a blocking recv() of the reply before the next frame.
 *
 * With no ack option, one receiver serves both on one port at once.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeJpeg } from './helpers/jpeg.js';
import { startProcess, startReceiver, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON } from './helpers/python.js';
import { TcpFrameReceiver } from '../src/transport/tcp-receiver.js';
import { tcpFrame } from '../src/frame/framer.js';
import type { Problem } from '../src/problems.js';

const HAVE_CC = (() => {
  try {
    execFileSync('cc', ['--version'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
})();
if (!HAVE_CC) console.warn('ack-mode.test.ts: no C compiler (cc): the C sender cases are SKIPPED');
if (!HAVE_CV2) console.warn(`ack-mode.test.ts: the Python sender cases are SKIPPED: ${CV2_SKIP_REASON}`);

const hasIpv6 = await new Promise<boolean>((resolve) => {
  const server = createServer();
  server.once('error', () => resolve(false));
  server.listen({ host: '::1', port: 0 }, () => server.close(() => resolve(true)));
});

/** The Pi camera loop: N frames as fast as it can, never reading; before closing it looks (without waiting) for bytes from the receiver. */
const PI_SENDER = String.raw`
import socket, sys
import cv2
import numpy as np

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
look = sys.argv[4] if len(sys.argv) > 4 else 'peek'

# A few camera pictures, encoded before connecting so that the loop below sends back to back.
rng = np.random.default_rng(7)
jpegs = []
for i in range(4):
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    ok, jpg = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
    jpegs.append(jpg.tobytes())

sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))
print('connected', sock.getsockname()[1], flush=True)
for i in range(count):
    jpg = jpegs[i % len(jpegs)]
    sock.sendall(str(len(jpg)).ljust(16).encode())
    sock.sendall(jpg)
print('sent', count, flush=True)

if look == 'wait':
    sock.settimeout(10)
    got = len(sock.recv(1024))
else:
    try:
        got = len(sock.recv(1024, socket.MSG_DONTWAIT))
    except BlockingIOError:
        got = 0
print('unread', got, flush=True)
sock.close()
`;

/** The same loop, but the connection ends with a reset once every byte has reached the receiver's kernel. */
const RESETTING_SENDER = String.raw`
import fcntl, socket, struct, sys, termios, time
import cv2
import numpy as np

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
frame = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
ok, jpg = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
jpg = jpg.tobytes()
sock = socket.socket(socket.AF_INET6 if ':' in host else socket.AF_INET, socket.SOCK_STREAM)
sock.connect((host, port))
print('connected', sock.getsockname()[1], flush=True)
for i in range(count):
    sock.sendall(str(len(jpg)).ljust(16).encode())
    sock.sendall(jpg)

def unacked():
    buf = fcntl.ioctl(sock, termios.TIOCOUTQ, struct.pack('i', 0))
    return struct.unpack('i', buf)[0]

# Every byte acknowledged by the receiver's kernel (read by vstream or not): only then reset.
while unacked() > 0:
    time.sleep(0.001)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
sock.close()
print('reset', count, flush=True)
`;

/** The C++ client's stop-and-wait: header, JPEG one byte per send(), blocking recv() of the reply. */
const WAITING_SENDER_C = String.raw`
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 6) { fprintf(stderr, "usage: waiting_sender HOST PORT COUNT JPEG TIMEOUT_S\n"); return 64; }
    setvbuf(stdout, NULL, _IOLBF, 0);
    FILE *file = fopen(argv[4], "rb");
    if (!file) { perror("fopen"); return 1; }
    fseek(file, 0, SEEK_END);
    long size = ftell(file);
    fseek(file, 0, SEEK_SET);
    unsigned char *jpeg = malloc(size);
    if (fread(jpeg, 1, size, file) != (size_t)size) { perror("fread"); return 1; }
    fclose(file);

    struct addrinfo hints, *addr;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(argv[1], argv[2], &hints, &addr) != 0) { fprintf(stderr, "getaddrinfo failed\n"); return 1; }
    int sock = socket(addr->ai_family, SOCK_STREAM, 0);
    if (connect(sock, addr->ai_addr, addr->ai_addrlen) != 0) { perror("connect"); return 1; }
    struct timeval timeout = { atoi(argv[5]), 0 };
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    struct sockaddr_storage local;
    socklen_t length = sizeof local;
    getsockname(sock, (struct sockaddr *)&local, &length);
    printf("connected %d\n", ntohs(((struct sockaddr_in *)&local)->sin_port));

    int count = atoi(argv[3]);
    for (int i = 0; i < count; i++) {
        char header[17];
        snprintf(header, sizeof header, "%-16ld", size);
        send(sock, header, 16, 0);
        for (long j = 0; j < size; j++) send(sock, jpeg + j, 1, 0);
        char reply[1024];
        ssize_t got = recv(sock, reply, sizeof reply, 0);
        if (got <= 0) { printf("no reply %d\n", i); return 2; }
        printf("reply %d %.*s\n", i, (int)got, reply);
    }
    close(sock);
    printf("done %d\n", count);
    return 0;
}
`;

interface Family {
  name: string;
  host: string;
  hostInUrl: string;
}
const IPV4: Family = { name: 'IPv4', host: '127.0.0.1', hostInUrl: '127.0.0.1' };
const IPV6: Family = { name: 'IPv6', host: '::1', hostInUrl: '[::1]' };

let dir: string;
let waitingSender: string;
let jpegFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vstream-ack-'));
  await writeFile(join(dir, 'pi_sender.py'), PI_SENDER);
  await writeFile(join(dir, 'resetting_sender.py'), RESETTING_SENDER);
  await writeFile(join(dir, 'waiting_sender.c'), WAITING_SENDER_C);
  waitingSender = join(dir, 'waiting_sender');
  if (HAVE_CC) execFileSync('cc', ['-O2', '-Wall', '-o', waitingSender, join(dir, 'waiting_sender.c')], { stdio: 'pipe' });
  jpegFile = join(dir, 'frame.jpg');
  await writeFile(jpegFile, await makeJpeg({ width: 160, height: 120 }));
});

afterEach(() => stopAll());
afterAll(() => rm(dir, { recursive: true, force: true }));

function piSender(family: Family, port: number, count: number, look: 'peek' | 'wait' = 'peek'): TestProcess {
  return startProcess('pi_sender.py', PYTHON, ['-u', join(dir, 'pi_sender.py'), family.host, String(port), String(count), look]);
}

function cSender(family: Family, port: number, count: number, timeoutSeconds = 20): TestProcess {
  return startProcess('waiting_sender', waitingSender, [family.host, String(port), String(count), jpegFile, String(timeoutSeconds)]);
}

async function localPort(sender: TestProcess): Promise<number> {
  const [, port] = await sender.waitForLine(/^connected (\d+)$/, 'stdout');
  return Number(port);
}

/** The `peer` of every `--json` line of recv. */
function framesByPeer(recv: TestProcess): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of recv.output('stdout')) {
    if (!line.startsWith('{')) continue;
    const { peer } = JSON.parse(line) as { peer: string };
    counts.set(peer, (counts.get(peer) ?? 0) + 1);
  }
  return counts;
}

async function expectExit(proc: TestProcess, code: number): Promise<void> {
  const info = await proc.exited;
  if (info.code !== code) throw proc.describeFailure(`expected exit code ${code}, got ${info.signal ?? info.code}`);
}

function disconnected(recv: TestProcess, peer: string, frames: number): Promise<unknown> {
  const escaped = peer.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return recv.waitForLine(new RegExp(`^vstream: ${escaped} disconnected after ${frames} frames$`), 'stderr');
}


const PAIRS: [Family, Family][] = hasIpv6 ? [[IPV4, IPV6], [IPV6, IPV4]] : [[IPV4, IPV4]];

describe.skipIf(!HAVE_CV2 || !HAVE_CC)('recv with no ack option (auto)', () => {
  it.each(PAIRS.map(([py, c]) => [py.name, c.name, py, c] as const))(
    'serves the Pi loop (%s, never reads) and the waiting C client (%s) on one port at once: every frame, N replies to the one, none to the other',
    async (_py, _c, pyFamily, cFamily) => {
      const PI_FRAMES = 40;
      const C_FRAMES = 5;
      const recv = await startReceiver(['--json', '--save-dir', join(dir, `both-${pyFamily.name}`)]);
      const pi = piSender(pyFamily, recv.port, PI_FRAMES);
      const waiting = cSender(cFamily, recv.port, C_FRAMES);
      const [piPort, cPort] = await Promise.all([localPort(pi), localPort(waiting)]);
      await Promise.all([expectExit(pi, 0), expectExit(waiting, 0)]);

      expect(pi.output('stdout')).toContain('unread 0');
      const replies = waiting.output('stdout').filter((line) => line.startsWith('reply '));
      expect(replies).toEqual(Array.from({ length: C_FRAMES }, (_, i) => `reply ${i} OK`));

      const piPeer = `${pyFamily.hostInUrl}:${piPort}`;
      const cPeer = `${cFamily.hostInUrl}:${cPort}`;
      await Promise.all([disconnected(recv, piPeer, PI_FRAMES), disconnected(recv, cPeer, C_FRAMES)]);
      await recv.waitForLines(/^\{/, PI_FRAMES + C_FRAMES, { stream: 'stdout' });
      const counts = framesByPeer(recv);
      expect(counts.get(piPeer)).toBe(PI_FRAMES);
      expect(counts.get(cPeer)).toBe(C_FRAMES);
      expect(recv.stderr()).not.toMatch(/ERR_/);
      recv.kill('SIGINT');
      await expectExit(recv, 130);
    },
  );
});

describe.skipIf(!HAVE_CC)('the waiting C client', () => {
  it('gets no reply with --ack-mode never (it gives up after its 1 s receive timeout), though its frame arrived', async () => {
    const recv = await startReceiver(['--json', '--ack-mode', 'never']);
    const waiting = cSender(IPV4, recv.port, 3, 1);
    await recv.waitForLine(/^\{/, 'stdout');
    await expectExit(waiting, 2);
    expect(waiting.output('stdout').filter((l) => l.startsWith('reply'))).toEqual([]);
    expect(waiting.output('stdout')).toContain('no reply 0');
    expect(framesByPeer(recv).size).toBe(1);
  });

  it('gets the reply to its only frame from recv --frames 1, which exits within the quiet time', async () => {
    const recv = await startReceiver(['--json', '--frames', '1']);
    const waiting = cSender(IPV4, recv.port, 1);
    await expectExit(waiting, 0);
    expect(waiting.output('stdout')).toContain('reply 0 OK');
    await expectExit(recv, 0);
  });

  it('gets every reply with --ack-mode always and --ack TEXT', async () => {
    const recv = await startReceiver(['--json', '--ack-mode', 'always', '--ack', 'received']);
    const waiting = cSender(IPV4, recv.port, 3);
    await expectExit(waiting, 0);
    expect(waiting.output('stdout').filter((l) => l.startsWith('reply'))).toEqual(['reply 0 received', 'reply 1 received', 'reply 2 received']);
  });
});

describe.skipIf(!HAVE_CV2)('the Pi loop', () => {
  it('is replied to with --ack-mode always, as before auto: replies it does not read wait in its socket', async () => {
    const recv = await startReceiver(['--json', '--ack-mode', 'always']);
    const pi = piSender(IPV4, recv.port, 20, 'wait');
    await expectExit(pi, 0);
    const [, unread] = (await pi.waitForLine(/^unread (\d+)$/, 'stdout'))!;
    expect(Number(unread)).toBeGreaterThan(0);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('keeps every complete frame of a connection that ends with a reset (ECONNRESET)', async () => {
    const FRAMES = 30;
    const recv = await startReceiver(['--json']);
    const sender = startProcess('resetting_sender.py', PYTHON, ['-u', join(dir, 'resetting_sender.py'), '127.0.0.1', String(recv.port), String(FRAMES)]);
    const port = await localPort(sender);
    await expectExit(sender, 0);
    // The reset itself is news (ERR_CONNECTION_CLOSED); the frames before it are all kept.
    await recv.waitForLine(new RegExp(`^vstream: 127\\.0\\.0\\.1:${port}.* after ${FRAMES} frames\\b`), 'stderr');
    expect(framesByPeer(recv).get(`127.0.0.1:${port}`)).toBe(FRAMES);
  });
});

describe('vstream send --wait-ack, to recv with no ack option', () => {
  it.each([[[]], [['--no-metadata']]])('gets its replies (send options %j)', async (extra: string[]) => {
    const recv = await startReceiver(['--json']);
    const send = vstream(['send', '--pattern', '--size', '64x48', '--frames', '4', '--wait-ack', ...extra, '--to', `127.0.0.1:${recv.port}`]);
    await expectExit(send, 0);
    await recv.waitForLines(/^\{/, 4, { stream: 'stdout' });
  });
});

describe('legacy UDP', () => {
  it('replies to every image in auto (its sender waits), and never with --ack-mode never: the sender then times out', async () => {
    for (const [mode, exit] of [['auto', 0], ['never', 3]] as const) {
      const recv = await startReceiver(['--udp', '--legacy', '--json', '--ack-mode', mode]);
      const send = vstream(['send', '--udp', '--legacy', '--pattern', '--size', '64x48', '--frames', '3', '--to', `127.0.0.1:${recv.port}`]);
      await expectExit(send, exit);
      await recv.waitForLine(/^\{/, 'stdout');
      if (mode === 'never') expect(send.stderr()).toMatch(/ERR_ACK_TIMEOUT|no reply/);
      recv.kill('SIGINT');
      await recv.exited;
    }
  });
});

describe('--ack-mode options', () => {
  it('refuses --ack TEXT with --ack-mode never, and an unknown mode', async () => {
    const conflict = vstream(['recv', '--no-window', '--json', '--listen', '0', '--ack-mode', 'never', '--ack', 'OK']);
    await expectExit(conflict, 2);
    expect(conflict.stderr()).toMatch(/--ack TEXT with --ack-mode never/);
    const unknown = vstream(['recv', '--no-window', '--json', '--listen', '0', '--ack-mode', 'sometimes']);
    await expectExit(unknown, 2);
    expect(unknown.stderr()).toMatch(/invalid --ack-mode "sometimes": expected auto, always, never/);
  });
});

describe('replies a peer leaves unread', () => {
  it('stop once they pile up in the socket: one ERR_REPLIES_UNREAD problem, and the frames still arrive', async () => {
    // A long reply fills the peer's buffers in a few dozen frames.
    const receiver = await TcpFrameReceiver.listen({ port: 0, host: '127.0.0.1', ack: 'x'.repeat(64 * 1024), ackMode: 'always' });
    const problems: Problem[] = [];
    const stopped = new Promise<void>((resolve) =>
      receiver.on('problem', (problem) => {
        problems.push(problem);
        resolve();
      }),
    );
    let frames = 0;
    let target = Infinity;
    let allArrived!: () => void;
    const arrived = new Promise<void>((resolve) => (allArrived = resolve));
    const consuming = (async () => {
      for await (const _frame of receiver) {
        frames += 1;
        if (frames === target) allArrived();
      }
    })();
    const jpeg = await makeJpeg({ width: 32, height: 32 });
    const socket: Socket = connect({ host: '127.0.0.1', port: receiver.port });
    await once(socket, 'connect');
    // Never reads: what the receiver writes stays in the kernels' buffers, then in its own.
    socket.pause();
    let sent = 0;
    let done = false;
    void stopped.then(() => (done = true));
    while (!done && sent < 10_000) {
      for (const part of tcpFrame([jpeg])) socket.write(part);
      sent += 1;
      // One frame at a time, so that each is read (and replied to) before the next.
      await new Promise<void>((resolve) => socket.write(Buffer.alloc(0), () => setImmediate(resolve)));
    }
    await stopped;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatchObject({ code: 'ERR_REPLIES_UNREAD' });
    expect(problems[0]!.message).toMatch(/^127\.0\.0\.1:\d+: stopped replying: \d+ bytes of replies are still unread$/);
    for (let i = 0; i < 5; i++) for (const part of tcpFrame([jpeg])) socket.write(part);
    target = sent + 5;
    if (frames === target) allArrived();
    await arrived;
    expect(problems).toHaveLength(1);
    socket.destroy();
    await receiver.close();
    await consuming;
  });
});
