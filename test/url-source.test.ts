/**
 * `send --url`: an MJPEG camera over HTTP, played by a small multipart server written here and
 * by ffmpeg's own HTTP server. What recv saves (its metadata segment taken out) is byte for byte
 * what the server sent; the sender reconnects when the server restarts; hostile servers end it
 * with one line and an exit code, never with memory growing or a crash.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLED_FFMPEG, FFMPEG, FFMPEGS, makeClip, runFfmpeg } from './helpers/ffmpeg.js';
import { startHttpServer, startMjpegServer, type TestHttpServer } from './helpers/mjpeg-server.js';
import { freePort } from './helpers/ports.js';
import { start, startReceiver, stopAll, vstream, type TestProcess } from './helpers/process.js';
import { classifyAnswer } from '../src/source/url/http-session.js';
import { pipedInputArgs, rtspTimeoutOption, urlInputArgs } from '../src/source/url/ffmpeg-url-args.js';
import { execFileSync } from 'node:child_process';

let tmp: string;
let clip: string;
/** The JPEGs the servers send: an MJPEG clip's own, as ffmpeg extracts them without decoding. */
let jpegs: Buffer[];
const servers: TestHttpServer[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'vstream-url-'));
  clip = join(tmp, 'clip.avi');
  await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-frames:v', '40', '-c:v', 'mjpeg', '-q:v', '3', clip]);
  await runFfmpeg(['-i', clip, '-c:v', 'copy', '-f', 'image2', join(tmp, 'inside-%03d.jpg')]);
  const names = (await readdir(tmp)).filter((name) => name.startsWith('inside-')).sort();
  jpegs = await Promise.all(names.map((name) => readFile(join(tmp, name))));
});

afterEach(async () => {
  await stopAll();
  await Promise.all(servers.splice(0).map((server) => server.kill()));
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function serve<T extends TestHttpServer>(server: Promise<T>): Promise<T> {
  const started = await server;
  servers.push(started);
  return started;
}

async function saved(dir: string): Promise<Buffer[]> {
  const names = (await readdir(dir)).filter((name) => !name.startsWith('.')).sort();
  return Promise.all(names.map((name) => readFile(join(dir, name))));
}

/** The index in `jpegs` of each saved frame; -1 for one that is not byte for byte a served JPEG. */
function indexes(frames: Buffer[]): number[] {
  const byContent = new Map(jpegs.map((jpeg, i) => [jpeg.toString('base64'), i]));
  return frames.map((frame) => byContent.get(frame.toString('base64')) ?? -1);
}

/** recv saving `frames` frames, and a sender of `url` to it. */
async function sendTo(url: string, frames: number, extra: string[] = []): Promise<{ recv: TestProcess & { port: number }; send: TestProcess; out: string }> {
  const out = await mkdtemp(join(tmp, 'out-'));
  const recv = await startReceiver(['--save-dir', out, '--frames', String(frames)]);
  const send = vstream(['send', '--url', url, '--to', `127.0.0.1:${recv.port}`, ...extra]);
  return { recv, send, out };
}

describe('send --url of an MJPEG stream over HTTP', () => {
  it.each([
    { name: 'with Content-Length and X-Timestamp (the µStreamer form)', contentLength: true, timestamp: true },
    { name: 'without Content-Length', contentLength: false, timestamp: false },
  ])('passes the JPEGs through byte for byte, $name', async ({ contentLength, timestamp }) => {
    const server = await serve(startMjpegServer({ jpegs, fps: 20, contentLength, timestamp }));
    const { recv, send, out } = await sendTo(server.url, 15);
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    send.kill('SIGINT');
    expect(await send.exitCode, send.stderr()).toBe(130);
    const found = indexes(await saved(out));
    expect(found).toHaveLength(15);
    expect(found.filter((i) => i === -1), 'frames that are not a served JPEG').toEqual([]);
    // In the order served (a live source may leave one out, never reorder).
    expect(found.every((i, k) => k === 0 || i > found[k - 1]!)).toBe(true);
  });

  it("takes each part's X-Timestamp as its capture time", async () => {
    const server = await serve(startMjpegServer({ jpegs, fps: 20 }));
    const recv = await startReceiver(['--json', '--frames', '5']);
    const send = vstream(['send', '--url', server.url, '--to', `127.0.0.1:${recv.port}`]);
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    send.kill();
    await send.exited;
    const sent = new Set(server.timestamps.map((stamp) => Math.round(Number(stamp) * 1000)));
    const captured = recv.output('stdout').map((line) => Math.round((JSON.parse(line) as { captureTime: number }).captureTime));
    expect(captured).toHaveLength(5);
    expect(captured.filter((time) => !sent.has(time))).toEqual([]);
  });

  it('encodes the frames again when a size is asked for', async () => {
    const server = await serve(startMjpegServer({ jpegs, fps: 20 }));
    const recv = await startReceiver(['--json', '--frames', '5']);
    const send = vstream(['send', '--url', server.url, '--to', `127.0.0.1:${recv.port}`, '--size', '80x60']);
    expect(await recv.exitCode, `${recv.stderr()}\n${send.stderr()}`).toBe(0);
    send.kill();
    await send.exited;
    const frames = recv.output('stdout').map((line) => JSON.parse(line) as { width: number; height: number; bytes: number });
    expect(frames.map(({ width, height }) => `${width}x${height}`)).toEqual(Array(5).fill('80x60'));
  });

  it('takes a boundary declared with its dashes, and none declared at all', async () => {
    for (const contentType of ['multipart/x-mixed-replace; boundary="--frame"', 'application/octet-stream']) {
      const server = await serve(startMjpegServer({ jpegs, fps: 20, boundary: 'frame', contentType }));
      const { recv, send, out } = await sendTo(server.url, 5);
      expect(await recv.exitCode, `${contentType}: ${recv.stderr()}`).toBe(0);
      send.kill();
      await send.exited;
      expect(indexes(await saved(out)).filter((i) => i === -1), contentType).toEqual([]);
    }
  });

  it('reconnects when the server restarts: one line for the outage, one when frames come again', async () => {
    const port = await freePort();
    let server = await startMjpegServer({ jpegs, fps: 20, port });
    const recv = await startReceiver(['--json']);
    const send = vstream(['send', '--url', `http://127.0.0.1:${port}/stream`, '--to', `127.0.0.1:${recv.port}`]);
    await recv.waitForLines(/"seq"/, 5, { stream: 'stdout' });
    await server.kill();
    await send.waitForLine(/reconnecting \(--retry\)/, "stderr");
    const before = recv.output('stdout').length;
    server = await serve(startMjpegServer({ jpegs, fps: 20, port }));
    await send.waitForLine(/receiving from http:\/\/127\.0\.0\.1:\d+\/stream again/, 'stderr');
    await recv.waitForLines(/"seq"/, 5, { stream: 'stdout', from: before });
    expect(send.output('stderr').filter((line) => /reconnecting/.test(line))).toHaveLength(1);
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
    expect(send.stderr()).toMatch(/sent \d+ frames/);
  });

  it('gives up an outage after --retry seconds: exit 3, one line for the outage and one for the end', async () => {
    const server = await startMjpegServer({ jpegs, fps: 20 });
    const recv = await startReceiver(['--json']);
    const send = vstream(['send', '--url', server.url, '--to', `127.0.0.1:${recv.port}`, '--retry', '1']);
    await recv.waitForLines(/"seq"/, 3, { stream: 'stdout' });
    await server.kill();
    expect(await send.exitCode).toBe(3);
    const lines = send.output('stderr');
    expect(lines.filter((line) => /reconnecting \(--retry\)/.test(line))).toHaveLength(1);
    expect(lines.some((line) => /no stream for 1 s \(--retry\)/.test(line))).toBe(true);
  });

  it('asks a snapshot URL (one JPEG an answer) again at --fps', async () => {
    let asked = 0;
    const server = await serve(
      startHttpServer((_req, res) => {
        const jpeg = jpegs[asked % jpegs.length]!;
        // With a Content-Length, and without (chunked), as mjpg-streamer's snapshot answers.
        res.writeHead(200, { 'Content-Type': 'image/jpeg', ...(asked++ % 2 === 0 && { 'Content-Length': jpeg.length }) });
        res.end(jpeg);
      }),
    );
    const { recv, send, out } = await sendTo(server.url, 4, ['--fps', '20']);
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    send.kill();
    await send.exited;
    expect(indexes(await saved(out))).toEqual([0, 1, 2, 3]);
    expect(send.stderr()).not.toMatch(/reconnecting/);
  });
});

describe('servers that are wrong or hostile', () => {
  /** The sender's exit code and its stderr lines, against a server behaving as `handler` says. */
  async function against(handler: Parameters<typeof startHttpServer>[0], extra: string[] = []): Promise<{ code: number; lines: string[]; server: TestHttpServer }> {
    const server = await serve(startHttpServer(handler));
    const recv = await startReceiver([]);
    const send = vstream(['send', '--url', server.url, '--to', `127.0.0.1:${recv.port}`, ...extra]);
    const code = await send.exitCode;
    return { code, lines: send.output('stderr'), server };
  }

  it('a 404, a 401, a web page: one line each, exit 4', async () => {
    const cases: [number, string, RegExp][] = [
      [404, 'text/plain', /answered 404 Not Found: no stream at that address/],
      [401, 'text/plain', /answered 401 Unauthorized \(give the user and password in the URL/],
      [200, 'text/html', /is a text\/html page, not a video stream/],
    ];
    for (const [status, type, message] of cases) {
      const { code, lines } = await against((_req, res) => {
        res.writeHead(status, { 'Content-Type': type });
        res.end('<html><body>hello</body></html>');
      });
      expect(code, lines.join('\n')).toBe(4);
      expect(lines, String(status)).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });

  it('nothing listening: one line, exit 3; with --retry it waits for the server', async () => {
    const port = await freePort();
    const recv = await startReceiver(['--frames', '3']);
    const refused = vstream(['send', '--url', `http://127.0.0.1:${port}/`, '--to', `127.0.0.1:${recv.port}`]);
    expect(await refused.exitCode).toBe(3);
    expect(refused.output('stderr')).toEqual([expect.stringMatching(/connection refused/)]);
    const waiting = vstream(['send', '--url', `http://127.0.0.1:${port}/stream`, '--to', `127.0.0.1:${recv.port}`, '--retry', '60']);
    await waiting.waitForLine(/retrying \(--retry\)/, 'stderr');
    await serve(startMjpegServer({ jpegs, fps: 20, port }));
    await waiting.waitForLine(/receiving from/, 'stderr');
    expect(await recv.exitCode, recv.stderr()).toBe(0);
  });

  it('a part claiming 10 GB, an endless part, no boundary, garbage: one line, exit 4, no memory spent on them', async () => {
    const multipart = { 'Content-Type': 'multipart/x-mixed-replace;boundary=b' };
    const huge = await against((_req, res) => {
      res.writeHead(200, multipart);
      res.write('--b\r\nContent-Type: image/jpeg\r\nContent-Length: 10737418240\r\n\r\n\xff\xd8\xff');
    });
    expect(huge.code).toBe(4);
    expect(huge.lines).toEqual([expect.stringMatching(/a part says it has 10737418240 bytes, over the limit/)]);

    // Endless: written as fast as the sender takes it; the limit ends it, not the server.
    const endless = await against(
      (req, res, count) => {
        res.writeHead(200, multipart);
        res.write('--b\r\nContent-Type: image/jpeg\r\n\r\n');
        const chunk = Buffer.alloc(64 * 1024, 0x41);
        const more = () => {
          while (!req.socket.destroyed) {
            count(chunk.length);
            if (!res.write(chunk)) return;
          }
        };
        res.on('drain', more);
        more();
      },
      ['--max-frame-bytes', '2M'],
    );
    expect(endless.code).toBe(4);
    expect(endless.lines).toEqual([expect.stringMatching(/a part without Content-Length went past 2097152 bytes/)]);
    // The sender stopped taking bytes at its limit: what the server got rid of is the limit plus socket buffers.
    expect(endless.server.written()).toBeLessThan(2 * 2 ** 20 + 16 * 2 ** 20);

    const noBoundary = await against((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace' });
      res.end(`${'no boundary here\r\n'.repeat(70_000)}`);
    });
    expect(noBoundary.code).toBe(4);
    expect(noBoundary.lines).toEqual([expect.stringMatching(/no multipart boundary in 1048576 bytes: not an MJPEG stream/)]);

    const garbage = await against((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' });
      res.end(Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251)));
    });
    expect(garbage.code, garbage.lines.join('\n')).toBe(4);
    expect(garbage.lines).toEqual([expect.stringMatching(/is not a video stream ffmpeg reads/)]);
  });

  it('a server that drips bytes and never finishes a frame: an outage after --url-timeout, one line, exit 3', async () => {
    const { code, lines } = await against(
      (req, res) => {
        res.writeHead(200, { 'Content-Type': 'multipart/x-mixed-replace;boundary=b' });
        res.write('--b\r\nContent-Type: image/jpeg\r\n\r\n\xff\xd8\xff');
        const drip = setInterval(() => res.write('x'), 50);
        req.socket.on('close', () => clearInterval(drip));
      },
      ['--url-timeout', '1'],
    );
    expect(code).toBe(3);
    expect(lines).toEqual([expect.stringMatching(/sent no frame for 1 s/)]);
  });
});

describe('ffmpeg as the server', () => {
  /** ffmpeg serving `args`' output on `port` to one client (`-listen 1`), at the clip's rate. */
  function ffmpegServer(port: number, input: string, output: string[]): TestProcess {
    return start(FFMPEG, ['-nostdin', '-hide_banner', '-loglevel', 'error', '-re', '-i', input, ...output, '-listen', '1', `http://127.0.0.1:${port}/`]);
  }

  it('-f mpjpeg: its JPEGs pass through byte for byte', async () => {
    const port = await freePort();
    ffmpegServer(port, clip, ['-c:v', 'copy', '-f', 'mpjpeg']);
    // ffmpeg prints nothing when it listens: --retry waits for it.
    const { recv, send, out } = await sendTo(`http://127.0.0.1:${port}/`, 10, ['--retry', '30']);
    expect(await recv.exitCode, recv.stderr()).toBe(0);
    send.kill();
    await send.exited;
    const found = indexes(await saved(out));
    expect(found.filter((i) => i === -1)).toEqual([]);
    expect(found.every((i, k) => k === 0 || i > found[k - 1]!)).toBe(true);
  });

  it('-f matroska of an MJPEG video: ffmpeg unwraps its JPEGs, byte for byte, no encode', async () => {
    const port = await freePort();
    ffmpegServer(port, clip, ['-c:v', 'copy', '-f', 'matroska']);
    const { recv, send, out } = await sendTo(`http://127.0.0.1:${port}/`, 10, ['--retry', '30']);
    expect(await recv.exitCode, `${recv.stderr()}\n${send.stderr()}`).toBe(0);
    send.kill();
    await send.exited;
    const found = indexes(await saved(out));
    expect(found.filter((i) => i === -1)).toEqual([]);
    expect(found.every((i, k) => k === 0 || i > found[k - 1]!)).toBe(true);
  });

  it('-f mpegts: decoded by ffmpeg and encoded as JPEGs of the stream size', async () => {
    const port = await freePort();
    const video = await makeClip(tmp, { frames: 75, width: 320, height: 240, name: 'ts-clip.mp4' });
    ffmpegServer(port, video, ['-c:v', 'mpeg2video', '-f', 'mpegts']);
    const recv = await startReceiver(['--json', '--frames', '10']);
    const send = vstream(['send', '--url', `http://127.0.0.1:${port}/`, '--to', `127.0.0.1:${recv.port}`, '--retry', '30']);
    expect(await recv.exitCode, `${recv.stderr()}\n${send.stderr()}`).toBe(0);
    send.kill();
    await send.exited;
    const frames = recv.output('stdout').map((line) => JSON.parse(line) as { width: number; height: number });
    expect(frames).toHaveLength(10);
    expect(frames.every((frame) => frame.width === 320 && frame.height === 240)).toBe(true);
  });
});

describe('the pieces', () => {
  it('tells what an answer is from its Content-Type and first bytes', () => {
    expect(classifyAnswer('multipart/x-mixed-replace;boundary=x', Buffer.alloc(0))).toBe('multipart');
    expect(classifyAnswer('application/octet-stream', Buffer.from('--ffmpeg\r\n'))).toBe('multipart');
    expect(classifyAnswer(undefined, Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toBe('jpeg');
    expect(classifyAnswer('text/html; charset=utf-8', Buffer.from('<html>'))).toBe('page');
    expect(classifyAnswer('video/mp2t', Buffer.from([0x47, 0x40, 0x11]))).toBe('video');
  });

  it('builds RTSP over TCP with the socket timeout each ffmpeg names its own way', () => {
    expect(urlInputArgs({ url: 'rtsp://cam/stream', timeoutMs: 10_000 })).toEqual(['-rtsp_transport', 'tcp', '-timeout', '10000000', '-i', 'rtsp://cam/stream']);
    expect(urlInputArgs({ url: 'rtsp://cam/stream', timeoutMs: 5000, rtspTimeout: 'stimeout' })).toEqual(['-rtsp_transport', 'tcp', '-stimeout', '5000000', '-i', 'rtsp://cam/stream']);
    expect(urlInputArgs({ url: 'rtmp://host/live/key', timeoutMs: 2000 })).toEqual(['-rw_timeout', '2000000', '-i', 'rtmp://host/live/key']);
    expect(pipedInputArgs({ format: 'mpjpeg' })).toEqual(['-f', 'mpjpeg', '-i', 'pipe:0']);
    // Each ffmpeg here says which: 4.1's -timeout would make RTSP listen instead.
    for (const { path } of FFMPEGS) {
      const help = execFileSync(path, ['-hide_banner', '-h', 'demuxer=rtsp'], { encoding: 'utf8' });
      expect(rtspTimeoutOption(help), path).toBe(path === BUNDLED_FFMPEG ? 'stimeout' : 'timeout');
    }
  });
});
