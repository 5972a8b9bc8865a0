/**
 * recv --http in a real headless Chromium: the page at `/` and an MJPEG stream opened directly
 * show the test pattern and its motion, and the page follows senders coming and going.
 */
import sharp from 'sharp';
import { afterEach, expect, it } from 'vitest';
import { describeInChromium, launchChromium, pixelAt, type ChromiumPage } from './helpers/chromium.js';
import { fetchBody, startHttpViewer } from './helpers/mjpeg-http.js';
import { startProcess, stopAll, vstream, VSTREAM_BIN, type TestProcess } from './helpers/process.js';

/** Compared at this size: big enough for the pattern's bars, small enough to ignore scaling. */
const PROBE = { width: 64, height: 48 };

function pattern(port: number, label: string, extra: string[] = []): TestProcess {
  return vstream(['send', '--pattern', '--size', '320x240', '--fps', '15', '--label', label, '--to', `127.0.0.1:${port}`, '-q', ...extra]);
}

/** Raw RGB of `png` cropped to `rect` (CSS pixels = PNG pixels here) and shrunk to PROBE. */
async function probe(image: Buffer, rect?: { x: number; y: number; width: number; height: number }): Promise<Buffer> {
  let pipeline = sharp(image);
  if (rect) pipeline = pipeline.extract({ left: Math.round(rect.x), top: Math.round(rect.y), width: Math.round(rect.width), height: Math.round(rect.height) });
  return pipeline.removeAlpha().resize(PROBE.width, PROBE.height, { fit: 'fill' }).raw().toBuffer();
}

/** Mean absolute difference per channel, 0..255. */
function difference(a: Buffer, b: Buffer): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** Spread of the values: a picture of the pattern has bars of many colours, a blank one none. */
function spread(a: Buffer): number {
  const mean = a.reduce((s, v) => s + v, 0) / a.length;
  return Math.sqrt(a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length);
}

async function imageRect(page: ChromiumPage, selector: string): Promise<{ x: number; y: number; width: number; height: number }> {
  return page.evaluate(`(() => { const r = document.querySelector(${JSON.stringify(selector)}).getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; })()`);
}

/**
 * The screenshot shows the pattern where `selector` is: like the receiver's own snapshot of
 * the stream (the bars do not move; the moving parts are a small share), and not blank. Then
 * a later screenshot differs from it there: the picture moves.
 */
async function showsMovingPattern(page: ChromiumPage, selector: string, snapshotUrl: string): Promise<void> {
  const rect = await imageRect(page, selector);
  expect(rect.width).toBeGreaterThan(100);
  const first = await probe(await page.screenshot(), rect);
  const snapshot = await probe((await fetchBody(snapshotUrl)).body);
  expect(spread(first)).toBeGreaterThan(40);
  expect(difference(first, snapshot)).toBeLessThan(25);
  await page.screenshotUntil(async (png) => difference(await probe(png, rect), first) > 1, 'the pattern moving');
}

describeInChromium(`recv --http in headless Chromium`, { width: 800, height: 600 }, (browser) => {
  afterEach(async () => {
    await stopAll();
  });

  it('shows the pattern moving at /stream/NAME opened directly', async () => {
    const { recv, base } = await startHttpViewer();
    pattern(recv.port, 'cam');
    while ((await fetchBody(`${base}/snapshot/cam.jpg`)).status !== 200) await new Promise((resolve) => setImmediate(resolve));
    const page = await browser().newPage();
    try {
      await page.goto(`${base}/stream/cam`, { waitUntil: 'image' });
      expect(await page.evaluate('[document.images[0].naturalWidth, document.images[0].naturalHeight]')).toEqual([320, 240]);
      await showsMovingPattern(page, 'img', `${base}/snapshot/cam.jpg`);
    } finally {
      await page.close();
    }
  });

  it('shows a frame at once, not when the next comes: a stream that holds on one frame shows it', async () => {
    const { recv, base } = await startHttpViewer();
    const solid = (r: number, g: number, b: number) => sharp({ create: { width: 320, height: 240, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
    // stdin stays open: the stream stays live with nothing after the frame written last.
    const sender = startProcess('send --stdin', process.execPath, [VSTREAM_BIN, 'send', '--stdin', '--label', 'held', '--to', `127.0.0.1:${recv.port}`, '-q']);
    sender.child.stdin!.write(await solid(220, 0, 0));
    const framesOf = async () => (JSON.parse((await fetchBody(`${base}/streams.json`)).body.toString()) as { streams: { frames: number }[] }).streams[0]?.frames ?? 0;
    while ((await framesOf()) < 1) await new Promise((resolve) => setImmediate(resolve));
    const page = await browser().newPage();
    const colourIs = (want: 'red' | 'blue') => async (png: Buffer) => {
      const [r, g, b] = await pixelAt(png, 400, 300);
      return want === 'red' ? r > 150 && g < 80 && b < 80 : b > 150 && r < 80 && g < 80;
    };
    try {
      // 'image': until the first picture is decoded, which without the workaround waits for the next frame.
      await page.goto(`${base}/stream/held${process.env.HTTP_LATE_QUERY ?? ''}`, { waitUntil: 'image', timeoutMs: 5000 });
      await page.screenshotUntil(colourIs('red'), 'the only frame so far (red)', 5000);
      sender.child.stdin!.write(await solid(0, 0, 220));
      await page.screenshotUntil(colourIs('blue'), 'the second and last frame (blue)', 5000);
    } finally {
      await page.close();
      sender.child.stdin!.end();
    }
  });

  it('tiles the streams on /, with their figures, and follows senders coming and going', async () => {
    const { recv, base } = await startHttpViewer();
    pattern(recv.port, 'Front door');
    const page = await browser().newPage();
    try {
      await page.goto(`${base}/`);
      await page.waitFor(`document.querySelectorAll('main figure').length === 1 && document.querySelector('main figure img').naturalWidth > 0`);
      await showsMovingPattern(page, 'main figure img', `${base}/snapshot/front-door.jpg`);
      // Live figures in the caption, updated without a reload.
      const caption = await page.waitFor<string>(`(() => { const t = document.querySelector('main figure figcaption').textContent; return /[1-9]\\d* fps/.test(t) && /320x240/.test(t) && t; })()`);
      expect(caption).toContain('Front door');
      expect(caption).toMatch(/\d+ dropped/);

      const second = pattern(recv.port, 'Back door', ['--frames', '90']);
      const names = await page.waitFor<string[]>(`(() => { const f = [...document.querySelectorAll('main figure')]; return f.length === 2 && f.every((x) => x.querySelector('img').naturalWidth > 0) && f.map((x) => x.dataset.name); })()`);
      expect(names.sort()).toEqual(['back-door', 'front-door']);
      expect(await page.evaluate('document.getElementById("status").textContent')).toBe('2 streams');
      await showsMovingPattern(page, 'main figure[data-name="back-door"] img', `${base}/snapshot/back-door.jpg`);

      expect(await second.exitCode).toBe(0);
      await page.waitFor(`document.querySelectorAll('main figure').length === 1`);
      expect(await page.evaluate(`document.querySelector('main figure').dataset.name`)).toBe('front-door');
      expect(await page.evaluate('document.getElementById("status").textContent')).toBe('1 stream');
    } finally {
      await page.close();
    }
  });

  it('shows seven streams at once: past the connections a browser opens to one server, tiles show snapshots, and the list keeps updating', async () => {
    const { recv, base } = await startHttpViewer();
    const solid = (r: number, g: number, b: number) => sharp({ create: { width: 160, height: 120, channels: 3, background: { r, g, b } } }).jpeg().toBuffer();
    // Senders without ffmpeg: one frame each on stdin, held open, so six cost next to nothing.
    const senders = [];
    for (let i = 0; i < 6; i++) {
      const sender = startProcess(`send ${i}`, process.execPath, [VSTREAM_BIN, 'send', '--stdin', '--label', `s${i}`, '--to', `127.0.0.1:${recv.port}`, '-q']);
      sender.child.stdin!.write(await solid(40 * i, 200 - 30 * i, 100));
      senders.push(sender);
    }
    const page = await browser().newPage();
    try {
      await page.goto(`${base}/`);
      await page.waitFor(`(() => { const f = [...document.querySelectorAll('main figure img')]; return f.length === 6 && f.every((img) => img.naturalWidth === 160); })()`);
      expect(await page.evaluate('document.getElementById("status").textContent')).toBe('6 streams');
      // The list still comes through with six images showing: a seventh sender gets its tile
      // (were every tile an MJPEG connection, /streams.json would wait for one to close).
      const seventh = startProcess('send 6', process.execPath, [VSTREAM_BIN, 'send', '--stdin', '--label', 's6', '--to', `127.0.0.1:${recv.port}`, '-q']);
      seventh.child.stdin!.write(await solid(250, 250, 0));
      senders.push(seventh);
      await page.waitFor(`(() => { const f = [...document.querySelectorAll('main figure img')]; return f.length === 7 && f.every((img) => img.naturalWidth === 160); })()`);
      expect(await page.evaluate('document.getElementById("status").textContent')).toBe('7 streams');
      senders[6]!.child.stdin!.end();
      await page.waitFor(`document.querySelectorAll('main figure').length === 6 && document.getElementById('status').textContent === '6 streams'`);
    } finally {
      await page.close();
      for (const sender of senders) sender.child.stdin!.end();
    }
  });

  it('fits a phone: one tile across a 390 px wide viewport, no horizontal scrolling', async () => {
    const { recv, base } = await startHttpViewer();
    pattern(recv.port, 'cam');
    const phone = await launchChromium({ width: 390, height: 844 });
    try {
      const page = await phone.newPage();
      await page.goto(`${base}/`);
      await page.waitFor(`document.querySelectorAll('main figure').length === 1 && document.querySelector('main figure img').naturalWidth > 0`);
      const layout = await page.evaluate<{ tile: number; scroll: number; viewport: number }>(
        `({ tile: document.querySelector('main figure').getBoundingClientRect().width, scroll: document.documentElement.scrollWidth, viewport: innerWidth })`,
      );
      expect(layout.viewport).toBe(390);
      expect(layout.scroll).toBeLessThanOrEqual(390);
      // One column, nearly the whole width.
      expect(layout.tile).toBeGreaterThan(350);
      await showsMovingPattern(page, 'main figure img', `${base}/snapshot/cam.jpg`);
    } finally {
      await phone.close();
    }
  });
});
