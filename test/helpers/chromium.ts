/**
 * A real headless Chromium for tests, driven over the DevTools protocol without any npm
 * dependency: the browser is started with `--remote-debugging-pipe`, so it reads commands on
 * its fd 3 and writes replies and events on its fd 4, each message one JSON text ended by a NUL
 * byte. A pipe needs no port (nothing to race for, nothing reachable from outside the test).
 *
 *   const browser = await launchChromium({ width: 640, height: 480 });
 *   const page = await browser.newPage();
 *   await page.goto(url);                                  // until the load event
 *   await page.goto(mjpegUrl, { waitUntil: 'image' });     // a stream: until its first frame
 *   await page.waitFor('document.title === "ready"');      // poll an expression until truthy
 *   const png = await page.screenshot();                   // PNG of the viewport
 *   const png2 = await page.screenshotUntil(async (p) => near(await pixelAt(p, 10, 10), [255, 0, 0]), 'red');
 *   await browser.close();
 *
 * Chrome paints a multipart/x-mixed-replace part only once the headers of the NEXT part have
 * arrived, so a server that wants the newest frame on screen sends each part's headers right
 * after the previous JPEG (test/chromium-helper.test.ts does).
 *
 * Every wait has a timeout whose error names what was awaited and ends with the browser's last
 * stderr lines.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import sharp from 'sharp';
import { afterAll, beforeAll, describe } from 'vitest';

/** The browser tests drive: $CHROMIUM, else Debian's /usr/bin/chromium (CI installs it). */
export function chromiumPath(): string {
  return process.env.CHROMIUM || '/usr/bin/chromium';
}

/** Whether `chromiumPath()` is an executable, for `describe.skipIf(!hasChromium())`. */
export function hasChromium(): boolean {
  try {
    accessSync(chromiumPath(), fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why browser tests are skipped, for the skipped describe's title. */
export const NO_CHROMIUM = `no Chromium at ${chromiumPath()} (install Debian's chromium or set CHROMIUM)`;

export interface LaunchOptions {
  /** The viewport of every page, in CSS pixels (device scale factor 1, so also in PNG pixels). */
  width?: number;
  height?: number;
  /** Limit for starting the browser and for each protocol command. Default 20 s. */
  timeoutMs?: number;
  /** More command-line switches. */
  args?: readonly string[];
}

export interface GotoOptions {
  /**
   * 'load' (default): until the page's load event. 'commit': until the browser has the
   * response and shows the new document; for a URL that never finishes loading, such as a
   * multipart/x-mixed-replace MJPEG stream, then wait for what the test needs with waitFor.
   * 'image': 'commit', then until the document's first <img> shows a decoded picture; for an
   * MJPEG URL opened directly (the browser wraps it in a page with one <img>), this is the
   * first frame on screen.
   */
  waitUntil?: 'load' | 'commit' | 'image';
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 20_000;
/** Chromium's stderr kept for error messages: the tail is what explains a crash. */
const STDERR_KEPT = 16 * 1024;
/**
 * stderr lines every headless run prints in a container (no D-Bus, the Debian wrapper's shell
 * test), left out of error messages so that the lines that explain a failure are seen.
 */
const NOISE = /dbus\/|unexpected operator|Fontconfig/;
/** A screenshot of a big page is a few MB of base64; anything far beyond that is a broken pipe. */
const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

interface Pending {
  method: string;
  resolve: (result: Record<string, unknown>) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface EventWaiter {
  sessionId: string | undefined;
  method: string;
  check: (params: Record<string, unknown>) => boolean;
  resolve: (params: Record<string, unknown>) => void;
}

interface Message {
  id?: number;
  method?: string;
  sessionId?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string; data?: string };
}

/** One DevTools protocol connection over the pipe: commands with ids, events by session. */
class Connection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly eventWaiters = new Set<EventWaiter>();
  private chunks: Buffer[] = [];
  private buffered = 0;
  private closedReason: string | undefined;

  get closed(): boolean {
    return this.closedReason !== undefined;
  }

  constructor(
    private readonly input: Writable,
    output: Readable,
    private readonly defaultTimeoutMs: number,
    private readonly stderrTail: () => string,
  ) {
    output.on('data', (chunk: Buffer) => this.onData(chunk));
    output.on('error', () => {});
    input.on('error', () => {});
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = this.defaultTimeoutMs) {
    if (this.closedReason !== undefined) {
      return Promise.reject(new Error(`chromium: ${method}: ${this.closedReason}${this.stderrTail()}`));
    }
    const id = this.nextId++;
    const message: Message = { id, method, params };
    if (sessionId !== undefined) message.sessionId = sessionId;
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`chromium: ${method} got no reply within ${timeoutMs} ms${this.stderrTail()}`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve, reject, timer });
      this.input.write(JSON.stringify(message) + '\0');
    });
  }

  /**
   * The next event `method` of `sessionId` for which `check` holds. Register it BEFORE the
   * command that causes the event, or the event may come first and be missed.
   */
  waitForEvent(
    method: string,
    sessionId: string | undefined,
    timeoutMs: number,
    what: string,
    check: (params: Record<string, unknown>) => boolean = () => true,
  ): { promise: Promise<Record<string, unknown>>; cancel: () => void } {
    let waiter!: EventWaiter;
    let timer!: NodeJS.Timeout;
    let rejectIt!: (err: Error) => void;
    const promise = new Promise<Record<string, unknown>>((resolve, reject) => {
      rejectIt = reject;
      waiter = {
        sessionId,
        method,
        check,
        resolve: (params) => {
          clearTimeout(timer);
          resolve(params);
        },
      };
      timer = setTimeout(() => {
        this.eventWaiters.delete(waiter);
        reject(new Error(`chromium: ${what}: no ${method} within ${timeoutMs} ms${this.stderrTail()}`));
      }, timeoutMs);
      this.eventWaiters.add(waiter);
    });
    // A waiter given up by its caller must not become an unhandled rejection later.
    promise.catch(() => {});
    const cancel = () => {
      clearTimeout(timer);
      this.eventWaiters.delete(waiter);
      rejectIt(new Error('cancelled'));
    };
    return { promise, cancel };
  }

  /** Fails every outstanding command and wait: the browser is gone. */
  close(reason: string): void {
    if (this.closedReason !== undefined) return;
    this.closedReason = reason;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(id);
      p.reject(new Error(`chromium: ${p.method}: ${reason}${this.stderrTail()}`));
    }
    this.eventWaiters.clear();
  }

  private onData(chunk: Buffer): void {
    let start = 0;
    for (let nul = chunk.indexOf(0); nul !== -1; nul = chunk.indexOf(0, start)) {
      this.chunks.push(chunk.subarray(start, nul));
      const text = Buffer.concat(this.chunks).toString('utf8');
      this.chunks = [];
      this.buffered = 0;
      start = nul + 1;
      this.dispatch(text);
    }
    if (start < chunk.length) {
      this.chunks.push(chunk.subarray(start));
      this.buffered += chunk.length - start;
      if (this.buffered > MAX_MESSAGE_BYTES) {
        this.chunks = [];
        this.buffered = 0;
        this.close(`a protocol message over ${MAX_MESSAGE_BYTES} bytes`);
      }
    }
  }

  private dispatch(text: string): void {
    let message: Message;
    try {
      message = JSON.parse(text) as Message;
    } catch {
      return;
    }
    if (message.id !== undefined) {
      const p = this.pending.get(message.id);
      if (!p) return;
      this.pending.delete(message.id);
      clearTimeout(p.timer);
      if (message.error) p.reject(new Error(`chromium: ${p.method}: ${message.error.message}${message.error.data ? ` (${message.error.data})` : ''}`));
      else p.resolve(message.result ?? {});
      return;
    }
    if (message.method === undefined) return;
    const params = message.params ?? {};
    for (const waiter of this.eventWaiters) {
      if (waiter.method !== message.method || waiter.sessionId !== message.sessionId) continue;
      if (!waiter.check(params)) continue;
      this.eventWaiters.delete(waiter);
      waiter.resolve(params);
    }
  }
}

export class ChromiumPage {
  constructor(
    private readonly connection: Connection,
    /** The flat-mode session every command of this page goes to. */
    readonly sessionId: string,
    readonly targetId: string,
    private readonly timeoutMs: number,
  ) {}

  /** Navigates, and waits as `waitUntil` says; a network error (refused, DNS, ...) rejects. */
  async goto(url: string, { waitUntil = 'load', timeoutMs = this.timeoutMs }: GotoOptions = {}): Promise<void> {
    const loaded =
      waitUntil === 'load'
        ? this.connection.waitForEvent('Page.loadEventFired', this.sessionId, timeoutMs, `goto ${url}`)
        : undefined;
    let result: Record<string, unknown>;
    try {
      // Page.navigate replies once the navigation has committed (or failed), which is what
      // 'commit' means.
      result = await this.connection.send('Page.navigate', { url }, this.sessionId, timeoutMs);
    } catch (err) {
      loaded?.cancel();
      throw err;
    }
    if (typeof result.errorText === 'string' && result.errorText !== '') {
      loaded?.cancel();
      throw new Error(`chromium: goto ${url}: ${result.errorText}`);
    }
    if (loaded) await loaded.promise;
    if (waitUntil === 'image') {
      await this.waitFor('document.images.length > 0 && document.images[0].naturalWidth > 0', timeoutMs);
    }
  }

  /**
   * The value of a JavaScript expression in the page, as JSON can carry it; a promise is
   * awaited. A thrown exception rejects with its message.
   */
  async evaluate<T = unknown>(expression: string, timeoutMs = this.timeoutMs): Promise<T> {
    const reply = await this.connection.send(
      'Runtime.evaluate',
      { expression, returnByValue: true, awaitPromise: true },
      this.sessionId,
      timeoutMs,
    );
    const details = reply.exceptionDetails as
      | { text?: string; exception?: { description?: string; value?: unknown } }
      | undefined;
    if (details) {
      const why = details.exception?.description ?? String(details.exception?.value ?? details.text ?? 'exception');
      throw new Error(`chromium: evaluate ${JSON.stringify(expression)}: ${why.split('\n')[0]}`);
    }
    return (reply.result as { value?: T } | undefined)?.value as T;
  }

  /**
   * Evaluates `expression` again and again until its value is truthy, and returns that value.
   * An exception counts as not yet (the page may be between documents); the last one is in the
   * timeout's message.
   */
  async waitFor<T = unknown>(expression: string, timeoutMs = this.timeoutMs): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last = 'never evaluated';
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`chromium: waitFor ${JSON.stringify(expression)}: not true within ${timeoutMs} ms (last: ${last})`);
      try {
        const value = await this.evaluate<T>(expression, left);
        if (value) return value;
        last = JSON.stringify(value) ?? 'undefined';
      } catch (err) {
        // A browser that is gone will not make the expression true: say so at once.
        if (this.connection.closed) throw err;
        last = (err as Error).message.split('\n')[0]!;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  /** The viewport as a PNG, rendered afresh for this call. */
  async screenshot(): Promise<Buffer> {
    const { data } = await this.connection.send('Page.captureScreenshot', { format: 'png' }, this.sessionId);
    return Buffer.from(data as string, 'base64');
  }

  /**
   * Screenshots until `check` accepts one, and returns it: for what a page paints some time
   * after an event the test cannot see, such as the next part of an MJPEG stream.
   */
  async screenshotUntil(check: (png: Buffer) => Promise<boolean> | boolean, what: string, timeoutMs = this.timeoutMs): Promise<Buffer> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const png = await this.screenshot();
      if (await check(png)) return png;
      if (Date.now() >= deadline) throw new Error(`chromium: screenshot never showed ${what} within ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }

  async close(): Promise<void> {
    await this.connection.send('Target.closeTarget', { targetId: this.targetId }).catch(() => {});
  }
}

/** How often waitFor and screenshotUntil look again: a poll of a condition, not a delay. */
const POLL_INTERVAL_MS = 25;

export class Chromium {
  /** Milliseconds from spawning the browser to its first protocol reply. */
  readonly launchMs: number;
  private closing: Promise<void> | undefined;

  constructor(
    private readonly child: ChildProcess,
    private readonly connection: Connection,
    /** The fresh profile; removed by close(). */
    readonly userDataDir: string,
    private readonly exited: Promise<void>,
    private readonly viewport: { width: number; height: number },
    private readonly timeoutMs: number,
    private readonly stderrText: () => string,
    launchMs: number,
  ) {
    this.launchMs = launchMs;
  }

  /** A new tab of the viewport's size, on about:blank. */
  async newPage(): Promise<ChromiumPage> {
    const { targetId } = (await this.connection.send('Target.createTarget', { url: 'about:blank' })) as { targetId: string };
    const { sessionId } = (await this.connection.send('Target.attachToTarget', { targetId, flatten: true })) as {
      sessionId: string;
    };
    await this.connection.send('Page.enable', {}, sessionId);
    // Emulated metrics make the screenshot exactly width x height whatever the window is.
    await this.connection.send(
      'Emulation.setDeviceMetricsOverride',
      { width: this.viewport.width, height: this.viewport.height, deviceScaleFactor: 1, mobile: false },
      sessionId,
    );
    return new ChromiumPage(this.connection, sessionId, targetId, this.timeoutMs);
  }

  /** The browser's stderr so far (the last STDERR_KEPT bytes). */
  stderr(): string {
    return this.stderrText();
  }

  /** Asks the browser to quit, kills it if it does not, and removes its profile. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      void this.connection.send('Browser.close', {}, undefined, 2_000).catch(() => {});
      const quit = await Promise.race([
        this.exited.then(() => true),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 5_000).unref()),
      ]);
      if (!quit) {
        killGroup(this.child);
        await this.exited;
      }
      forget(this);
      rmSync(this.userDataDir, { recursive: true, force: true });
    })();
    return this.closing;
  }

  /** For the process-exit safety net only: synchronous. */
  killNow(): void {
    killGroup(this.child);
    rmSync(this.userDataDir, { recursive: true, force: true });
  }
}

/**
 * Chromium's own children (zygote, renderers, GPU process) share its process group because it
 * is started as a group leader; killing the group leaves none of them behind.
 */
function killGroup(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

const open = new Set<Chromium>();
function forget(browser: Chromium): void {
  open.delete(browser);
}
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A test that fails before its afterAll must not leave a browser running after vitest exits.
  process.on('exit', () => {
    for (const browser of open) browser.killNow();
  });
}

/** Starts a headless Chromium with a fresh profile, ready for commands. */
export async function launchChromium({
  width = 800,
  height = 600,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  args = [],
}: LaunchOptions = {}): Promise<Chromium> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'vstream-chromium-'));
  const switches = [
    '--headless=new',
    '--remote-debugging-pipe',
    `--user-data-dir=${userDataDir}`,
    `--window-size=${width},${height}`,
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    '--mute-audio',
    '--hide-scrollbars',
    // Colours in screenshots as the page asked for them, for pixel checks.
    '--force-color-profile=srgb',
    // Containers often have a small /dev/shm; a renderer that runs out of it crashes.
    '--disable-dev-shm-usage',
    '--disable-extensions',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-default-apps',
    // A tab that is not in front must keep painting and running timers at full rate.
    '--disable-background-timer-throttling',
    '--disable-backgrounding-occluded-windows',
    '--disable-renderer-backgrounding',
    ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
    ...args,
    'about:blank',
  ];
  const started = performance.now();
  const child = spawn(chromiumPath(), switches, {
    stdio: ['ignore', 'pipe', 'pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  const keep = (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-STDERR_KEPT);
  };
  child.stderr!.on('data', keep);
  child.stdout!.on('data', keep);
  const stderrTail = () => {
    const lines = stderr
      .split('\n')
      .filter((l) => l.trim() !== '' && !NOISE.test(l))
      .slice(-5);
    return lines.length ? `\nchromium stderr:\n${lines.join('\n')}` : '';
  };
  const connection = new Connection(child.stdio[3] as Writable, child.stdio[4] as Readable, timeoutMs, stderrTail);
  const exited = new Promise<void>((resolve) => {
    child.once('error', (err) => {
      stderr += `[spawn error] ${err.message}\n`;
      connection.close(`could not start ${chromiumPath()}: ${err.message}`);
      resolve();
    });
    child.once('exit', (code, signal) => {
      connection.close(`the browser exited (${signal ?? code})`);
      resolve();
    });
  });
  try {
    await connection.send('Browser.getVersion', {}, undefined, timeoutMs);
  } catch (err) {
    killGroup(child);
    await exited;
    rmSync(userDataDir, { recursive: true, force: true });
    throw err;
  }
  const launchMs = performance.now() - started;
  const browser = new Chromium(child, connection, userDataDir, exited, { width, height }, timeoutMs, () => stderr, launchMs);
  open.add(browser);
  installExitHook();
  return browser;
}

/** The RGB of one pixel of a PNG (a screenshot), for colour checks. */
export async function pixelAt(png: Buffer, x: number, y: number): Promise<[number, number, number]> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (x < 0 || y < 0 || x >= info.width || y >= info.height) {
    throw new Error(`pixel ${x},${y} is outside the ${info.width}x${info.height} image`);
  }
  const i = (y * info.width + x) * info.channels;
  return [data[i]!, data[i + 1]!, data[i + 2]!];
}

/** Whether two colours are within `tolerance` on every channel (JPEG and scaling shift them). */
export function near(actual: readonly number[], expected: readonly number[], tolerance = 12): boolean {
  return expected.every((v, i) => Math.abs((actual[i] ?? NaN) - v) <= tolerance);
}

/**
 * A describe block that runs only where Chromium is (saying why it is skipped in its name),
 * with one browser for all its tests: `browser()` inside a test.
 */
export function describeInChromium(name: string, options: LaunchOptions, body: (browser: () => Chromium) => void): void {
  describe.skipIf(!hasChromium())(`${name}${hasChromium() ? '' : ` (skipped: ${NO_CHROMIUM})`}`, () => {
    let browser: Chromium | undefined;
    beforeAll(async () => {
      browser = await launchChromium(options);
    });
    afterAll(async () => {
      await browser?.close();
    });
    body(() => browser!);
  });
}
