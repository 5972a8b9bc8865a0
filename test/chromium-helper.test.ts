/**
 * The headless Chromium helper against a small HTTP server of the test's own: a colour chosen
 * by a query, text changed after load, and an <img> fed by a multipart/x-mixed-replace stream
 * whose parts the test sends one at a time.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium, near, NO_CHROMIUM, pixelAt, type Chromium } from './helpers/chromium.js';

const WIDTH = 320;
const HEIGHT = 240;
const BOUNDARY = 'vstreamframe';

async function solidJpeg(rgb: [number, number, number]): Promise<Buffer> {
  return sharp({ create: { width: 64, height: 48, channels: 3, background: { r: rgb[0], g: rgb[1], b: rgb[2] } } })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** One multipart client: the test pushes parts to it when it chooses. */
interface StreamClient {
  res: ServerResponse;
  part(jpeg: Buffer): void;
}

describe.skipIf(!hasChromium())(`headless Chromium helper${hasChromium() ? '' : ` (skipped: ${NO_CHROMIUM})`}`, () => {
  let server: Server;
  let base: string;
  let browser: Chromium;
  const streamClients: StreamClient[] = [];
  const clientWaiters: Array<(client: StreamClient) => void> = [];
  const held: ServerResponse[] = [];
  const heldWaiters: Array<() => void> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (url.pathname === '/colour') {
        const colour = /^[0-9a-f]{6}$/.test(url.searchParams.get('bg') ?? '') ? url.searchParams.get('bg') : '000000';
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(`<!doctype html><html><body style="margin:0;background:#${colour}"></body></html>`);
        return;
      }
      if (url.pathname === '/later') {
        // The text changes when /release answers, and the test decides when that is.
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(
          `<!doctype html><p id="t">before</p>` +
            `<script>addEventListener('load', () => fetch('/release').then((r) => r.text())` +
            `.then((text) => { document.getElementById('t').textContent = text; }));</script>`,
        );
        return;
      }
      if (url.pathname === '/release') {
        held.push(res);
        heldWaiters.splice(0).forEach((resolve) => resolve());
        return;
      }
      if (url.pathname === '/viewer') {
        res.writeHead(200, { 'Content-Type': 'text/html' });
        res.end(
          `<!doctype html><body style="margin:0;background:#000">` +
            `<img id="v" src="/stream" style="display:block;width:${WIDTH}px;height:${HEIGHT}px"></body>`,
        );
        return;
      }
      if (url.pathname === '/stream') {
        res.writeHead(200, {
          'Content-Type': `multipart/x-mixed-replace;boundary=${BOUNDARY}`,
          'Cache-Control': 'no-store',
        });
        // Chrome paints a part only once the headers of the next part have arrived, so, as
        // µStreamer does, each part's headers go out right after the previous JPEG (and so
        // without a Content-Length, which cannot be known in advance).
        const headers = 'Content-Type: image/jpeg\r\n\r\n';
        res.write(`--${BOUNDARY}\r\n${headers}`);
        const client: StreamClient = {
          res,
          part(jpeg) {
            res.write(jpeg);
            res.write(`\r\n--${BOUNDARY}\r\n${headers}`);
          },
        };
        streamClients.push(client);
        clientWaiters.splice(0).forEach((resolve) => resolve(client));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchChromium({ width: WIDTH, height: HEIGHT });
    console.log(`chromium launch: ${browser.launchMs.toFixed(0)} ms`);
  });

  afterAll(async () => {
    await browser?.close();
    for (const client of streamClients) client.res.destroy();
    for (const res of held) res.destroy();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('screenshots a page whose background colour the query sets', async () => {
    const page = await browser.newPage();
    for (const [hex, rgb] of [
      ['ff0000', [255, 0, 0]],
      ['00a0ff', [0, 160, 255]],
    ] as const) {
      await page.goto(`${base}/colour?bg=${hex}`);
      const png = await page.screenshot();
      const meta = await sharp(png).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(['png', WIDTH, HEIGHT]);
      expect(await pixelAt(png, WIDTH / 2, HEIGHT / 2)).toEqual(rgb);
      expect(await pixelAt(png, 1, HEIGHT - 2)).toEqual(rgb);
    }
    await page.close();
  });

  it('evaluates expressions and waits for text that changes after load', async () => {
    const page = await browser.newPage();
    const asked = new Promise<void>((resolve) => heldWaiters.push(resolve));
    await page.goto(`${base}/later`);
    expect(await page.evaluate('1 + 2')).toBe(3);
    expect(await page.evaluate('Promise.resolve({ a: [1, "x"] })')).toEqual({ a: [1, 'x'] });
    await expect(page.evaluate('(() => { throw new Error("boom") })()')).rejects.toThrow(/boom/);
    await asked;
    expect(await page.evaluate('document.getElementById("t").textContent')).toBe('before');
    for (const res of held.splice(0)) res.end('after');
    expect(await page.waitFor('document.getElementById("t").textContent === "after" && "done"', 10_000)).toBe('done');
    await expect(page.waitFor('false', 300)).rejects.toThrow(/not true within 300 ms/);
    await page.close();
  });

  it('reports a page that cannot be loaded', async () => {
    const server404 = createServer();
    await new Promise<void>((resolve) => server404.listen(0, '127.0.0.1', resolve));
    const { port } = server404.address() as AddressInfo;
    await new Promise((resolve) => server404.close(resolve));
    const page = await browser.newPage();
    await expect(page.goto(`http://127.0.0.1:${port}/`)).rejects.toThrow(/ERR_CONNECTION_REFUSED/);
    await page.close();
  });

  it('shows each part of a multipart MJPEG stream in an <img> as it arrives', async () => {
    const red = await solidJpeg([220, 20, 20]);
    const blue = await solidJpeg([20, 40, 220]);
    const page = await browser.newPage();
    const connected = new Promise<StreamClient>((resolve) => clientWaiters.push(resolve));
    // The <img> never finishes loading, so the page's load event is not what to wait for.
    await page.goto(`${base}/viewer`, { waitUntil: 'commit' });
    const client = await connected;

    client.part(red);
    await page.waitFor('document.getElementById("v").naturalWidth === 64');
    const first = await page.screenshotUntil(async (png) => near(await pixelAt(png, WIDTH / 2, HEIGHT / 2), [220, 20, 20]), 'the red part');
    expect(near(await pixelAt(first, 5, 5), [220, 20, 20])).toBe(true);

    client.part(blue);
    const second = await page.screenshotUntil(async (png) => near(await pixelAt(png, WIDTH / 2, HEIGHT / 2), [20, 40, 220]), 'the blue part');
    expect(near(await pixelAt(second, WIDTH - 5, HEIGHT - 5), [20, 40, 220])).toBe(true);
    await page.close();
  });

  it('opens a multipart MJPEG URL directly, until its first frame', async () => {
    const green = await solidJpeg([20, 200, 40]);
    const page = await browser.newPage();
    const connected = new Promise<StreamClient>((resolve) => clientWaiters.push(resolve));
    const navigated = page.goto(`${base}/stream`, { waitUntil: 'image' });
    const client = await connected;
    client.part(green);
    await navigated;
    expect(await page.evaluate('document.images[0].naturalWidth + "x" + document.images[0].naturalHeight')).toBe('64x48');
    await page.close();
  });

  it('ends every wait at once when the browser goes away, and leaves no profile behind', async () => {
    const own = await launchChromium({ width: 200, height: 100 });
    const page = await own.newPage();
    const waiting = page.waitFor('false', 30_000);
    const started = Date.now();
    await own.close();
    await expect(waiting).rejects.toThrow(/the browser exited/);
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(page.evaluate('1')).rejects.toThrow(/the browser exited/);
    expect(existsSync(own.userDataDir)).toBe(false);
  });

  it('fails to launch with a clear error when the browser exits at once', async () => {
    const saved = process.env.CHROMIUM;
    process.env.CHROMIUM = '/bin/false';
    try {
      await expect(launchChromium({ timeoutMs: 10_000 })).rejects.toThrow(/Browser.getVersion: the browser exited \(1\)/);
      process.env.CHROMIUM = '/nonexistent/chromium';
      await expect(launchChromium({ timeoutMs: 10_000 })).rejects.toThrow(/could not start \/nonexistent\/chromium/);
    } finally {
      if (saved === undefined) delete process.env.CHROMIUM;
      else process.env.CHROMIUM = saved;
    }
  });
});
