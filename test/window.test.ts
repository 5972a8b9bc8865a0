import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fitRect, initialWindowSize } from '../src/sink/window/fit.js';
import { hasGlyph } from '../src/sink/window/font.js';
import { drawOverlay } from '../src/sink/window/overlay.js';
import { overlayText, windowTitle } from '../src/sink/window/status.js';
import { WindowSink } from '../src/sink/window/window-sink.js';
import { HAVE_XVFB, startXvfb, type Screenshot, type Xvfb } from './helpers/xvfb.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHILD = `${ROOT}test/fixtures/window-child.mjs`;
const CLOSER = `${ROOT}test/fixtures/x11-close-window.py`;
const SCREEN = { width: 1280, height: 720 };

const onPath = (command: string) => spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
const HAVE_XDOTOOL = onPath('xdotool');
const HAVE_PYTHON = onPath('python3');

type Rgb = [number, number, number];
interface ChildEvent {
  event: string;
  [key: string]: any;
}

/** The window child process (see test/fixtures/window-child.mjs), driven by JSON lines. */
class WindowChild {
  readonly events: ChildEvent[] = [];
  readonly exited: Promise<number | null>;
  private readonly process: ChildProcess;
  private stderr = '';
  private exitCode: number | null | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(env: NodeJS.ProcessEnv) {
    this.process = spawn(process.execPath, [CHILD], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.process.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.events.push(JSON.parse(line) as ChildEvent);
      for (const listener of this.listeners) listener();
    });
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code) => {
        this.exitCode = code;
        for (const listener of this.listeners) listener();
        resolve(code);
      });
    });
  }

  get pid(): number {
    return this.process.pid!;
  }

  send(command: object): void {
    this.process.stdin!.write(`${JSON.stringify(command)}\n`);
  }

  /** Index to pass as `since`, so that a wait sees only what happens from now on. */
  mark(): number {
    return this.events.length;
  }

  /** The first event from `since` on that matches; fails if the child exits or 20 s pass first. */
  waitFor(what: string, match: (event: ChildEvent) => boolean, since = 0): Promise<ChildEvent> {
    return new Promise((resolve, reject) => {
      let seen = since;
      const check = () => {
        for (; seen < this.events.length; seen++) {
          if (match(this.events[seen]!)) return done(() => resolve(this.events[seen]!));
        }
        if (this.exitCode !== undefined) {
          done(() => reject(new Error(`window child exited (${this.exitCode}) before ${what}; stderr: ${this.stderr}`)));
        }
      };
      const timer = setTimeout(() => {
        done(() => reject(new Error(`no ${what} within 20 s; events: ${JSON.stringify(this.events.slice(since))}`)));
      }, 20_000);
      const done = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  event(name: string, since = 0): Promise<ChildEvent> {
    return this.waitFor(`"${name}"`, (e) => e.event === name, since);
  }

  /** `close()` must leave nothing that keeps the process alive: it has to exit by itself. */
  async closeAndExit(): Promise<void> {
    const since = this.mark();
    this.send({ cmd: 'close' });
    await this.event('closed', since);
    expect(await this.exited).toBe(0);
  }

  kill(): void {
    if (this.exitCode === undefined) this.process.kill('SIGKILL');
  }
}

function near(actual: readonly number[], expected: Rgb, tolerance = 40): boolean {
  return expected.every((value, i) => Math.abs(actual[i]! - value) <= tolerance);
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} ${args.join(' ')} exited ${code}: ${err}`)),
    );
  });
}

describe('window geometry, overlay and status text', () => {
  it('fits a frame inside the window, centred, keeping its aspect', () => {
    expect(fitRect({ width: 320, height: 240 }, { width: 320, height: 240 })).toEqual({ x: 0, y: 0, width: 320, height: 240 });
    // Wider than the window: bars top and bottom.
    expect(fitRect({ width: 320, height: 120 }, { width: 320, height: 240 })).toEqual({ x: 0, y: 60, width: 320, height: 120 });
    // Taller: bars left and right, scaled up.
    expect(fitRect({ width: 60, height: 120 }, { width: 320, height: 240 })).toEqual({ x: 100, y: 0, width: 120, height: 240 });
  });

  it('opens a window at the frame size, scaled down only to fit the display', () => {
    expect(initialWindowSize({ width: 640, height: 480 }, { width: 1152, height: 648 })).toEqual({ width: 640, height: 480 });
    expect(initialWindowSize({ width: 3840, height: 2160 }, { width: 1152, height: 648 })).toEqual({ width: 1152, height: 648 });
    expect(initialWindowSize({ width: 2000, height: 1000 }, { width: 1152, height: 648 })).toEqual({ width: 1152, height: 576 });
  });

  it('draws white text on a darkened box in the top-left corner, and clips to small images', () => {
    const size = { width: 200, height: 40 };
    const rgb = Buffer.alloc(size.width * size.height * 3, 100);
    drawOverlay(rgb, size, '30 FPS');
    const at = (x: number, y: number) => [...rgb.subarray((y * size.width + x) * 3, (y * size.width + x) * 3 + 3)];
    const white = Array.from({ length: 20 * 20 }, (_, i) => at(4 + (i % 40), 4 + Math.floor(i / 40))).filter(
      (p) => p[0] === 255,
    );
    expect(white.length).toBeGreaterThan(10);
    expect(at(5, 5)).toEqual([35, 35, 35]); // shaded padding
    expect(at(150, 30)).toEqual([100, 100, 100]); // untouched outside the box
    expect(() => drawOverlay(Buffer.alloc(8 * 4 * 3), { width: 8, height: 4 }, 'a long text')).not.toThrow();
  });

  it('has a glyph for everything a status line holds', () => {
    const figures = {
      app: 'vstream',
      sender: '[::1]:5000 cam_1-a/b(2)',
      fps: 30,
      latencyMs: 4.24,
      dropped: 3,
      disconnected: true,
    };
    expect(windowTitle(figures)).toBe('vstream · [::1]:5000 cam_1-a/b(2) · 30 fps · 4.2 ms · 3 dropped (disconnected)');
    const text = overlayText(figures);
    expect(text).toBe('[::1]:5000 cam_1-a/b(2)  30 fps  4.2 ms  3 dropped  disconnected');
    expect([...text].filter((char) => !hasGlyph(char))).toEqual([]);
    expect(windowTitle({ ...figures, latencyMs: undefined, disconnected: false, sender: 'cam1' })).toBe(
      'vstream · cam1 · 30 fps · 3 dropped',
    );
  });
});

describe('sender names in titles and overlays', () => {
  it('escapes control bytes and cuts a long name short', () => {
    const figures = {
      app: 'vstream',
      sender: `cam\x1b]0;owned\x07${'x'.repeat(60_000)}`,
      fps: 1,
      latencyMs: undefined,
      dropped: 0,
      disconnected: false,
    };
    const title = windowTitle(figures);
    expect(title).toMatch(/^vstream · cam\\x1b\]0;owned\\x07x+… · 1 fps · 0 dropped$/);
    expect(title.length).toBeLessThan(120);
    const text = overlayText(figures);
    expect(text).not.toMatch(/[\x00-\x1f]/);
    expect(text.length).toBeLessThan(120);
  });
});

describe('WindowSink.open without a display', () => {
  beforeAll(() => {
    if (!existsSync(`${ROOT}dist/sink/window/window-sink.js`)) throw new Error('dist/ is missing: run `npx tsc -p .` (npm test does)');
  });

  it.skipIf(process.platform !== 'linux')('throws ERR_NO_DISPLAY when neither DISPLAY nor WAYLAND_DISPLAY is set', async () => {
    const names = ['DISPLAY', 'WAYLAND_DISPLAY', 'SDL_VIDEODRIVER'] as const;
    const saved = names.map((name) => process.env[name]);
    for (const name of names) delete process.env[name];
    try {
      const error = await WindowSink.open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toMatchObject({ name: 'DisplayError', code: 'ERR_NO_DISPLAY', exitCode: 7 });
      const message = (error as Error).message;
      expect(message).not.toContain('\n');
      for (const option of ['--no-window', '--output', '--save-dir', '--json']) expect(message).toContain(option);
    } finally {
      names.forEach((name, i) => {
        if (saved[i] !== undefined) process.env[name] = saved[i];
      });
    }
  });

  it.skipIf(process.platform !== 'linux')('throws ERR_NO_DISPLAY when SDL cannot open the named display', async () => {
    let number = 4242;
    while (existsSync(`/tmp/.X11-unix/X${number}`)) number++;
    // Only x11: with a fallback SDL may pick another driver (offscreen, KMS), which is what
    // the check for headless drivers is for, but the outcome would depend on the machine.
    const child = new WindowChild({ ...process.env, DISPLAY: `:${number}`, SDL_VIDEODRIVER: 'x11' });
    try {
      const error = await child.event('error');
      expect(error).toMatchObject({ name: 'DisplayError', code: 'ERR_NO_DISPLAY' });
      expect(error.message).toContain('--no-window');
      expect(await child.exited).toBe(0);
    } finally {
      child.kill();
    }
  });
});

describe.skipIf(!HAVE_XVFB)('SDL window under Xvfb', () => {
  let xvfb: Xvfb;
  let env: NodeJS.ProcessEnv;
  const children: WindowChild[] = [];

  beforeAll(async () => {
    if (!existsSync(`${ROOT}dist/sink/window/window-sink.js`)) throw new Error('dist/ is missing: run `npx tsc -p .` (npm test does)');
    xvfb = await startXvfb(SCREEN);
    env = xvfb.env;
  });

  afterEach(() => {
    for (const child of children.splice(0)) child.kill();
  });

  afterAll(async () => xvfb?.stop());

  async function startChild(extraEnv: NodeJS.ProcessEnv = {}): Promise<WindowChild> {
    const child = new WindowChild({ ...env, ...extraEnv });
    children.push(child);
    await child.event('ready');
    return child;
  }

  /**
   * The X11 id of the child's one window. Looked up by process: SDL's own `native.handle` is
   * stale once its GL renderer has recreated the window, and xdotool's name search depends on
   * the locale for the `·` in titles.
   */
  async function windowOf(child: WindowChild): Promise<string> {
    const ids = (await run('xdotool', ['search', '--pid', String(child.pid)], env)).trim().split('\n');
    expect(ids).toHaveLength(1);
    return ids[0]!;
  }

  function screenshot(): Promise<Screenshot> {
    return xvfb.screenshot();
  }

  /** Screen pixels at window-relative points, each against its expected colour. */
  async function expectWindowPixels(origin: ChildEvent, points: Array<[number, number, Rgb]>): Promise<void> {
    const shot = await screenshot();
    const wrong = points
      .map(([x, y, want]) => ({ x, y, want, got: shot.at(origin.x + x, origin.y + y) }))
      .filter(({ want, got }) => !near(got, want))
      .map(({ x, y, want, got }) => `(${x},${y}) is ${got.join(',')}, expected ${want.join(',')}`);
    expect(wrong).toEqual([]);
  }

  const RED: Rgb = [255, 0, 0];
  const GREEN: Rgb = [0, 255, 0];
  const BLUE: Rgb = [0, 0, 255];
  const WHITE: Rgb = [255, 255, 255];
  const BLACK: Rgb = [0, 0, 0];
  const MAGENTA: Rgb = [255, 0, 255];
  const CYAN: Rgb = [0, 255, 255];

  it('draws each frame fitted to the window, with black bars and the overlay', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'cam1', width: 320, height: 240, kind: 'quadrants' });
    const first = await child.event('rendered');
    expect(first).toMatchObject({ width: 320, height: 240 });
    expect(first.title).toContain('cam1');
    await expectWindowPixels(first, [
      [80, 60, RED],
      [240, 60, GREEN],
      [80, 180, BLUE],
      [240, 180, WHITE],
      [5, 5, [89, 0, 0]], // the overlay's box darkens the frame under it
    ]);
    const shot = await screenshot();
    const overlay = Array.from({ length: 100 * 14 }, (_, i) => shot.at(first.x + 6 + (i % 100), first.y + 6 + Math.floor(i / 100)));
    expect(overlay.filter((rgb) => near(rgb, WHITE, 10)).length).toBeGreaterThan(50);

    // Wider than the window: black bars above and below.
    let since = child.mark();
    child.send({ cmd: 'frame', id: 1, sender: 'cam1', width: 320, height: 120, rgb: MAGENTA });
    const wide = await child.waitFor('the wide frame', (e) => e.event === 'rendered' && near(e.centre, MAGENTA), since);
    expect(wide).toMatchObject({ width: 320, height: 240 });
    await expectWindowPixels(wide, [
      [160, 30, BLACK],
      [300, 55, BLACK],
      [20, 65, MAGENTA],
      [160, 120, MAGENTA],
      [300, 175, MAGENTA],
      [160, 185, BLACK],
      [300, 235, BLACK],
    ]);

    // Taller: bars left and right.
    since = child.mark();
    child.send({ cmd: 'frame', id: 1, sender: 'cam1', width: 120, height: 240, rgb: CYAN });
    const tall = await child.waitFor('the tall frame', (e) => e.event === 'rendered' && near(e.centre, CYAN), since);
    await expectWindowPixels(tall, [
      [50, 120, BLACK],
      [95, 120, BLACK],
      [105, 120, CYAN],
      [215, 200, CYAN],
      [225, 120, BLACK],
      [300, 200, BLACK],
    ]);
    await child.closeAndExit();
  });

  it('opens a frame larger than the display in a window that fits, decoded at the window size', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'big', width: 2000, height: 1000, kind: 'quadrants' });
    const rendered = await child.event('rendered');
    // 90 % of the 1280x720 screen, at the frame's 2:1 aspect.
    expect(rendered).toMatchObject({ width: 1152, height: 576 });
    await expectWindowPixels(rendered, [
      [288, 200, RED],
      [864, 200, GREEN],
      [288, 432, BLUE],
      [864, 432, WHITE],
    ]);
    await child.closeAndExit();
  });

  it('shows the newest frame only, counting the ones it skipped as sink drops', async () => {
    const child = await startChild();
    const colours: Rgb[] = Array.from({ length: 12 }, (_, i) => [i * 20, 0, 255 - i * 20]);
    // Twelve frames in one tick: the first is decoding while the others arrive.
    child.send({ cmd: 'frame', id: 1, sender: 'burst', width: 160, height: 120, rgbs: colours, count: colours.length });
    const last = colours.at(-1)!;
    await child.waitFor('the last frame of the burst', (e) => e.event === 'rendered' && near(e.centre, last, 8));
    const shown = child.events.filter((e) => e.event === 'rendered').map((e) => e.centre as number[]);
    expect(shown.every((rgb) => near(rgb, colours[0]!, 8) || near(rgb, last, 8))).toBe(true);
    const since = child.mark();
    child.send({ cmd: 'stats', id: 1 });
    expect(await child.event('stats', since)).toMatchObject({ frames: 12, sinkDropped: 10 });
    await child.closeAndExit();
  });

  it('shows fps, latency and drops in the title, and marks a sender that disconnected', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'cam1', width: 160, height: 120, latencyMs: 5 });
    const titled = await child.waitFor('a title with figures', (e) =>
      e.event === 'title' && /^vstream · cam1 · \d+ fps · 5\.0 ms · 0 dropped$/.test(e.title),
    );
    let since = child.mark();
    child.send({ cmd: 'gone', id: 1 });
    await child.waitFor('the disconnected title', (e) => e.event === 'title' && e.title.endsWith('(disconnected)'), since);
    // The same sender on a new connection gets its window back.
    since = child.mark();
    child.send({ cmd: 'frame', id: 2, sender: 'cam1', width: 160, height: 120, latencyMs: 5 });
    const back = await child.waitFor('the reconnected title', (e) => e.event === 'title' && !e.title.includes('disconnected'), since);
    expect(back.windowId).toBe(titled.windowId);
    await child.closeAndExit();
  });

  it.skipIf(!HAVE_PYTHON)('closing one of two windows keeps the other; closing the last one quits', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'left', width: 160, height: 120, rgb: BLUE });
    const left = await child.waitFor('the left window', (e) => e.event === 'rendered' && e.title.includes('left'));
    // Disconnected, it keeps its last frame; once its figures settle, nothing redraws it but SDL.
    child.send({ cmd: 'gone', id: 1 });
    await child.waitFor('the left title to settle', (e) => e.event === 'title' && e.title.endsWith('0 fps · 0 dropped (disconnected)'));

    // Same size, so SDL centres it exactly on top of the left one.
    let since = child.mark();
    child.send({ cmd: 'frame', id: 2, sender: 'right', width: 160, height: 120, rgb: GREEN });
    const right = await child.waitFor('the right window', (e) => e.event === 'rendered' && e.title.includes('right'), since);
    expect([right.x, right.y]).toEqual([left.x, left.y]);
    await expectWindowPixels(right, [[80, 80, GREEN]]);

    since = child.mark();
    await run('python3', [CLOSER, 'right'], env);
    const closed = await child.waitFor('the right window closing', (e) => e.event === 'window-closed' && e.title.includes('right'), since);
    // Uncovered, the left window draws its last frame again (X keeps no copy of it).
    const exposed = await child.waitFor('the left window redrawn', (e) => e.event === 'rendered' && e.windowId === left.windowId, since);
    await expectWindowPixels(exposed, [[80, 80, BLUE]]);
    // The closed window's sender is ignored from then on, not given a new window.
    child.send({ cmd: 'frame', id: 2, sender: 'right', width: 160, height: 120, rgb: GREEN });
    child.send({ cmd: 'stats', id: 2 });
    await child.event('stats', since);
    // From the close on: before it, the right window's fps may still have been falling to 0.
    const after = child.events.slice(child.events.indexOf(closed));
    expect(after.filter((e) => e.event === 'title' && e.title.includes('right'))).toEqual([]);
    expect(after.some((e) => e.event === 'quit')).toBe(false);

    since = child.mark();
    await run('python3', [CLOSER, 'left'], env);
    await child.event('quit', since);
    expect(await child.exited).toBe(0);
  });

  it.skipIf(!HAVE_XDOTOOL).each(['q', 'Escape'])('pressing %s quits cleanly', async (key) => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'keys', width: 160, height: 120 });
    await child.event('rendered');
    const xid = await windowOf(child);
    await run('xdotool', ['windowfocus', '--sync', xid, 'key', key], env);
    await child.event('quit');
    expect(await child.exited).toBe(0);
  });

  it('drops a frame over the pixel limit before opening a window, and reports it and an undecodable one', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'evil\x1b[2J', width: 160, height: 120, claim: [65000, 65000] });
    const tooLarge = await child.event('problem');
    expect(tooLarge).toMatchObject({ code: 'ERR_PIXEL_LIMIT' });
    expect(tooLarge.message).toContain('evil\\x1b[2J');
    expect(tooLarge.message).toContain('65000x65000');
    let since = child.mark();
    child.send({ cmd: 'frame', id: 1, sender: 'evil\x1b[2J', width: 160, height: 120, corrupt: true });
    expect(await child.event('problem', since)).toMatchObject({ code: 'ERR_BAD_JPEG' });
    // The first window is the one the sized but undecodable frame opened, at its size.
    const windows = child.events.filter((e) => e.event === 'title');
    expect(new Set(windows.map((e) => e.windowId)).size).toBe(1);
    since = child.mark();
    child.send({ cmd: 'frame', id: 1, sender: 'evil\x1b[2J', width: 160, height: 120, rgb: GREEN });
    const shown = await child.waitFor('the good frame', (e) => e.event === 'rendered' && near(e.centre, GREEN), since);
    expect(shown).toMatchObject({ width: 160, height: 120, windowId: windows[0]!.windowId });
    expect(shown.title).not.toContain('\x1b');
    since = child.mark();
    child.send({ cmd: 'stats', id: 1 });
    expect(await child.event('stats', since)).toMatchObject({ frames: 3, sinkDropped: 2 });
    await child.closeAndExit();
  });

  it.skipIf(!HAVE_XDOTOOL)('keeps the last picture of a sender that left and fits it to a new window size', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'left', width: 320, height: 240, kind: 'quadrants' });
    await child.event('rendered');
    let since = child.mark();
    child.send({ cmd: 'gone', id: 1 });
    await child.waitFor('the disconnected title', (e) => e.event === 'title' && e.title.endsWith('(disconnected)'), since);
    const xid = await windowOf(child);
    since = child.mark();
    await run('xdotool', ['windowsize', xid, '640', '240'], env);
    // Not decoded again (the JPEG is gone): the kept 320x240 picture is scaled into the middle.
    const fitted = await child.waitFor(
      'the kept picture fitted to 640x240',
      (e) => e.event === 'rendered' && e.dstRect?.width === 320 && e.dstRect?.x === 160,
      since,
    );
    expect(fitted).toMatchObject({ width: 320, height: 240, dstRect: { x: 160, y: 0, width: 320, height: 240 } });
    await expectWindowPixels(fitted, [
      [80, 120, BLACK],
      [240, 60, RED],
      [400, 60, GREEN],
      [240, 180, BLUE],
      [400, 180, WHITE],
      [560, 120, BLACK],
    ]);
    await child.closeAndExit();
  });

  it('hands the window of a sender that left to a new one when all windows are taken, at the new frame size', async () => {
    const child = await startChild({ MAX_WINDOWS: '1' });
    child.send({ cmd: 'frame', id: 1, sender: 'first', width: 320, height: 240, kind: 'quadrants' });
    const first = await child.event('rendered');
    // While the first sender is connected the one window is its own: the second gets none.
    let since = child.mark();
    child.send({ cmd: 'frame', id: 2, sender: 'second', width: 160, height: 120, rgb: GREEN });
    const refused = await child.event('problem', since);
    expect(refused).toMatchObject({ code: 'ERR_TOO_MANY_WINDOWS' });
    expect(refused.message).toContain('second');
    child.send({ cmd: 'gone', id: 1 });
    await child.waitFor('the disconnected title', (e) => e.event === 'title' && e.title.endsWith('(disconnected)'), since);
    since = child.mark();
    child.send({ cmd: 'frame', id: 2, sender: 'second', width: 160, height: 120, rgb: GREEN });
    const second = await child.waitFor('the second sender drawn', (e) => e.event === 'rendered' && near(e.centre, GREEN), since);
    expect(second).toMatchObject({ windowId: first.windowId, width: 160, height: 120, dstRect: null });
    expect(second.title).toContain('second');
    await expectWindowPixels(second, [[80, 90, GREEN]]);
    expect(child.events.filter((e) => e.event === 'problem')).toHaveLength(1);
    await child.closeAndExit();
  });

  it('draws a frame that comes out of the queue after its sender left, and still hands that window on', async () => {
    const child = await startChild({ MAX_WINDOWS: '1' });
    // The receiver reports the close before the consumer has taken the connection's last frame.
    child.send({ cmd: 'gone', id: 1 });
    child.send({ cmd: 'frame', id: 1, sender: 'hit-and-run', width: 160, height: 120, rgb: BLUE });
    const late = await child.waitFor('the late frame', (e) => e.event === 'rendered' && near(e.centre, BLUE));
    await child.waitFor('the disconnected title', (e) => e.event === 'title' && e.title.endsWith('(disconnected)'));
    const since = child.mark();
    child.send({ cmd: 'frame', id: 2, sender: 'next', width: 160, height: 120, rgb: GREEN });
    const next = await child.waitFor('the next sender', (e) => e.event === 'rendered' && near(e.centre, GREEN), since);
    expect(next.windowId).toBe(late.windowId);
    expect(child.events.filter((e) => e.event === 'problem')).toEqual([]);
    await child.closeAndExit();
  });

  it.skipIf(!HAVE_XDOTOOL)('draws the last frame again at the new size when the window is resized', async () => {
    const child = await startChild();
    child.send({ cmd: 'frame', id: 1, sender: 'resize', width: 320, height: 240, kind: 'quadrants' });
    await child.event('rendered');
    const xid = await windowOf(child);
    const since = child.mark();
    await run('xdotool', ['windowsize', xid, '640', '240'], env);
    const resized = await child.waitFor(
      'a render at 640x240',
      (e) => e.event === 'rendered' && e.width === 640 && e.height === 240,
      since,
    );
    await expectWindowPixels(resized, [
      [80, 120, BLACK],
      [240, 60, RED],
      [400, 60, GREEN],
      [240, 180, BLUE],
      [400, 180, WHITE],
      [560, 120, BLACK],
    ]);
    await child.closeAndExit();
  });
});
