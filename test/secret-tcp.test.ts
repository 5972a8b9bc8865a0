/**
 * TCP with a shared secret: standard TLS 1.2 PSK between vstream ends, peers without the secret
 * refused in the handshake with a line on both sides, openssl as an independent TLS peer, and
 * a relay that flips one byte in flight. Real processes on loopback.
 */
import { chmod, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Secret } from '../src/secret/secret.js';
import {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  FIRST_BYTE_TIMEOUT_MS,
  MAX_PENDING_HANDSHAKES,
  TLS_HANDSHAKE_FAILURE_ALERT,
  tlsPskKey,
} from '../src/transport/secure-socket.js';
import { imageInfo, makeJpeg } from './helpers/jpeg.js';
import { statusKb } from './helpers/proc-status.js';
import { PYTHON } from './helpers/python.js';
import { start, startReceiver, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { freePort } from './helpers/ports.js';

afterEach(() => stopAll());

const SECRET = 'tcp-test-secret-0123456789abcdefghij';
const OTHER = 'another-secret-0123456789abcdefghij';

async function tempDir(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'vstream-secret-tcp-'));
}

/** A secret file as `vstream secret > FILE; chmod 600 FILE` makes it. */
async function secretFile(text: string): Promise<string> {
  const path = join(await tempDir(), 'secret');
  await writeFile(path, `${text}\n`);
  await chmod(path, 0o600);
  return path;
}

async function exitOf(proc: TestProcess): Promise<number> {
  return proc.exitCode;
}

async function savedJpegs(dir: string): Promise<Buffer[]> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.jpg')).sort();
  return Promise.all(names.map((name) => readFile(join(dir, name))));
}

const FAMILIES = [
  { name: 'IPv4', host: '127.0.0.1', url: '127.0.0.1' },
  { name: 'IPv6', host: '::1', url: '[::1]' },
];

describe('frames arrive with the same secret', () => {
  for (const family of FAMILIES) {
    it(`push: send --to / recv --listen (${family.name})`, async () => {
      const file = await secretFile(SECRET);
      const dir = await tempDir();
      const recv = await startReceiver(['--bind', family.host, '--secret-file', file, '--frames', '3', '--save-dir', dir]);
      const send = vstream(['send', '--to', `${family.url}:${recv.port}`, '--pattern', '--frames', '3', '--secret-file', file]);
      expect(await exitOf(send)).toBe(0);
      expect(await exitOf(recv)).toBe(0);
      const frames = await savedJpegs(dir);
      expect(frames).toHaveLength(3);
      for (const frame of frames) expect(await imageInfo(frame)).toMatchObject({ width: 640, height: 480 });
    });

    it(`pull: send --listen / recv --connect (${family.name})`, async () => {
      const file = await secretFile(SECRET);
      const dir = await tempDir();
      const send = vstream(['send', '--listen', '0', '--bind', family.host, '--pattern', '--secret-file', file]);
      const [, port] = await send.waitForLine(/listening for viewers on \S+:(\d+)/, 'stderr');
      const recv = vstream(['recv', '--no-window', '--connect', `${family.url}:${port}`, '--frames', '3', '--save-dir', dir, '--secret-file', file]);
      expect(await exitOf(recv)).toBe(0);
      expect(await savedJpegs(dir)).toHaveLength(3);
      send.kill('SIGINT');
      expect(await exitOf(send)).toBe(130);
    });
  }
});

describe('either end killed and started again, with the secret', () => {
  it('push: a live sender reconnects, with a new handshake, to a receiver killed with -9 and started again', async () => {
    const file = await secretFile(SECRET);
    const port = await freePort();
    const recvArgs = ['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--json', '--secret-file', file];
    const first = vstream(recvArgs);
    await first.waitForLine(/listening on/, 'stderr');
    const send = vstream(['send', '--pattern', '--size', '160x120', '--to', `127.0.0.1:${port}`, '--secret-file', file]);
    await first.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    first.kill('SIGKILL');
    await first.exited;
    await send.waitForLine(/closed the connection|connection reset|peer closed/, 'stderr');
    const second = vstream(recvArgs);
    await second.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    await send.waitForLine(/connected to 127\.0\.0\.1:\d+/, 'stderr');
    send.kill('SIGINT');
    expect(await exitOf(send)).toBe(130);
    expect(send.stderr()).toMatch(/\(1 reconnect\)/);
    expect(second.stderr()).not.toMatch(/ERR_AUTH/);
  });

  it('pull: recv --connect comes back, with a new handshake, after the sender is killed with -9 and started again', async () => {
    const file = await secretFile(SECRET);
    const port = await freePort();
    const sendArgs = ['send', '--pattern', '--size', '160x120', '--listen', String(port), '--bind', '127.0.0.1', '--secret-file', file];
    const send1 = vstream(sendArgs);
    await send1.waitForLine(/listening for viewers/, 'stderr');
    const recv = vstream(['recv', '--no-window', '--connect', `127.0.0.1:${port}`, '--json', '--secret-file', file]);
    await recv.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    send1.kill('SIGKILL');
    await send1.exited;
    const seen = recv.output('stdout').length;
    const send2 = vstream(sendArgs);
    await send2.waitForLine(/viewer 127\.0\.0\.1:\d+ connected/, 'stderr');
    await recv.waitForLines(/"seq":/, seen + 5, { stream: 'stdout' });
    send2.kill('SIGINT');
    expect(await exitOf(send2)).toBe(130);
    recv.kill('SIGINT');
    expect(await exitOf(recv)).toBe(130);
    expect(recv.stderr()).not.toMatch(/ERR_AUTH|TLS handshake/);
  });
});

describe('a peer without the secret is refused in the handshake', () => {
  it('wrong secret: the sender exits 9 naming the receiver; the receiver says why and goes on', async () => {
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', await secretFile(SECRET), '--frames', '2', '--save-dir', dir]);
    const wrong = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', await secretFile(OTHER)]);
    expect(await exitOf(wrong)).toBe(9);
    expect(wrong.stderr()).toMatch(new RegExp(`TLS handshake with 127\\.0\\.0\\.1:${recv.port} failed: the peer has a different secret`));
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: it has a different secret \(ERR_AUTH\)/, 'stderr');
    // Nothing of the refused sender was taken: the next, right sender's frames are the only ones.
    const right = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', await secretFile(SECRET)]);
    expect(await exitOf(right)).toBe(0);
    expect(await exitOf(recv)).toBe(0);
    expect(await savedJpegs(dir)).toHaveLength(2);
  });

  it('secret on the sender only: exit 9, the receiver has no secret', async () => {
    const recv = await startReceiver(['--bind', '127.0.0.1', '--save-dir', await tempDir()]);
    const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', await secretFile(SECRET)]);
    expect(await exitOf(send)).toBe(9);
    expect(send.stderr()).toMatch(/failed: the peer has no secret \(or does not speak TLS\)/);
    await recv.waitForLine(/a TLS handshake: the sender has a shared secret and this receiver none/, 'stderr');
    // The plain receiver read no frame out of the handshake.
    expect(recv.stderr()).not.toMatch(/received [1-9]/);
  });

  it('secret on the receiver only: the plain sender is refused with a line, nothing saved', async () => {
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', await secretFile(SECRET), '--save-dir', dir]);
    const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--retry', '0']);
    expect(await exitOf(send)).toBe(9);
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: sent no TLS handshake: does it have the secret\? \(ERR_AUTH\)/, 'stderr');
    expect(await savedJpegs(dir)).toHaveLength(0);
  });

  it('recv --connect with a wrong secret exits 9; the listening sender says why', async () => {
    const send = vstream(['send', '--listen', '0', '--bind', '127.0.0.1', '--pattern', '--secret-file', await secretFile(SECRET)]);
    const [, port] = await send.waitForLine(/listening for viewers on \S+:(\d+)/, 'stderr');
    const recv = vstream(['recv', '--no-window', '--connect', `127.0.0.1:${port}`, '--save-dir', await tempDir(), '--secret-file', await secretFile(OTHER)]);
    expect(await exitOf(recv)).toBe(9);
    expect(recv.stderr()).toMatch(/TLS handshake with 127\.0\.0\.1:\d+ failed: the peer has a different secret/);
    await send.waitForLine(/refused 127\.0\.0\.1:\d+: it has a different secret/, 'stderr');
  });

  it('a plain reference client (Python, 16-byte header) is refused; the receiver goes on', async () => {
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', await secretFile(SECRET), '--frames', '1', '--save-dir', dir]);
    const jpegPath = join(await tempDir(), 'frame.jpg');
    await writeFile(jpegPath, await makeJpeg({ width: 64, height: 48 }));
    // As the tutorials write it: blocking socket, str(len).ljust(16), sendall.
    const client = start(PYTHON, [
      '-c',
      [
        'import socket, sys',
        'data = open(sys.argv[1], "rb").read()',
        's = socket.socket(socket.AF_INET, socket.SOCK_STREAM)',
        's.connect(("127.0.0.1", int(sys.argv[2])))',
        'try:',
        '    s.sendall(str(len(data)).ljust(16).encode() + data)',
        '    print("reply", s.recv(1024).hex())',
        'except OSError as e:',
        '    print("error", e)',
        's.close()',
      ].join('\n'),
      jpegPath,
      String(recv.port),
    ]);
    expect(await exitOf(client)).toBe(0);
    // Answered with the TLS alert alone (handshake_failure), then closed: no frame was taken.
    expect(client.output('stdout').join('\n')).toMatch(/^reply 15030300020228$/);
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: sent no TLS handshake: does it have the secret\?/, 'stderr');
    const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '1', '--secret-file', await secretFile(SECRET)]);
    expect(await exitOf(send)).toBe(0);
    expect(await exitOf(recv)).toBe(0);
    const frames = await savedJpegs(dir);
    expect(frames).toHaveLength(1);
    expect(await imageInfo(frames[0]!)).toMatchObject({ width: 640, height: 480 });
  });
});

describe('standard TLS: openssl s_client', () => {
  const key = tlsPskKey(Secret.fromText(SECRET, '--secret')).toString('hex');
  const probe = (port: number, extra: string[]) =>
    start('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-tls1_2', '-cipher', 'ECDHE-PSK-CHACHA20-POLY1305', ...extra]);

  it('completes a handshake with the derived key, fails with a wrong one or none', async () => {
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', await secretFile(SECRET), '--save-dir', await tempDir()]);
    const good = probe(recv.port, ['-psk', key, '-psk_identity', 'vstream']);
    expect(await exitOf(good)).toBe(0);
    expect(good.stdout().toString()).toMatch(/New, TLSv1\.2, Cipher is ECDHE-PSK-CHACHA20-POLY1305/);

    const wrongKey = `${key.slice(0, -2)}${key.endsWith('00') ? '01' : '00'}`;
    const wrong = probe(recv.port, ['-psk', wrongKey, '-psk_identity', 'vstream']);
    expect(await exitOf(wrong)).not.toBe(0);
    expect(wrong.stderr()).toMatch(/alert/);

    const none = start('openssl', ['s_client', '-connect', `127.0.0.1:${recv.port}`, '-tls1_2']);
    expect(await exitOf(none)).not.toBe(0);
    expect(none.stdout().toString()).toMatch(/Cipher is \(NONE\)/);
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: it has a different secret/, 'stderr');
  });
});

/** A TCP relay to `target` that flips one byte of the client's stream at `offset`. */
async function flippingRelay(target: number, offset: number): Promise<{ server: Server; port: number; flipped: Promise<void> }> {
  let flippedNow!: () => void;
  const flipped = new Promise<void>((resolve) => (flippedNow = resolve));
  const server = createServer((client: Socket) => {
    const upstream = connect({ host: '127.0.0.1', port: target });
    let seen = 0;
    client.on('data', (chunk: Buffer) => {
      if (seen <= offset && offset < seen + chunk.length) {
        chunk = Buffer.from(chunk);
        chunk[offset - seen] ^= 0x01;
        flippedNow();
      }
      seen += chunk.length;
      upstream.write(chunk);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port, flipped };
}

describe('a byte flipped in flight', () => {
  it('closes the connection with a clear line; no corrupt frame is saved', async () => {
    const file = await secretFile(SECRET);
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', file, '--save-dir', dir]);
    // Past the handshake (well under 1 kB) and inside the second 640x480 frame.
    const relay = await flippingRelay(recv.port, 40_000);
    try {
      const send = vstream(['send', '--to', `127.0.0.1:${relay.port}`, '--pattern', '--frames', '6', '--retry', '0', '--secret-file', file]);
      await relay.flipped;
      expect(await exitOf(send)).not.toBe(0);
      const [line] = await recv.waitForLine(/127\.0\.0\.1:\d+: connection from 127\.0\.0\.1:\d+: a TLS record failed its authentication check \(altered in flight\)/, 'stderr');
      expect(line).not.toMatch(/\n/);
      const frames = await savedJpegs(dir);
      expect(frames.length).toBeLessThan(6);
      for (const frame of frames) expect(await imageInfo(frame)).toMatchObject({ width: 640, height: 480 });
    } finally {
      relay.server.close();
    }
  });
});

describe('the listening end', () => {
  it('past the handshakes it holds at once lets the oldest go, so peers that stall theirs cannot keep a sender with the secret out', async () => {
    const file = await secretFile(SECRET);
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', file, '--frames', '1', '--save-dir', dir]);
    // One more than the receiver holds: half never speak, half start a TLS record and stall.
    const stalled: Socket[] = [];
    try {
      for (let i = 0; i <= MAX_PENDING_HANDSHAKES; i += 1) {
        const socket = connect({ host: '127.0.0.1', port: recv.port }, () => i % 2 === 1 && socket.write(Buffer.from([0x16])));
        socket.on('error', () => undefined);
        stalled.push(socket);
      }
      await recv.waitForLine(new RegExp(`refused 127\\.0\\.0\\.1:\\d+: let go in its TLS handshake for 127\\.0\\.0\\.1:\\d+ \\(${MAX_PENDING_HANDSHAKES} handshakes were under way\\)`), 'stderr');
      // They are all still there, and the sender with the secret gets through them.
      const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '1', '--secret-file', file]);
      expect(await exitOf(send)).toBe(0);
      expect(await exitOf(recv)).toBe(0);
    } finally {
      for (const socket of stalled) socket.destroy();
    }
    expect(await savedJpegs(dir)).toHaveLength(1);
  });

  it('ends its run at once when it is done, however many peers stall their handshake or linger refused', async () => {
    const file = await secretFile(SECRET);
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', file, '--frames', '2', '--save-dir', await tempDir()]);
    // One starts a TLS record and stalls (the TLS server would wait 10 s for it); one is plain,
    // refused with the alert, and never closes.
    const stalled = connect({ host: '127.0.0.1', port: recv.port }, () => stalled.write(Buffer.from([0x16])));
    const plain = connect({ host: '127.0.0.1', port: recv.port }, () => plain.write('16              '));
    const gone = [stalled, plain].map((socket) => {
      socket.on('error', () => undefined);
      socket.resume();
      return new Promise((resolve) => socket.once('close', resolve));
    });
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: sent no TLS handshake/, 'stderr');
    const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', file]);
    expect(await exitOf(send)).toBe(0);
    expect(await exitOf(recv)).toBe(0);
    // The receiver closed both itself on its way out, not their timeouts.
    await Promise.all(gone);
    expect(recv.stderr()).not.toMatch(/no TLS handshake within|closed the connection during the TLS handshake/);
  });

  it('without a secret, says once that a receiver on every address is open to the network; not on loopback', async () => {
    const open = await startReceiver([]);
    await open.waitForLine(/note: no --secret-file: anyone who can reach this port can watch or inject streams/, 'stderr');
    const local = await startReceiver(['--bind', '127.0.0.1']);
    const withSecret = await startReceiver(['--secret-file', await secretFile(SECRET)]);
    for (const proc of [open, local, withSecret]) proc.kill('SIGINT');
    await Promise.all([open, local, withSecret].map(exitOf));
    expect(open.output('stderr').filter((line) => line.includes('note: no --secret-file'))).toHaveLength(1);
    expect(local.stderr()).not.toMatch(/no --secret-file/);
    expect(withSecret.stderr()).not.toMatch(/no --secret-file/);
  });
});

describe('a plain vstream end against one with the secret', () => {
  it('plain send --to: exits 9 naming the receiver (no retrying); the receiver goes on and takes a sender with the secret', async () => {
    const file = await secretFile(SECRET);
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', file, '--frames', '2', '--save-dir', dir]);
    // The default --retry: a refusal must end it all the same.
    const plain = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '50']);
    expect(await exitOf(plain)).toBe(9);
    const lines = plain.output('stderr').filter((line) => line.includes('refused this sender'));
    expect(lines).toEqual([
      `vstream: 127.0.0.1:${recv.port} refused this sender: it has a shared secret and this sender none (give both the same --secret-file)`,
    ]);
    expect(plain.stderr()).not.toMatch(/retrying|reconnecting/);
    await recv.waitForLine(/refused 127\.0\.0\.1:\d+: sent no TLS handshake: does it have the secret\? \(ERR_AUTH\)/, 'stderr');
    const right = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', file]);
    expect(await exitOf(right)).toBe(0);
    expect(await exitOf(recv)).toBe(0);
    expect(await savedJpegs(dir)).toHaveLength(2);
  });

  it('plain send --dir (frames kept until acknowledged), --wait-ack and --protocol folder: exit 9 too, not a resend loop', async () => {
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', await secretFile(SECRET), '--save-dir', await tempDir()]);
    const images = await tempDir();
    for (const name of ['a.jpg', 'b.jpg']) await writeFile(join(images, name), await makeJpeg({ width: 64, height: 48 }));
    for (const args of [['--dir', images, '--retry', '5'], ['--pattern', '--frames', '5', '--wait-ack']]) {
      const plain = vstream(['send', '--to', `127.0.0.1:${recv.port}`, ...args]);
      expect(await exitOf(plain)).toBe(9);
      expect(plain.stderr()).toMatch(/refused this sender: it has a shared secret and this sender none/);
      expect(plain.stderr()).not.toMatch(/retrying|reconnecting|sent again/);
    }
    // The folder protocol cannot take a secret at all: it is told which way out there is.
    const folder = vstream(['send', '--protocol', 'folder', '--to', `127.0.0.1:${recv.port}`, '--dir', images]);
    expect(await exitOf(folder)).toBe(9);
    expect(folder.stderr()).toMatch(/refused this sender: it has a shared secret, and the folder protocol has none/);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('plain recv --connect: exits 9 naming the sender, sooner than the handshake timeout; the listening sender says why', async () => {
    const send = vstream(['send', '--listen', '0', '--bind', '127.0.0.1', '--pattern', '--secret-file', await secretFile(SECRET)]);
    const [, port] = await send.waitForLine(/listening for viewers on \S+:(\d+)/, 'stderr');
    const started = performance.now();
    const recv = vstream(['recv', '--no-window', '--connect', `127.0.0.1:${port}`, '--save-dir', await tempDir()]);
    expect(await exitOf(recv)).toBe(9);
    const waited = performance.now() - started;
    expect(recv.output('stderr').filter((line) => line.includes('refused this receiver'))).toEqual([
      `vstream: 127.0.0.1:${port} refused this receiver (a TLS alert): it has a shared secret and this receiver none (give both the same --secret-file)`,
    ]);
    // Nothing else about that connection: no reconnecting, no bad-header line.
    expect(recv.stderr()).not.toMatch(/retrying|ERR_BAD_HEADER|ERR_FOLDER|disconnected/);
    // A TLS client speaks first; the silence is judged after FIRST_BYTE_TIMEOUT_MS, not 10 s.
    expect(waited).toBeGreaterThanOrEqual(FIRST_BYTE_TIMEOUT_MS);
    expect(waited).toBeLessThan(DEFAULT_HANDSHAKE_TIMEOUT_MS);
    await send.waitForLine(/refused 127\.0\.0\.1:\d+: sent nothing for 3 s \(no TLS handshake\): does it have the secret\? \(ERR_AUTH\)/, 'stderr');
    expect(send.exitInfo).toBeUndefined();
  });

  it('a plain recv --listen that gets a TLS alert from a client says so for that client and goes on', async () => {
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--frames', '1', '--save-dir', dir]);
    const client = connect({ host: '127.0.0.1', port: recv.port });
    client.on('error', () => undefined);
    client.end(TLS_HANDSHAKE_FAILURE_ALERT);
    await recv.waitForLine(/127\.0\.0\.1:\d+: refused by a TLS alert: the peer has a shared secret and this end none \(give both the same --secret-file\); connection closed after 0 frames \(ERR_AUTH\)/, 'stderr');
    const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '1']);
    expect(await exitOf(send)).toBe(0);
    expect(await exitOf(recv)).toBe(0);
    expect(await savedJpegs(dir)).toHaveLength(1);
  });

  it('a flood of 200 plain connections that never read: memory stays bounded, a sender with the secret gets through', async () => {
    const file = await secretFile(SECRET);
    const dir = await tempDir();
    const recv = await startReceiver(['--bind', '127.0.0.1', '--secret-file', file, '--save-dir', dir]);
    const pid = recv.child.pid!;
    const before = statusKb(pid, 'VmRSS');
    // Each sends a header and 1 MB as a plain sender would, and never reads the alert.
    const frame = Buffer.concat([Buffer.from(String(1_000_000).padEnd(16)), Buffer.alloc(1_000_000, 0x55)]);
    const flood: Socket[] = [];
    try {
      const settled: Promise<void>[] = [];
      for (let i = 0; i < 200; i += 1) {
        const socket = connect({ host: '127.0.0.1', port: recv.port });
        socket.pause();
        flood.push(socket);
        // Written out (the receiver read it, or the kernel holds it), or cut off by the receiver.
        settled.push(new Promise<void>((resolve) => {
          socket.on('error', () => resolve()).on('close', () => resolve());
          socket.write(frame, () => resolve());
        }));
      }
      await Promise.all(settled);
      const send = vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--frames', '2', '--secret-file', file]);
      expect(await exitOf(send)).toBe(0);
      await recv.waitForLine(/127\.0\.0\.1:\d+ disconnected after 2 frames/, 'stderr');
    } finally {
      for (const socket of flood) socket.destroy();
    }
    const peakKb = statusKb(pid, 'VmHWM');
    recv.kill('SIGINT');
    expect(await exitOf(recv)).toBe(130);
    expect(await savedJpegs(dir)).toHaveLength(2);
    // 200 MB were offered; the refused connections' bytes were read and dropped, not kept.
    const grownMb = (peakKb - before) / 1024;
    expect(grownMb, `RSS grew ${grownMb.toFixed(0)} MiB`).toBeLessThan(64);
  });
});
