import { jpegDimensions } from '../decode/jpeg-info.js';
import { DisplayError } from '../errors.js';
import type { ReceivedFrame } from '../transport/types.js';
import { loadSdl, type Sdl, type SdlWindow } from './sdl.js';
import type { StreamStats } from './stream-stats.js';
import { initialWindowSize, type Size } from './window/fit.js';
import { SenderWindow } from './window/sender-window.js';

const HEADLESS_HINT = 'use --no-window with --output, --save-dir or --json';
/** SDL falls back to these when it finds no display; a window there is invisible. */
const HEADLESS_DRIVERS = new Set(['offscreen', 'dummy', 'evdev']);
/** Title and overlay refresh rate: fast enough to follow, slow enough to read. */
const REFRESH_MS = 250;
/** Room left for window decorations when a frame is larger than the display. */
const DISPLAY_FILL = 0.9;
/** For a frame whose JPEG header gives no size: its decode fails anyway, but it gets a window. */
const FALLBACK_SIZE: Size = { width: 640, height: 480 };

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
 * Shows each sender's stream in its own SDL window. The receiver drives it:
 *
 * ```ts
 * const sink = await WindowSink.open();          // DisplayError ERR_NO_SDL / ERR_NO_DISPLAY
 * for await (const frame of receiver) {
 *   stats.record(frame);                         // the caller records; the window only reads
 *   sink.show(frame, stats);                     // never blocks; newest frame wins
 * }
 * // on a disconnect: sink.senderGone(connectionId)
 * await Promise.race([sink.quit, ...]);          // Esc, q, or the last window closed
 * await sink.close();
 * ```
 *
 * - One window per connection, titled by `frame.sender`, opened on its first frame at the
 *   frame's size (scaled down to fit the display), resizable; the frame is fitted to the
 *   window with black bars, and redrawn when the window is resized.
 * - While a frame is being decoded, later frames replace the one waiting; each replaced
 *   frame counts in `stats.sinkDropped`.
 * - Title and a small overlay show fps, capture-to-receive latency and drops from `stats`,
 *   a few times a second. Without `stats` the window keeps its own.
 */
export class WindowSink {
  /**
   * Resolves when the user asks to stop: Esc or q in any window, or the last window closed.
   * Rejects with a `DisplayError` (`ERR_WINDOW`) if SDL fails to draw.
   */
  readonly quit: Promise<void>;
  private resolveQuit!: () => void;
  private rejectQuit!: (error: DisplayError) => void;
  private readonly windows = new Map<number, SenderWindow>();
  /** Connections whose window the user closed: their frames are ignored, not reopened. */
  private readonly dismissed = new Set<number>();
  private readonly ticker: NodeJS.Timeout;
  private closed = false;

  private constructor(
    private readonly sdl: Sdl,
    private readonly app: string,
  ) {
    this.quit = new Promise((resolve, reject) => {
      this.resolveQuit = resolve;
      this.rejectQuit = reject;
    });
    // A caller that only ever calls close() must not die of an unhandled rejection.
    this.quit.catch(() => {});
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
   * `options.title` replaces `vstream` at the start of every window title.
   */
  static async open(options: { title?: string } = {}): Promise<WindowSink> {
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
    return new WindowSink(sdl, options.title ?? 'vstream');
  }

  /**
   * Queues `frame` for its sender's window, opening the window on the sender's first frame.
   * Returns at once. `stats` is the sender's, already holding this frame; the window reads it
   * and adds to its `sinkDropped`. Throws `DisplayError` (`ERR_WINDOW`) if a window cannot
   * be opened.
   */
  show(frame: ReceivedFrame, stats?: StreamStats): void {
    if (this.closed || this.dismissed.has(frame.connectionId)) return;
    const window = this.windows.get(frame.connectionId) ?? this.openFor(frame, stats);
    window.show(frame, stats);
  }

  /** The sender disconnected: its last frame stays on screen, marked "(disconnected)". */
  senderGone(connectionId: number): void {
    this.dismissed.delete(connectionId);
    this.windows.get(connectionId)?.markGone();
  }

  /** Closes every window. Afterwards nothing of SDL keeps the process alive. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    const windows = [...this.windows.values()];
    this.windows.clear();
    await Promise.all(windows.map((window) => window.destroy()));
    this.resolveQuit();
  }

  private openFor(frame: ReceivedFrame, stats: StreamStats | undefined): SenderWindow {
    // A sender that reconnects gets its old window back rather than one more each time.
    for (const [id, window] of this.windows) {
      if (window.isDisconnected && window.sender === frame.sender) {
        this.windows.delete(id);
        window.reconnect(frame.connectionId);
        this.windows.set(frame.connectionId, window);
        return window;
      }
    }
    const hooks = {
      onUserClose: (closed: SenderWindow) => this.onUserClose(closed),
      onQuitKey: () => this.resolveQuit(),
      onFailure: (cause: unknown) =>
        this.rejectQuit(new DisplayError(`Window for ${frame.sender} failed: ${oneLine(cause)}`, 'ERR_WINDOW', { cause })),
    };
    const window = new SenderWindow(this.createSdlWindow(frame), frame.sender, frame.connectionId, this.app, hooks, stats);
    this.windows.set(frame.connectionId, window);
    return window;
  }

  private createSdlWindow(frame: ReceivedFrame): SdlWindow {
    const size = initialWindowSize(jpegDimensions(frame.jpeg) ?? FALLBACK_SIZE, this.displayLimit());
    try {
      return this.sdl.video.createWindow({
        title: `${this.app} · ${frame.sender}`,
        ...size,
        resizable: true,
        // A vsync wait would block the event loop, which also serves the network.
        vsync: false,
      });
    } catch (cause) {
      throw new DisplayError(`Cannot open a window for ${frame.sender}: ${oneLine(cause)}`, 'ERR_WINDOW', { cause });
    }
  }

  private onUserClose(window: SenderWindow): void {
    if (this.windows.get(window.connectionId) !== window) return;
    this.windows.delete(window.connectionId);
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
