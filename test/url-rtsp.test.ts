/**
 * `send --url rtsp://...` against a real RTSP exchange: a small RTSP server written in the test
 * (test/helpers/rtsp-server.ts) relays the RTP packets of a real ffmpeg "camera" over the RTSP
 * connection, as a camera does with `-rtsp_transport tcp`. Each ffmpeg here plays it, with its
 * own name for the socket timeout. The camera sends MJPEG, so the frames are copied, not
 * encoded again: their quantisation is the camera's, not that of vstream's encoder.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FFMPEG, FFMPEGS } from './helpers/ffmpeg.js';
import { freePort } from './helpers/ports.js';
import { start, startReceiver, stopAll, vstream } from './helpers/process.js';
import { startRtspServer, type RtspServer } from './helpers/rtsp-server.js';

let rtsp: RtspServer | undefined;

afterEach(async () => {
  await stopAll();
  await rtsp?.close();
  rtsp = undefined;
});

/** The JPEGs recv saved of `send --url` of the camera with `extra`. */
async function receive(ffmpeg: string, extra: string[] = []): Promise<Buffer[]> {
  const out = await mkdtemp(join(tmpdir(), 'vstream-rtsp-'));
  try {
    const recv = await startReceiver(['--save-dir', out, '--frames', '8']);
    const send = vstream(['send', '--url', rtsp!.url, '--ffmpeg', ffmpeg, '--to', `127.0.0.1:${recv.port}`, ...extra]);
    expect(await recv.exitCode, `${recv.stderr()}\n${send.stderr()}`).toBe(0);
    send.kill();
    await send.exited;
    const names = (await readdir(out)).filter((name) => name.endsWith('.jpg'));
    return await Promise.all(names.map((name) => readFile(join(out, name))));
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}

/** The largest step of a JPEG's first quantisation table (8-bit, 64 values): large for a low quality. */
function coarsestStep(jpeg: Buffer): number {
  const dqt = jpeg.indexOf(Buffer.from([0xff, 0xdb]));
  return Math.max(...jpeg.subarray(dqt + 5, dqt + 5 + 64));
}

/** Width and height from the SOF0 segment. */
function size(jpeg: Buffer): string {
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  return `${jpeg.readUInt16BE(sof + 7)}x${jpeg.readUInt16BE(sof + 5)}`;
}

describe('send --url of an RTSP camera', () => {
  it.each(FFMPEGS)('plays it over TCP and copies its MJPEG ($name)', async ({ path }) => {
    rtsp = await startRtspServer();
    // The camera: a low JPEG quality (-q:v 31), far from vstream's own 80, so a copy shows in the
    // sizes; RTP's JPEG payload (RFC 2435) wants the standard Huffman tables.
    start(FFMPEG, ['-nostdin', '-loglevel', 'error', '-re', '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=15', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '31', '-huffman', 'default', '-f', 'rtp', `rtp://127.0.0.1:${rtsp.rtpPort}`]);
    const copied = await receive(path);
    expect(copied.map(size)).toEqual(Array(8).fill('320x240'));
    expect(rtsp.methods).toEqual(expect.arrayContaining(['DESCRIBE', 'SETUP', 'PLAY']));
    const encoded = await receive(path, ['--quality', '80']);
    expect(encoded.map(size)).toEqual(Array(8).fill('320x240'));
    // -q:v 31 quantises coarsely; quality 80 finely.
    const copiedSteps = copied.map(coarsestStep);
    const encodedSteps = encoded.map(coarsestStep);
    expect(Math.min(...copiedSteps), `copied ${copiedSteps}, encoded ${encodedSteps}`).toBeGreaterThan(2 * Math.max(...encodedSteps));
  });

  it('a camera that is not there: one line, exit 3', async () => {
    const recv = await startReceiver([]);
    const send = vstream(['send', '--url', `rtsp://127.0.0.1:${await freePort()}/stream`, '--to', `127.0.0.1:${recv.port}`]);
    expect(await send.exitCode).toBe(3);
    expect(send.output('stderr')).toEqual([expect.stringMatching(/cannot read rtsp:\/\/127\.0\.0\.1:\d+\/stream: connection refused/)]);
  });
});
