/**
 * What a peer sends reaches recv's stderr only escaped and cut: a label is the sender's to
 * choose, and must not move the cursor, recolour the terminal or make a 60 KB log line.
 * Problems are rate-limited: a flood of bad connections gives a few lines with counts.
 */
import { describe, it, expect, afterEach } from 'vitest';
import { connect } from 'node:net';
import { once } from 'node:events';
import { stopAll, startReceiver } from './helpers/process.js';
import { makeJpeg } from './helpers/jpeg.js';
import { encodeHeader } from '../src/frame/header.js';
import { METADATA_IDENTIFIER, METADATA_MARKER, METADATA_VERSION } from '../src/frame/metadata.js';

afterEach(() => stopAll());

/** A metadata segment written by hand, as a hostile peer would: no 4 KiB cap on the label. */
function hostileSegment(meta: Record<string, unknown>): Buffer {
  const json = Buffer.from(JSON.stringify(meta), 'utf8');
  const segment = Buffer.alloc(4 + METADATA_IDENTIFIER.length + 1 + json.length);
  segment[0] = 0xff;
  segment[1] = METADATA_MARKER;
  segment.writeUInt16BE(segment.length - 2, 2);
  METADATA_IDENTIFIER.copy(segment, 4);
  segment[4 + METADATA_IDENTIFIER.length] = METADATA_VERSION;
  json.copy(segment, 4 + METADATA_IDENTIFIER.length + 1);
  return segment;
}

/** One connection that writes `bytes` as they are, then closes. */
async function sendBytes(port: number, bytes: Buffer): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await once(socket, 'connect');
  socket.end(bytes);
  // recv may reset it (bytes left unread): an 'error' first, which once() would throw.
  await new Promise((resolve) => socket.once('close', resolve));
}

function framed(payloads: Buffer[]): Buffer {
  return Buffer.concat(payloads.flatMap((payload) => [encodeHeader(payload.length), payload]));
}

function assertTerminalSafe(stderr: string): void {
  // eslint-disable-next-line no-control-regex
  expect(stderr).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
  for (const line of stderr.split('\n')) expect(line.length).toBeLessThan(400);
}

describe('recv log lines', () => {
  it('escapes and cuts a hostile label in connection, stats and disconnect lines', async () => {
    const jpeg = await makeJpeg({ width: 32, height: 24 });
    const label = `\x1b[2J\x1b[31mEVIL\x07${'A'.repeat(60_000)}`;
    const labelled = Buffer.concat([jpeg.subarray(0, 2), hostileSegment({ seq: 0, captureTime: Date.now(), label }), jpeg.subarray(2)]);
    const recv = await startReceiver(['--bind', '127.0.0.1', '--json', '--stats']);
    await sendBytes(recv.port, framed([labelled, labelled, labelled]));
    await recv.waitForLine(/disconnected after 3 frames/, 'stderr');
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    const stderr = recv.stderr();
    expect(stderr).toMatch(/\\x1b\[2J\\x1b\[31mEVIL\\x07A+… \(127\.0\.0\.1:\d+\) disconnected after 3 frames/);
    assertTerminalSafe(stderr);
  });

  it('a flood of connections with broken framing gives a few counted lines, not one each', async () => {
    const recv = await startReceiver(['--bind', '127.0.0.1', '--json']);
    for (let i = 0; i < 200; i++) await sendBytes(recv.port, Buffer.from('not a header at all, and some more bytes'));
    recv.kill('SIGINT');
    expect(await recv.exitCode).toBe(130);
    const lines = recv.stderr().trim().split('\n');
    const problemLines = lines.filter((l) => /ERR_BAD_HEADER/.test(l) && !/problems caused by peers/.test(l));
    expect(recv.stderr()).toMatch(/problems caused by peers: 200 ERR_BAD_HEADER\n/);
    expect(problemLines.length).toBeGreaterThan(0);
    // One at once, then at most one a second with the count, plus the one at exit.
    expect(problemLines.length).toBeLessThan(20);
    const counts = problemLines.map((l) => /^vstream: (\d+) more \(ERR_BAD_HEADER\)/.exec(l)?.[1]);
    // Every bad connection is accounted for: named in a line of its own, or counted in one.
    expect(counts.reduce((sum, n) => sum + (n === undefined ? 1 : Number(n)), 0)).toBe(200);
    assertTerminalSafe(recv.stderr());
  });
});
