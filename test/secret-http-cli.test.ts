/**
 * The private HTTP viewer as users run it: `vstream recv --http` and `vstream send --http` with
 * `--secret-file`, real senders with the same secret, a client that pins the certificate by the
 * fingerprint the CLI prints, the token it prints in a URL for a snapshot and for ffmpeg, the
 * login, its limit and the logout, and plain HTTP aimed at the HTTPS port.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_WRONG_PER_ADDRESS } from '../src/sink/http/login-attempts.js';
import { describeInChromium } from './helpers/chromium.js';
import { FFMPEG, runFfmpeg } from './helpers/ffmpeg.js';
import { imageInfo } from './helpers/jpeg.js';
import { rawExchange } from './helpers/mjpeg-http.js';
import { startReceiver, stopAll, vstream, type TestProcess } from './helpers/process.js';

const SECRET = 'http-cli-test-secret-0123456789abcdefghij';
const OTHER = 'another-http-secret-0123456789abcdefghij';
const SOI = Buffer.from([0xff, 0xd8, 0xff]);

const dirs: string[] = [];

afterEach(async () => {
  await stopAll();
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A secret file as `vstream secret > FILE; chmod 600 FILE` makes it. */
async function secretFile(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'vstream-secret-http-'));
  dirs.push(dir);
  const path = join(dir, 'secret');
  await writeFile(path, `${text}\n`);
  await chmod(path, 0o600);
  return path;
}

interface Viewer {
  port: number;
  base: string;
  fingerprint: string;
  token: string;
}

/** What the CLI prints when its viewer starts: the port, the certificate's fingerprint, the token URL. */
async function viewerOf(proc: TestProcess): Promise<Viewer> {
  const [, port] = await proc.waitForLine(/serving HTTPS on 127\.0\.0\.1:(\d+): https:\/\/127\.0\.0\.1:\d+\/$/, 'stderr');
  const [, fingerprint] = await proc.waitForLine(/HTTPS certificate \(from the secret, the same at every start\) SHA-256 ([0-9A-F:]{95})$/, 'stderr');
  const [, tokenPort, token] = await proc.waitForLine(/log in at https:\/\/127\.0\.0\.1:\d+\/login with the secret; players and scripts: https:\/\/127\.0\.0\.1:(\d+)\/stream\?token=([A-Za-z0-9_-]+)$/, 'stderr');
  expect(tokenPort).toBe(port);
  return { port: Number(port), base: `https://127.0.0.1:${port}`, fingerprint: fingerprint!, token: token! };
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/**
 * One HTTPS exchange. The certificate is self-signed, so it is not checked against a CA but
 * pinned: its fingerprint must be the one the CLI printed, or the exchange fails.
 */
function exchange(viewer: Viewer, path: string, options: { method?: string; headers?: Record<string, string | number>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: viewer.port, path, method: options.method ?? 'GET', headers: options.headers, rejectUnauthorized: false, agent: false }, (response) => {
      const served = (response.socket as TLSSocket).getPeerCertificate().fingerprint256;
      if (served !== viewer.fingerprint) {
        response.destroy();
        reject(new Error(`certificate ${served} is not the one printed, ${viewer.fingerprint}`));
        return;
      }
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function login(viewer: Viewer, typed: string): Promise<Answer> {
  const body = new URLSearchParams({ secret: typed }).toString();
  return exchange(viewer, '/login', { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body) } });
}

interface Listed {
  name: string;
  frames: number;
  width: number | null;
}

/** Asks `/streams.json` (each answer an event) until a stream has had a frame. */
async function firstFrame(viewer: Viewer): Promise<Listed> {
  for (;;) {
    const answer = await exchange(viewer, `/streams.json?token=${viewer.token}`);
    expect(answer.status).toBe(200);
    const stream = (JSON.parse(answer.body.toString()) as { streams: Listed[] }).streams[0];
    if (stream && stream.frames > 0) return stream;
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/** How many JPEGs ffmpeg wrote to stdout as image2pipe. */
function jpegCount(out: Buffer): number {
  let count = 0;
  for (let at = out.indexOf(SOI); at !== -1; at = out.indexOf(SOI, at + SOI.length)) count += 1;
  return count;
}

async function expectUnauthenticatedRefused(viewer: Viewer): Promise<void> {
  for (const path of ['/', '/stream', '/snapshot', '/streams.json']) {
    const answer = await exchange(viewer, path);
    expect(answer.status, path).toBe(401);
    expect(answer.body.includes(SOI), path).toBe(false);
  }
  // A wrong token is no token.
  expect((await exchange(viewer, `/snapshot?token=${viewer.token.slice(0, -1)}x`)).status).toBe(401);
}

/** ffmpeg first: a sender-side viewer's source starts with its first viewer, and a snapshot does not wait for it. */
async function expectTokenServes(viewer: Viewer): Promise<void> {
  const out = await runFfmpeg(['-tls_verify', '0', '-i', `${viewer.base}/stream?token=${viewer.token}`, '-frames:v', '5', '-c:v', 'copy', '-f', 'image2pipe', 'pipe:1'], FFMPEG);
  expect(jpegCount(out)).toBeGreaterThanOrEqual(5);
  expect(await imageInfo(out.subarray(0, out.indexOf(SOI, 3)))).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
  const snapshot = await exchange(viewer, `/snapshot?token=${viewer.token}`);
  expect(snapshot.status).toBe(200);
  expect(snapshot.headers['content-type']).toBe('image/jpeg');
  expect(await imageInfo(snapshot.body)).toMatchObject({ format: 'jpeg', width: 320, height: 240 });
  await expect(runFfmpeg(['-tls_verify', '0', '-i', `${viewer.base}/stream`, '-frames:v', '1', '-f', 'null', '-'], FFMPEG)).rejects.toThrow(/401/);
}

/** `recv --http 0` with the secret, and a pattern sender with the same secret pushing to it. */
async function receiverWithSender(): Promise<{ recv: TestProcess; viewer: Viewer }> {
  const file = await secretFile(SECRET);
  const recv = await startReceiver(['--bind', '127.0.0.1', '--http', '0', '--secret-file', file]);
  const viewer = await viewerOf(recv);
  vstream(['send', '--to', `127.0.0.1:${recv.port}`, '--pattern', '--size', '320x240', '--fps', '30', '--label', 'cam', '--secret-file', file, '-q']);
  return { recv, viewer };
}

describe('recv --http with --secret-file', () => {
  it('refuses every route without the token, serves a snapshot and ffmpeg with it', async () => {
    const { recv, viewer } = await receiverWithSender();
    await expectUnauthenticatedRefused(viewer);
    expect(await firstFrame(viewer)).toMatchObject({ name: 'cam', width: 320 });
    await expectTokenServes(viewer);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('logs in with the secret (a cookie that works, then a logout); 5 wrong secrets make the 6th a 429 and a problem line', async () => {
    const { recv, viewer } = await receiverWithSender();
    await firstFrame(viewer);
    const answer = await login(viewer, SECRET);
    expect(answer.status).toBe(303);
    const cookie = answer.headers['set-cookie']?.[0]?.split(';')[0] ?? '';
    expect(cookie).toBe(`vstream_token=${viewer.token}`);
    const list = await exchange(viewer, '/streams.json', { headers: { Cookie: cookie } });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body.toString()).streams[0].name).toBe('cam');
    const snapshot = await exchange(viewer, '/snapshot', { headers: { Cookie: cookie } });
    expect(snapshot.status).toBe(200);
    expect(snapshot.body.subarray(0, 3).equals(SOI)).toBe(true);

    for (let i = 0; i < MAX_WRONG_PER_ADDRESS; i++) expect((await login(viewer, OTHER)).status).toBe(401);
    await recv.waitForLine(/^vstream: viewer login from 127\.0\.0\.1: wrong secret \(1 in the last minute\) \(ERR_AUTH\)$/, 'stderr');
    const blocked = await login(viewer, OTHER);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers['retry-after'])).toBeGreaterThan(0);
    // Blocked means not checked: the right secret waits too.
    expect((await login(viewer, SECRET)).status).toBe(429);
    // The rest of that second's lines are counted into one, the latest named.
    await recv.waitForLine(/more \(ERR_AUTH\) in the last \d\.\d s, the latest: viewer login from 127\.0\.0\.1 not checked: too many wrong secrets from it in a minute, answered 429 \(retry in \d+ s\)$/, 'stderr');
    // A cookie given before goes on working, and so does the token.
    expect((await exchange(viewer, '/streams.json', { headers: { Cookie: cookie } })).status).toBe(200);
    expect((await exchange(viewer, `/snapshot?token=${viewer.token}`)).status).toBe(200);

    const page = await exchange(viewer, '/', { headers: { Cookie: cookie } });
    expect(page.body.toString()).toContain('action="/logout"');
    const out = await exchange(viewer, '/logout', { method: 'POST', headers: { Cookie: cookie } });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe('/login');
    expect(out.headers['set-cookie']?.[0]).toMatch(/^vstream_token=; Path=\/; Max-Age=0;/);
    expect(recv.exitInfo).toBeUndefined();
  });

  it('answers plain http:// on the HTTPS port with no frame bytes, and goes on serving', async () => {
    const { recv, viewer } = await receiverWithSender();
    await firstFrame(viewer);
    for (const path of ['/snapshot', `/snapshot?token=${viewer.token}`, `/stream?token=${viewer.token}`]) {
      const answer = await rawExchange(viewer.port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
      expect(answer, path).not.toMatch(/^HTTP\/1\.1 200/);
      expect(answer.includes('\xff\xd8'), path).toBe(false);
    }
    expect((await exchange(viewer, `/snapshot?token=${viewer.token}`)).status).toBe(200);
    expect(recv.exitInfo).toBeUndefined();
  });
});

describe('send --listen --http with --secret-file (the sender-side viewer)', () => {
  it('serves its own frames over HTTPS with the token, and nothing without', async () => {
    const file = await secretFile(SECRET);
    const send = vstream(['send', '--listen', '0', '--bind', '127.0.0.1', '--http', '0', '--pattern', '--size', '320x240', '--fps', '30', '--label', 'cam', '--secret-file', file]);
    const viewer = await viewerOf(send);
    await expectUnauthenticatedRefused(viewer);
    // The stream is declared before its first frame: ffmpeg, the first viewer, starts the pattern.
    await expectTokenServes(viewer);
    const cookie = (await login(viewer, SECRET)).headers['set-cookie']?.[0]?.split(';')[0] ?? '';
    expect((await exchange(viewer, '/streams.json', { headers: { Cookie: cookie } })).status).toBe(200);
    // The sender says so too when a login is wrong.
    expect((await login(viewer, OTHER)).status).toBe(401);
    await send.waitForLine(/^vstream: viewer login from 127\.0\.0\.1: wrong secret \(1 in the last minute\) \(ERR_AUTH\)$/, 'stderr');
    expect(await rawExchange(viewer.port, 'GET /snapshot HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')).not.toMatch(/^HTTP/);
    expect(send.exitInfo).toBeUndefined();
    send.kill('SIGINT');
    expect(await send.exitCode).toBe(130);
  });
});

describeInChromium(`the CLI's private viewer in headless Chromium`, { width: 800, height: 600, args: ['--ignore-certificate-errors'] }, (browser) => {
  it('logs in with the secret and shows the received stream', async () => {
    const { viewer } = await receiverWithSender();
    await firstFrame(viewer);
    const page = await browser().newPage();
    try {
      await page.goto(`${viewer.base}/`);
      // Not logged in: the form.
      expect(await page.evaluate(`document.getElementById('secret') !== null`)).toBe(true);
      await page.evaluate(`(() => { document.getElementById('secret').value = ${JSON.stringify(SECRET)}; document.querySelector('form').submit(); return true; })()`);
      await page.waitFor(`location.pathname === '/' && document.images.length > 0 && document.images[0].naturalWidth === 320`);
      expect(await page.evaluate(`document.querySelector('#logout button') !== null`)).toBe(true);
    } finally {
      await page.close();
    }
  });
});

describe('recv --http without a secret', () => {
  it('says once that anyone who can reach its HTTP port can watch, unless bound to loopback', async () => {
    const open = vstream(['recv', '--no-window', '--listen', '0', '--http', '0']);
    await open.waitForLine(/note: no --secret-file: anyone who can reach this port can watch the streams/, 'stderr');
    open.kill('SIGINT');
    expect(await open.exitCode).toBe(130);
    expect(open.stderr().match(/can watch the streams/g)).toHaveLength(1);
    const bound = vstream(['recv', '--no-window', '--listen', '0', '--bind', '127.0.0.1', '--http', '0']);
    await bound.waitForLine(/serving HTTP on 127\.0\.0\.1:\d+/, 'stderr');
    await bound.waitForLine(/listening on 127\.0\.0\.1:\d+/, 'stderr');
    bound.kill('SIGINT');
    expect(await bound.exitCode).toBe(130);
    expect(bound.stderr()).not.toMatch(/no --secret-file/);
  });
});
