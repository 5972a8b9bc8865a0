/**
 * The HTTP viewer with a shared secret: HTTPS under a certificate derived from the secret (the
 * same at every start), a login whose cookie browsers keep, the token in the URL for ffmpeg,
 * and 401 for everything else. Real sockets, a real ffmpeg and a real headless Chromium.
 */
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request, type RequestOptions } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterEach, describe, expect, it } from 'vitest';
import type { Problem } from '../src/problems.js';
import { Secret } from '../src/secret/secret.js';
import { viewerCertificate } from '../src/sink/http/certificate.js';
import { MAX_WRONG_PER_ADDRESS } from '../src/sink/http/login-attempts.js';
import { viewerToken } from '../src/sink/http/login.js';
import { viewerPage } from '../src/sink/http/page.js';
import { listenViewer } from '../src/sink/http/secure-viewer.js';
import type { HttpViewer } from '../src/sink/http/viewer-server.js';
import { describeInChromium, pixelAt } from './helpers/chromium.js';
import { FFMPEG, runFfmpeg } from './helpers/ffmpeg.js';
import { rawExchange } from './helpers/mjpeg-http.js';
import { start, stopAll } from './helpers/process.js';
import { CV2_SKIP_REASON, HAVE_CV2, PYTHON } from './helpers/python.js';

const TEXT = 'k3Jx9QmV2pLr8sTn4wYz6bHc1dFg5aEu0iOy7qRtXvM';
const OTHER = 'another-secret-of-enough-length-0123456789';
const SECRET = Secret.fromText(TEXT, '--secret');
const CERT = viewerCertificate(SECRET);
const TOKEN = viewerToken(SECRET);

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One HTTPS exchange, trusting only the certificate the secret gives (pinned, not ignored). */
function exchange(port: number, path: string, options: RequestOptions & { body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const { body, ...rest } = options;
    const req = request({ host: '127.0.0.1', port, path, ca: CERT.cert, agent: false, ...rest }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
      response.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function login(port: number, typed: string, accept = 'text/html'): Promise<Answer> {
  const body = new URLSearchParams({ secret: typed }).toString();
  return exchange(port, '/login', { method: 'POST', body, headers: { 'Content-Type': 'application/x-www-form-urlencoded', 'Content-Length': Buffer.byteLength(body), Accept: accept } });
}

/** The certificate a TLS client is shown on `port`. */
function servedCertificate(port: number): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      const raw = socket.getPeerX509Certificate();
      socket.destroy();
      if (raw) resolve(raw);
      else reject(new Error('no certificate'));
    });
    socket.on('error', reject);
  });
}

const viewers: HttpViewer[] = [];
const feeds: NodeJS.Timeout[] = [];

/** A viewer with the secret, fed a solid red 320x240 JPEG at 30 fps as a camera would be. */
async function securedViewer(secret = TEXT, lines: string[] = [], problems: Problem[] = []): Promise<HttpViewer> {
  const viewer = await listenViewer({ port: 0, host: '127.0.0.1' }, { secret }, (line) => lines.push(line), (problem) => problems.push(problem));
  viewers.push(viewer);
  const red = await sharp({ create: { width: 320, height: 240, channels: 3, background: { r: 220, g: 0, b: 0 } } }).jpeg().toBuffer();
  const frame = { data: red, type: 'jpeg' as const, width: 320, height: 240, captureTime: Date.now() };
  const figures = () => ({ fps: 30, latencyMs: null, dropped: 0, frames: 1, bytes: red.length });
  viewer.publish(1, 'cam', frame, figures);
  const timer = setInterval(() => viewer.publish(1, 'cam', { ...frame, captureTime: Date.now() }, figures), 33);
  feeds.push(timer);
  return viewer;
}

afterEach(async () => {
  await stopAll();
  for (const timer of feeds.splice(0)) clearInterval(timer);
  await Promise.all(viewers.splice(0).map((viewer) => viewer.close()));
});

describe('the viewer certificate derived from the secret', () => {
  it('is the same at every start, valid, signed by its own key, and another secret gives another', async () => {
    const first = await securedViewer();
    const again = await securedViewer();
    const other = await securedViewer(OTHER);
    const [a, b, c] = await Promise.all([servedCertificate(first.port), servedCertificate(again.port), servedCertificate(other.port)]);
    expect(a.fingerprint256).toBe(CERT.fingerprint256);
    expect(b.raw.equals(a.raw)).toBe(true);
    expect(c.fingerprint256).not.toBe(a.fingerprint256);
    expect(a.verify(a.publicKey)).toBe(true);
    expect(a.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(a.subjectAltName).toContain('IP Address:127.0.0.1');
    // OpenSSL's own parser reads the DER written here and agrees on the fingerprint.
    const dir = await mkdtemp(join(tmpdir(), 'vstream-cert-'));
    try {
      await writeFile(join(dir, 'cert.pem'), CERT.cert);
      const { stdout } = await promisify(execFile)('openssl', ['x509', '-in', join(dir, 'cert.pem'), '-noout', '-fingerprint', '-sha256']);
      expect(stdout.trim().split('=')[1]).toBe(CERT.fingerprint256);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('is told at start with the login URL and the token URL', async () => {
    const lines: string[] = [];
    const viewer = await securedViewer(TEXT, lines);
    // The secret is read once per process (an earlier test read it, and was warned then).
    expect(lines).toEqual([
      `serving HTTPS on 127.0.0.1:${viewer.port}: https://127.0.0.1:${viewer.port}/`,
      `HTTPS certificate (from the secret, the same at every start) SHA-256 ${CERT.fingerprint256}`,
      `log in at https://127.0.0.1:${viewer.port}/login with the secret; players and scripts: https://127.0.0.1:${viewer.port}/stream?token=${TOKEN}`,
    ]);
  });
});

describe('the viewer with a secret', () => {
  it('answers 401 to every route without the token, and serves them with it (query or bearer)', async () => {
    const { port } = await securedViewer();
    for (const path of ['/', '/streams.json', '/stream', '/stream/cam', '/snapshot.jpg', '/snapshot/cam.jpg', '/?action=snapshot', '/nope']) {
      const answer = await exchange(port, path);
      expect(answer.status, path).toBe(401);
      expect(answer.headers['www-authenticate']).toBe('Bearer realm="vstream"');
      expect(answer.body.toString()).not.toContain('\xff\xd8');
      expect((await exchange(port, `${path}${path.includes('?') ? '&' : '?'}token=${TOKEN.slice(0, -1)}A`)).status, `${path} wrong token`).toBe(401);
    }
    const snapshot = await exchange(port, `/snapshot/cam.jpg?token=${TOKEN}`);
    expect(snapshot.status).toBe(200);
    expect(snapshot.headers['content-type']).toBe('image/jpeg');
    expect((await sharp(snapshot.body).metadata()).width).toBe(320);
    const list = await exchange(port, '/streams.json', { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(list.status).toBe(200);
    expect(JSON.parse(list.body.toString()).streams[0].name).toBe('cam');
    // Targets a URL parser throws on are answered, not a crash.
    for (const target of ['http://[', '//login', '/login/../stream', '*']) {
      expect((await exchange(port, target)).status, target).toBe(401);
    }
    expect((await exchange(port, `/snapshot.jpg?token=${TOKEN}`)).status).toBe(200);
    // Plain HTTP to the HTTPS port is never answered as HTTP.
    expect(await rawExchange(port, 'GET /snapshot.jpg HTTP/1.1\r\nHost: x\r\n\r\n')).not.toMatch(/^HTTP\/1\.1 200/);
  });

  it('logs in with the secret or the token: a cookie that is HttpOnly, Secure and SameSite=Strict; a wrong secret stays 401', async () => {
    const problems: Problem[] = [];
    const { port: blocked } = await securedViewer(TEXT, [], problems);
    expect((await exchange(blocked, '/login')).status).toBe(200);
    const wrongs = [OTHER, '', 'short', TOKEN.slice(1), `${TEXT}x`];
    expect(wrongs).toHaveLength(MAX_WRONG_PER_ADDRESS);
    for (const wrong of wrongs) {
      const answer = await login(blocked, wrong);
      expect(answer.status, wrong).toBe(401);
      expect(answer.headers['set-cookie']).toBeUndefined();
      expect(answer.body.toString()).toContain('That is not the secret.');
    }
    // Each wrong one is a problem line naming the address.
    expect(problems.map((p) => p.message)).toEqual(wrongs.map((_, i) => `viewer login from 127.0.0.1: wrong secret (${i + 1} in the last minute)`));
    expect(new Set(problems.map((p) => p.code))).toEqual(new Set(['ERR_AUTH']));
    // Past the limit even the right secret is not checked: a 429 that says when to come back.
    for (const accept of ['text/html', '*/*']) {
      const late = await login(blocked, TEXT, accept);
      expect(late.status).toBe(429);
      expect(Number(late.headers['retry-after'])).toBeGreaterThan(50);
      expect(Number(late.headers['retry-after'])).toBeLessThanOrEqual(60);
      expect(late.headers['set-cookie']).toBeUndefined();
      expect(late.body.toString()).toContain('Too many wrong secrets from this address');
    }
    expect(problems.at(-1)?.message).toMatch(/^viewer login from 127\.0\.0\.1 not checked: too many wrong secrets from it in a minute, answered 429 \(retry in \d+ s\)$/);
    // The token in the URL is no login: it still works from the blocked address.
    expect((await exchange(blocked, `/snapshot.jpg?token=${TOKEN}`)).status).toBe(200);

    const { port } = await securedViewer();
    for (const right of [TEXT, TOKEN]) {
      const answer = await login(port, right);
      expect(answer.status).toBe(303);
      expect(answer.headers.location).toBe('/');
      const cookie = answer.headers['set-cookie']?.[0] ?? '';
      expect(cookie).toMatch(/^vstream_token=[A-Za-z0-9_-]+; Path=\/; Max-Age=\d+; HttpOnly; Secure; SameSite=Strict$/);
      const page = await exchange(port, '/', { headers: { Cookie: cookie.split(';')[0]! } });
      expect(page.status).toBe(200);
      expect(page.body.toString()).toContain('/streams.json');
    }
    // A body larger than a login form is refused, not held.
    expect((await login(port, 'x'.repeat(10_000))).status).toBe(413);
  });

  it('logs in at once below the limit, and a right login forgets the wrong ones before it', async () => {
    const { port } = await securedViewer();
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < MAX_WRONG_PER_ADDRESS - 1; i++) expect((await login(port, OTHER)).status).toBe(401);
      expect((await login(port, TEXT)).status, `round ${round}`).toBe(303);
    }
  });

  it('logs out: POST (the page button) or GET clears the cookie and goes to /login; the button is there only with a secret', async () => {
    const { port } = await securedViewer();
    const cookie = (await login(port, TEXT)).headers['set-cookie']?.[0]?.split(';')[0] ?? '';
    const page = await exchange(port, '/', { headers: { Cookie: cookie } });
    expect(page.body.toString()).toContain('<form id="logout" method="post" action="/logout">');
    for (const method of ['POST', 'GET']) {
      const out = await exchange(port, '/logout', { method, headers: { Cookie: cookie } });
      expect(out.status, method).toBe(303);
      expect(out.headers.location).toBe('/login');
      expect(out.headers['set-cookie']?.[0]).toBe('vstream_token=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict');
    }
    expect((await exchange(port, '/logout', { method: 'PUT' })).status).toBe(405);
    // The token itself stays valid (it is the secret's), so a logout is the browser forgetting it.
    expect(viewerPage('vstream')).not.toContain('/logout');
    expect(viewerPage('vstream', { logout: true })).toContain('action="/logout"');
  });

  it('serves ffmpeg the stream with the token in the URL', async () => {
    const { port } = await securedViewer();
    const out = await runFfmpeg(['-i', `https://127.0.0.1:${port}/stream?token=${TOKEN}`, '-frames:v', '5', '-f', 'image2pipe', '-c:v', 'mjpeg', 'pipe:1'], FFMPEG);
    let frames = 0;
    for (let at = out.indexOf(Buffer.from([0xff, 0xd8])); at !== -1; at = out.indexOf(Buffer.from([0xff, 0xd8]), at + 2)) frames += 1;
    expect(frames).toBeGreaterThanOrEqual(5);
    await expect(runFfmpeg(['-i', `https://127.0.0.1:${port}/stream`, '-frames:v', '1', '-f', 'null', '-'], FFMPEG)).rejects.toThrow(/401/);
  });

  it.skipIf(!HAVE_CV2)(`serves OpenCV's VideoCapture(url) with the token in the URL${CV2_SKIP_REASON ? ` (skipped: ${CV2_SKIP_REASON})` : ''}`, async () => {
    const { port } = await securedViewer();
    // As a tutorial writes it.
    const script = [
      'import sys, cv2',
      'cap = cv2.VideoCapture(sys.argv[1])',
      'n = 0',
      'while n < 10:',
      '    ok, frame = cap.read()',
      '    if not ok:',
      '        break',
      '    n += 1',
      '    print(frame.shape[1], frame.shape[0], [int(c) for c in frame[120, 160]])',
      'print("read", n)',
    ].join('\n');
    const python = start(PYTHON, ['-c', script, `https://127.0.0.1:${port}/stream?token=${TOKEN}`]);
    expect(await python.exitCode).toBe(0);
    const lines = python.output('stdout');
    expect(lines.at(-1)).toBe('read 10');
    const [width, height, ...bgr] = lines[0]!.replace(/[[\],]/g, ' ').trim().split(/\s+/).map(Number);
    expect([width, height]).toEqual([320, 240]);
    // BGR: red.
    expect(bgr[2]).toBeGreaterThan(150);
    expect(bgr[0]).toBeLessThan(80);
  });
});

describeInChromium(`the viewer with a secret in headless Chromium`, { width: 800, height: 600, args: ['--ignore-certificate-errors'] }, (browser) => {
  it('stays at the login with a wrong secret, then logs in, is sent to / and sees the stream, then logs out', async () => {
    const { port } = await securedViewer();
    const base = `https://127.0.0.1:${port}`;
    const page = await browser().newPage();
    const submit = (typed: string) =>
      page.evaluate(`(() => { document.getElementById('secret').value = ${JSON.stringify(typed)}; document.querySelector('form').submit(); return true; })()`);
    try {
      await page.goto(`${base}/login`);
      await submit(OTHER);
      await page.waitFor(`document.getElementById('problem') !== null`);
      expect(await page.evaluate('location.pathname')).toBe('/login');
      // The page itself without a login is the form again, not the streams.
      await page.goto(`${base}/`);
      expect(await page.evaluate(`document.getElementById('secret') !== null`)).toBe(true);
      await page.goto(`${base}/login`);
      await submit(TEXT);
      await page.waitFor(`location.pathname === '/' && document.images.length > 0 && document.images[0].naturalWidth > 0`);
      await page.screenshotUntil(async (png) => {
        const [r, g, b] = await pixelAt(png, 200, 200);
        return r > 150 && g < 80 && b < 80;
      }, 'the red stream in its tile');
      // The cookie is kept: a new visit goes straight to the streams.
      await page.goto(`${base}/`);
      expect(await page.evaluate(`document.getElementById('secret') === null`)).toBe(true);
      // The button logs out: the browser is at the login, and the streams ask for it again.
      await page.evaluate(`(() => { document.querySelector('#logout button').click(); return true; })()`);
      await page.waitFor(`location.pathname === '/login' && document.getElementById('secret') !== null`);
      await page.goto(`${base}/`);
      expect(await page.evaluate(`document.getElementById('secret') !== null`)).toBe(true);
    } finally {
      await page.close();
    }
  });
});
