/**
 * `send --to` over TCP in any start order: it waits for a receiver that is not up yet, a live
 * stream goes on through a receiver restart, and `--retry` bounds the waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FFMPEG } from './helpers/ffmpeg.js';
import { makeJpeg } from './helpers/jpeg.js';
import { stopAll, vstream } from './helpers/process.js';
import { writeFile } from 'node:fs/promises';
import { freePort } from './helpers/ports.js';

const env = { VSTREAM_FFMPEG: FFMPEG };

afterEach(() => stopAll());

function recvOn(port: number, frames: number) {
  return vstream(['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--output', '/dev/null', '--frames', String(frames)], { env });
}

describe('send --to, TCP, in any start order', () => {
  it('a live sender started first waits for the receiver, then streams to it', async () => {
    const port = await freePort();
    const send = vstream(['send', '--pattern', '--size', '160x120', '--to', `127.0.0.1:${port}`], { env });
    // One line for the outage, however many attempts it takes.
    await send.waitForLine(/connection refused .*; retrying \(--retry\)/, 'stderr');
    const recv = recvOn(port, 10);
    expect(await recv.exitCode).toBe(0);
    expect(recv.stderr()).toMatch(/received 10 frames/);
    await send.waitForLine(/connected to 127\.0\.0\.1:\d+/, 'stderr');
    expect(send.stderr().match(/retrying/g)).toHaveLength(1);
  });

  it('a live stream goes on through a receiver restart, one line for the outage and one when it is back', async () => {
    const port = await freePort();
    const first = recvOn(port, 5);
    await first.waitForLine(/listening on/, 'stderr');
    const send = vstream(['send', '--pattern', '--size', '160x120', '--to', `127.0.0.1:${port}`], { env });
    expect(await first.exitCode).toBe(0);
    await send.waitForLine(/closed the connection|connection reset/, 'stderr');
    // The second receiver stays up: the sender is stopped while it is connected, so the summary
    // counts exactly the one outage.
    const second = vstream(['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--json'], { env });
    await second.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    await send.waitForLine(/connected to 127\.0\.0\.1:\d+/, 'stderr');
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    // The frames captured while nobody received them are counted, not queued.
    expect(send.stderr()).toMatch(/\d+ dropped while disconnected \(1 reconnect\)/);
  });

  it('a live stream goes on after its receiver is killed with -9 and started again', async () => {
    const port = await freePort();
    const first = vstream(['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--json'], { env });
    await first.waitForLine(/listening on/, 'stderr');
    const send = vstream(['send', '--pattern', '--size', '160x120', '--to', `127.0.0.1:${port}`], { env });
    await first.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    first.kill('SIGKILL');
    await first.exited;
    await send.waitForLine(/closed the connection|connection reset|peer closed/, 'stderr');
    const second = vstream(['recv', '--no-window', '--bind', '127.0.0.1', '--listen', String(port), '--json'], { env });
    await second.waitForLines(/"seq":/, 5, { stream: 'stdout' });
    await send.waitForLine(/connected to 127\.0\.0\.1:\d+/, 'stderr');
    // Numbered by capture: the frames of the outage are a gap, not frames sent late.
    const seqOf = (proc: typeof first) => proc.output('stdout').filter((line) => line.endsWith('}')).map((line) => (JSON.parse(line) as { seq: number }).seq);
    const seqs = seqOf(second);
    const lastBefore = seqOf(first).at(-1)!;
    expect(seqs[0]).toBeGreaterThan(lastBefore);
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    expect(send.stderr()).toMatch(/\d+ dropped while disconnected \(1 reconnect\)/);
    expect(send.stderr().match(/reconnecting/g)).toHaveLength(1);
  });

  it('--retry 0 fails at once with exit 3, in one line', async () => {
    const send = vstream(['send', '--pattern', '--retry', '0', '--to', `127.0.0.1:${await freePort()}`], { env });
    expect(await send.exitCode).toBe(3);
    expect(send.stderr().trim().split('\n')).toHaveLength(1);
    expect(send.stderr()).toMatch(/connection refused/);
  });

  it('a folder transfer waits for --retry seconds, then fails with exit 3', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vstream-retry-'));
    await writeFile(join(dir, 'a.jpg'), await makeJpeg({ width: 16, height: 16 }));
    const send = vstream(['send', '--dir', dir, '--retry', '0.3', '--to', `127.0.0.1:${await freePort()}`], { env });
    expect(await send.exitCode).toBe(3);
    const lines = send.stderr().trim().split('\n');
    // The outage, and the error once --retry has run out.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/retrying \(--retry\)/);
    expect(lines[1]).toMatch(/connection refused/);
    expect(await readdir(dir)).toEqual(['a.jpg']);
  });

  it('a wrong host name is not waited for', async () => {
    const send = vstream(['send', '--pattern', '--to', 'no-such-host.invalid:8088'], { env });
    expect(await send.exitCode).toBe(3);
    expect(send.stderr()).not.toMatch(/retrying/);
  });

  it('refuses a --retry that is not a number of seconds', async () => {
    const send = vstream(['send', '--retry', 'soon'], { env });
    expect(await send.exitCode).toBe(2);
    expect(send.stderr()).toMatch(/invalid --retry "soon"/);
  });
});
