import { MAX_DECODE_PIXELS } from '../../decode/turbo.js';
import { DisplayError } from '../../errors.js';
import { parseIntInRange } from '../../options/parsers.js';
import { negatable, valueOr } from '../../options/schema.js';
import type { SinkKind } from '../kind.js';
import type { ProblemReporter } from '../../problems.js';
import { wireText } from '../../text/wire-text.js';
import type { ReceivedFrame } from '../../frame/frame.js';
import { loadSdl, type Sdl, type SdlWindow } from '../sdl.js';
import type { DropListener, FrameSink } from '../types.js';
import { initialWindowSize, type Size } from './fit.js';
import { checkFrameSize, isProblem, senderName } from './frame-check.js';
import { RecentIds } from './recent-ids.js';
import { SenderWindow, type SenderWindowHooks } from './sender-window.js';

/** SDL windows open at once, by default: each costs its renderer and textures, about 14 MB under Xvfb. */
export const DEFAULT_MAX_WINDOWS = 16;

/** `recv`'s window: on by default where there is a display, `--no-window` to go without. */
const windowOptions = {
  window: negatable('--no-window', 'do not open a window'),
  maxWindows: valueOr(
    '--max-windows <n>',
    `windows open at once; a sender that left gives its window up to a new one (default ${DEFAULT_MAX_WINDOWS})`,
    (text) => parseIntInRange('--max-windows', text, 1, 1000),
    DEFAULT_MAX_WINDOWS,
  ),
};

function hasDisplay(): boolean {
  if (process.platform !== 'linux') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

export const windowSinkKind: SinkKind<typeof windowOptions, WindowSink> = {
  name: 'window',
  options: windowOptions,
  async open({ window, maxWindows, maxPixels }, { report, warn, headless }) {
    if (!window || (headless && !hasDisplay())) return undefined;
    try {
      return await WindowSink.open({ maxWindows, maxPixels, report });
    } catch (err) {
      // With other sinks the frames still go somewhere: a missing display is only news then.
      if (!(err instanceof DisplayError) || !headless) throw err;
      warn(`${err.message}; going on without a window`);
      return undefined;
    }
  },
};


export interface WindowSinkOptions {
  /** Replaces `vstream` at the start of every window title. */
  title?: string;
  /** SDL windows open at once (default `DEFAULT_MAX_WINDOWS`). */
  maxWindows?: number;
  /** Frames whose JPEG or PNG header claims more pixels are dropped undecoded (default `MAX_DECODE_PIXELS`). */
  maxPixels?: number;
  /** Told of each frame dropped as bad or too large, and of each sender left without a window. */
  report?: ProblemReporter;
}

const HEADLESS_HINT = 'use --no-window with --output, --save-dir or --json';
/** SDL falls back to these when it finds no display; a window there is invisible. */
const HEADLESS_DRIVERS = new Set(['offscreen', 'dummy', 'evdev']);
/** Title and overlay refresh rate: fast enough to follow, slow enough to read. */
const REFRESH_MS = 250;
/**
 * Connections remembered as gone, for their frames still queued in the receiver: far more
 * than a receiver queues frames from at once, and a few hundred KB at most.
 */
const REMEMBERED_GONE = 65_536;
/** Room left for window decorations when a frame is larger than the display. */
const DISPLAY_FILL = 0.9;

function noDisplay(why: string, cause?: unknown): DisplayError {
  return new DisplayError(`No display for a window (${why}); ${HEADLESS_HINT}`, 'ERR_NO_DISPLAY', { cause });
}

/** Whether the environment names a display; on Linux and BSD SDL needs X11 or Wayland. */
function displayNamed(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  // An explicit driver (e.g. kmsdrm on a Raspberry Pi console) needs neither variable.
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY || env.SDL_VIDEODRIVER);
}

/** Whether the user asked for `driver` in SDL_VIDEODRIVER (a comma-separated list) on purpose. */
function requestedDriver(driver: string, env: NodeJS.ProcessEnv = process.env): boolean {
  const wanted = (env.SDL_VIDEODRIVER ?? '').toLowerCase().split(',');
  return wanted.includes(driver.toLowerCase());
}

/**
 * Shows each sender's stream in its own SDL window. A sink like the others:
 *
 * ```ts
 * const sink = await WindowSink.open();          // DisplayError ERR_NO_SDL / ERR_NO_DISPLAY
 * sink.reportDropsTo((frame) => ...);            // frames it will not show
 * for await (const frame of receiver) sink.write(frame);   // never blocks; newest frame wins
 * // on a disconnect: sink.senderGone(connectionId)
 * await Promise.race([sink.ended, ...]);         // Esc, q, or the last window closed
 * await sink.close();
 * ```
 *
 * - One window per connection, titled by `frame.sender` (through `wireText`), opened on its
 *   first frame at the frame's size (scaled down to fit the display), resizable; the frame is
 *   fitted to the window with black bars, and redrawn when the window is resized.
 * - At most `maxWindows` at once. A sender that left keeps its window, marked
 *   "disconnected", until it comes back (same name: same window), the user closes it, or a
 *   new sender needs the place: then the window whose sender left first is handed over to it.
 *   With every place taken by a connected sender, a new one gets no window (reported once,
 *   `ERR_TOO_MANY_WINDOWS`; its frames are dropped) until a place frees up.
 * - A frame whose JPEG or PNG header claims more than `maxPixels`, or no size at all, is dropped
 *   before anything is decoded or opened for it, and reported.
 * - While a frame is being decoded, later frames replace the one waiting.
 * - Every frame dropped is told to the drop listener. Title and a small overlay show the
 *   window's own figures for its sender (fps, capture-to-receive latency, drops), a few times
 *   a second.
 */
export class WindowSink implements FrameSink {
  /**
   * Resolves when the user asks to stop: Esc or q in any window, or the last window closed.
   * Rejects with a `DisplayError` (`ERR_WINDOW`) if SDL fails to draw.
   */
  readonly ended: Promise<void>;
  private resolveQuit!: () => void;
  private rejectQuit!: (error: DisplayError) => void;
  private readonly windows = new Map<number, SenderWindow>();
  /** Windows whose sender left, the one that left first first: the next to give up its place. */
  private readonly left = new Set<SenderWindow>();
  /** Connections whose window the user closed: their frames are ignored, not reopened. */
  private readonly dismissed = new Set<number>();
  /** Connected senders that found every window taken, already reported. */
  private readonly windowless = new Set<number>();
  /**
   * Connections that have left. The receiver says so when the socket closes, which can be
   * before its last frames are out of the queue: a window opened for one of those must not
   * count as a connected sender's, or a peer that sends one frame and closes keeps its place.
   */
  private readonly gone = new RecentIds(REMEMBERED_GONE);
  private readonly ticker: NodeJS.Timeout;
  private closed = false;
  private onDrop: DropListener = () => {};
  private readonly hooks: SenderWindowHooks = {
    onUserClose: (closed) => this.onUserClose(closed),
    onQuitKey: () => this.resolveQuit(),
    onFailure: (window, cause) =>
      this.rejectQuit(new DisplayError(`Window for ${wireText(window.sender)} failed: ${oneLine(cause)}`, 'ERR_WINDOW', { cause })),
    onBadFrame: (bad, cause) =>
      this.report({
        code: 'ERR_BAD_JPEG',
        message: `frame from ${senderName(bad)} dropped by the window: it does not decode (${wireText(oneLine(cause))})`,
      }),
    onDropped: (frame) => this.onDrop(frame),
  };

  private constructor(
    private readonly sdl: Sdl,
    private readonly app: string,
    private readonly maxWindows: number,
    private readonly maxPixels: number,
    private readonly report: ProblemReporter,
  ) {
    this.ended = new Promise((resolve, reject) => {
      this.resolveQuit = resolve;
      this.rejectQuit = reject;
    });
    // A caller that only ever calls close() must not die of an unhandled rejection.
    this.ended.catch(() => {});
    this.ticker = setInterval(() => {
      for (const window of this.windows.values()) window.refresh();
    }, REFRESH_MS);
    // SDL keeps the process alive while windows are open; this timer must not, once they are gone.
    this.ticker.unref();
  }

  /**
   * Loads SDL and checks that windows can be shown, so that `recv` fails at start rather
   * than at the first frame. Throws `DisplayError` with code `ERR_NO_SDL` (binding not
   * installed) or `ERR_NO_DISPLAY` (no display, or SDL cannot open a window on it).
   */
  static async open(options: WindowSinkOptions = {}): Promise<WindowSink> {
    // Checked before loading SDL: without a display it would quietly pick an invisible driver.
    if (!displayNamed()) throw noDisplay('DISPLAY and WAYLAND_DISPLAY are not set');
    const sdl = await loadSdl();
    const driver = sdl.info.drivers.video.current;
    if (driver === null || (HEADLESS_DRIVERS.has(driver) && !requestedDriver(driver))) {
      throw noDisplay(`SDL could not open ${process.env.DISPLAY ?? process.env.WAYLAND_DISPLAY ?? 'one'}`);
    }
    try {
      sdl.video.createWindow({ width: 1, height: 1, visible: false }).destroy();
    } catch (cause) {
      throw noDisplay(`SDL cannot create a window: ${oneLine(cause)}`, cause);
    }
    return new WindowSink(
      sdl,
      options.title ?? 'vstream',
      options.maxWindows ?? DEFAULT_MAX_WINDOWS,
      options.maxPixels ?? MAX_DECODE_PIXELS,
      options.report ?? (() => {}),
    );
  }

  reportDropsTo(listener: DropListener): void {
    this.onDrop = listener;
  }

  /**
   * Queues `frame` for its sender's window, opening the window on the sender's first frame.
   * Returns at once. Throws `DisplayError` (`ERR_WINDOW`) if a window cannot be opened.
   */
  write(frame: ReceivedFrame): void {
    const id = frame.connectionId;
    // A window the user closed shows nothing of its sender any more: not news, not a drop.
    if (this.closed || this.dismissed.has(id)) return;
    const size = checkFrameSize(frame, this.maxPixels);
    if (isProblem(size)) {
      this.windows.get(id)?.countDropped();
      this.onDrop(frame);
      this.report(size);
      return;
    }
    const late = this.gone.has(id);
    const window = this.windows.get(id) ?? this.windowFor(frame, size);
    if (!window) {
      this.onDrop(frame);
      if (!late && !this.windowless.has(id)) {
        this.windowless.add(id);
        this.report({
          code: 'ERR_TOO_MANY_WINDOWS',
          message: `no window for ${senderName(frame)}: all ${this.maxWindows} windows show connected senders (--max-windows)`,
        });
      }
      return;
    }
    window.show(frame);
    if (late) this.markLeft(window);
  }

  /** The sender disconnected: its last frame stays on screen, marked "(disconnected)". */
  senderGone(connectionId: number): void {
    this.gone.add(connectionId);
    this.dismissed.delete(connectionId);
    this.windowless.delete(connectionId);
    const window = this.windows.get(connectionId);
    if (window) this.markLeft(window);
  }

  /** Closes every window. Afterwards nothing of SDL keeps the process alive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    const windows = [...this.windows.values()];
    this.windows.clear();
    this.left.clear();
    await Promise.all(windows.map((window) => window.destroy()));
    this.resolveQuit();
  }

  /** A window for a sender that has none: its old one, a new one, or none when all are taken. */
  private windowFor(frame: ReceivedFrame, size: Size): SenderWindow | undefined {
    // A sender that reconnects gets its old window back rather than one more each time.
    for (const window of this.left) {
      if (window.sender === frame.sender) {
        this.forget(window);
        window.reconnect(frame.connectionId);
        this.windows.set(frame.connectionId, window);
        return window;
      }
    }
    let window: SenderWindow;
    if (this.windows.size < this.maxWindows) {
      window = new SenderWindow(this.createSdlWindow(frame, size), frame.sender, frame.connectionId, this.app, this.hooks);
    } else {
      // Taken over rather than closed and opened again: SDL gives little of a window's memory back.
      const [longestGone] = this.left;
      if (!longestGone) return undefined;
      this.forget(longestGone);
      longestGone.handOver(frame.sender, frame.connectionId, initialWindowSize(size, this.displayLimit()));
      window = longestGone;
    }
    this.windowless.delete(frame.connectionId);
    this.windows.set(frame.connectionId, window);
    return window;
  }

  private markLeft(window: SenderWindow): void {
    if (window.isDisconnected) return;
    window.markGone();
    this.left.add(window);
  }

  private forget(window: SenderWindow): void {
    this.windows.delete(window.connectionId);
    this.left.delete(window);
  }

  private createSdlWindow(frame: ReceivedFrame, jpegSize: Size): SdlWindow {
    const size = initialWindowSize(jpegSize, this.displayLimit());
    try {
      return this.sdl.video.createWindow({
        title: `${this.app} · ${wireText(frame.sender)}`,
        ...size,
        resizable: true,
        // A vsync wait would block the event loop, which also serves the network.
        vsync: false,
      });
    } catch (cause) {
      throw new DisplayError(`Cannot open a window for ${wireText(frame.sender)}: ${oneLine(cause)}`, 'ERR_WINDOW', { cause });
    }
  }

  private onUserClose(window: SenderWindow): void {
    if (this.windows.get(window.connectionId) !== window) return;
    this.forget(window);
    if (!window.isDisconnected) this.dismissed.add(window.connectionId);
    if (this.windows.size === 0) this.resolveQuit();
  }

  private displayLimit(): Size {
    const display = this.sdl.video.displays[0];
    if (!display) return { width: 1280, height: 720 };
    return {
      width: Math.floor(display.usable.width * DISPLAY_FILL),
      height: Math.floor(display.usable.height * DISPLAY_FILL),
    };
  }
}

function oneLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}
