import { NewestWinsQueue } from '../../flow/newest-wins-queue.js';
import type { ReceivedFrame } from '../../frame/frame.js';
import type { SdlWindow } from '../sdl.js';
import { StreamStats } from '../stream-stats.js';
import { decodeFitted } from './decode.js';
import { fitRect, type Rect, type Size } from './fit.js';
import { drawOverlay } from './overlay.js';
import { LatencyMeter, overlayText, windowTitle, type StatusFigures } from './status.js';

export interface SenderWindowHooks {
  /** The user closed this window (window manager button, app quit), not `destroy()`. */
  onUserClose(window: SenderWindow): void;
  /** Esc or q was pressed in this window. */
  onQuitKey(): void;
  /** SDL failed to draw: the window cannot show anything any more. */
  onFailure(window: SenderWindow, error: unknown): void;
  /** `frame` did not decode: it is dropped (and reported to `onDropped`) like a late frame. */
  onBadFrame(frame: ReceivedFrame, error: unknown): void;
  /** `frame` will never be shown: a newer one took its place, or it did not decode. */
  onDropped(frame: ReceivedFrame): void;
}

/**
 * One sender's window. Shows the newest frame only: at most one decode runs at a time, and
 * frames arriving meanwhile replace the one waiting, so a slow decode or a slow display never
 * lets the picture fall behind live. Its title and overlay show its own figures: the frames
 * that reached it, and the drops among them (gaps in the sender's numbers, frames replaced or
 * undecodable here).
 *
 * Once its sender has left and the last decode is done, the window keeps only its last picture
 * with the final overlay drawn in (one window-sized RGB buffer) and scales that to any new
 * window size: the JPEG, the decode buffers and the stats are let go.
 */
export class SenderWindow {
  private disconnected = false;
  /** Disconnected and idle: `base` holds the final picture, overlay included, and nothing else is kept. */
  private released = false;
  /** This window's figures for its sender; none once the sender left. */
  private stats: StreamStats | undefined = new StreamStats();
  /** The drops shown after the sender left, when `stats` is no longer read. */
  private finalDropped = 0;
  private readonly latency = new LatencyMeter();
  /**
   * Arrived, not yet handed to the decoder: one frame at most, whoever sent it, as the window
   * shows one stream at a time (a late frame of the sender that left is replaced by the first
   * of the one that took the window over).
   */
  private readonly pending = new NewestWinsQueue<0, ReceivedFrame>({ onDrop: (_, frame) => this.dropped(frame) });
  /** The frame on screen (or being decoded): kept to redraw it at a new window size. */
  private current: ReceivedFrame | undefined;
  /** `current` must be decoded again because the window's size changed. */
  private stale = false;
  private decoding: Promise<void> | undefined;
  /**
   * The decoded frame without overlay, so the overlay can be redrawn without decoding; with the
   * final overlay drawn in (`overlaid`) once released.
   */
  private base: { rgb: Buffer; size: Size; overlaid?: boolean } | undefined;
  /**
   * Reused frame buffers: the next decode's target (the previous base) and the copy the overlay
   * is drawn on. A fresh buffer a frame costs about as much again as the decode in page faults.
   */
  private spare: Buffer | undefined;
  private canvas: Buffer | undefined;
  private title = '';
  private text = '';
  private destroying = false;
  private failed = false;

  constructor(
    private readonly window: SdlWindow,
    private name: string,
    public connectionId: number,
    private readonly app: string,
    private readonly hooks: SenderWindowHooks,
  ) {
    window.on('resize', ({ pixelWidth, pixelHeight }) => {
      // Nothing left to decode again: the kept picture is scaled to the new size.
      if (this.released) return this.paint();
      if (this.base && (this.base.size.width !== pixelWidth || this.base.size.height !== pixelHeight)) {
        this.stale = true;
        this.kick();
      }
    });
    // A window uncovered after its sender stopped would stay blank until the next frame.
    window.on('expose', () => this.paint());
    window.on('keyDown', ({ key }) => {
      if (key === 'escape' || key === 'q') hooks.onQuitKey();
    });
    window.on('close', () => {
      if (!this.destroying) hooks.onUserClose(this);
    });
    this.refresh();
  }

  /** Whose window this is: the sender's name as received. */
  get sender(): string {
    return this.name;
  }

  get isDisconnected(): boolean {
    return this.disconnected;
  }

  show(frame: ReceivedFrame): void {
    if (this.window.destroyed) return;
    // A frame still queued when its sender left is drawn, but the figures stay as they were.
    if (!this.disconnected) {
      this.stats?.record(frame);
      if (frame.meta) this.latency.add(frame.receivedAt - frame.meta.captureTime);
    }
    this.pending.push(0, frame, { live: true });
    this.kick();
  }

  /** Counts a frame of this window's sender dropped before it reached this window. */
  countDropped(): void {
    if (this.stats) this.stats.sinkDropped += 1;
  }

  /** The sender went away: its last frame stays, marked, and what only a live stream needs goes. */
  markGone(): void {
    this.disconnected = true;
    this.finalDropped = this.stats?.dropped ?? 0;
    this.stats = undefined;
    this.refresh();
    if (!this.decoding && this.pending.length === 0) this.release();
  }

  /** The same sender is back on a new connection: reuse this window rather than open another. */
  reconnect(connectionId: number): void {
    this.connectionId = connectionId;
    this.disconnected = false;
    // The old picture stays on screen until the first new frame is drawn, but is not drawn
    // again: its overlay is burnt in.
    if (this.released) this.base = undefined;
    this.released = false;
    this.latency.reset();
    this.stats = new StreamStats();
    this.refresh();
  }

  /**
   * Another sender takes this window over, its own having left: the window is resized for the
   * new sender's frames (`size`), and shows nothing of the old one from its first frame on.
   */
  handOver(sender: string, connectionId: number, size: Size): void {
    this.name = sender;
    this.base = this.current = undefined;
    this.stale = false;
    this.reconnect(connectionId);
    try {
      this.window.setSize(size.width, size.height);
    } catch (error) {
      this.failed = true;
      this.hooks.onFailure(this, error);
    }
  }

  /** Updates the title and the overlay when their figures changed; called a few times a second. */
  refresh(): void {
    if (this.window.destroyed) return;
    const figures: StatusFigures = {
      app: this.app,
      sender: this.sender,
      fps: this.stats?.fps() ?? 0,
      latencyMs: this.latency.ms,
      dropped: this.stats?.dropped ?? this.finalDropped,
      disconnected: this.disconnected,
    };
    const title = windowTitle(figures);
    if (title !== this.title) {
      this.title = title;
      this.window.setTitle(title);
    }
    const text = overlayText(figures);
    // A released picture has its final text drawn in already.
    if (text !== this.text && !this.released) {
      this.text = text;
      // While a decode runs, its paint will carry the new text anyway.
      if (!this.decoding) this.paint();
    }
  }

  /** Closes the window; resolves once no decode for it is still running. */
  async destroy(): Promise<void> {
    this.destroying = true;
    // Let go of, not dropped: the window is closing, as recv does.
    this.pending.close();
    this.current = undefined;
    this.stats = undefined;
    if (!this.window.destroyed) this.window.destroy();
    await this.decoding;
    this.base = this.spare = this.canvas = undefined;
  }

  /** Keeps the last picture with its overlay drawn in, and lets everything else go. */
  private release(): void {
    this.released = true;
    this.current = this.spare = this.canvas = undefined;
    this.stale = false;
    // Once per picture: a late frame that failed to decode leaves the overlaid one in place.
    if (this.base && !this.base.overlaid) {
      drawOverlay(this.base.rgb, this.base.size, this.text);
      this.base.overlaid = true;
    }
    this.paint();
  }

  private kick(): void {
    if (this.decoding || this.window.destroyed) return;
    let frame: ReceivedFrame;
    let fresh = false;
    const next = this.pending.shift();
    if (next) {
      frame = next;
      fresh = true;
      this.current = frame;
    } else if (this.stale && this.current) {
      frame = this.current;
    } else {
      return;
    }
    this.stale = false;
    const size: Size = { width: this.window.pixelWidth, height: this.window.pixelHeight };
    const into = this.spare;
    this.spare = undefined;
    this.decoding = decodeFitted(frame, size, into)
      .then(
        (rgb) => {
          // Never the buffer on screen: a timer's paint may read base while this decode runs.
          this.spare = this.base?.rgb ?? into;
          this.base = { rgb, size };
          this.paint();
          // Resized while decoding: this frame was shown stretched; decode it again to fit.
          if (size.width !== this.window.pixelWidth || size.height !== this.window.pixelHeight) this.stale = true;
        },
        (error: unknown) => {
          this.spare = into;
          // An undecodable image is skipped like a frame that arrived too late.
          if (fresh) {
            this.dropped(frame);
            this.hooks.onBadFrame(frame, error);
          }
        },
      )
      .finally(() => {
        this.decoding = undefined;
        if (this.disconnected && this.pending.length === 0) this.release();
        else this.kick();
      });
  }

  /** A frame this window will not show; counted in its figures when it is of the stream shown now. */
  private dropped(frame: ReceivedFrame): void {
    if (frame.connectionId === this.connectionId) this.countDropped();
    this.hooks.onDropped(frame);
  }

  private paint(): void {
    if (!this.base || this.window.destroyed || this.failed) return;
    const { rgb, size } = this.base;
    if (this.released) {
      const box = { width: this.window.pixelWidth, height: this.window.pixelHeight };
      this.render(rgb, size, fitRect(size, box));
      return;
    }
    // A copy, so that the next overlay is drawn over the frame rather than over this one;
    // reusable at once, as render() has copied it into a texture when it returns.
    if (this.canvas?.length !== rgb.length) this.canvas = Buffer.allocUnsafe(rgb.length);
    const out = this.canvas;
    rgb.copy(out);
    drawOverlay(out, size, this.text);
    this.render(out, size);
  }

  /** Draws `rgb` over the whole window, or fitted into `into` with black around it. */
  private render(rgb: Buffer, size: Size, into?: Rect): void {
    try {
      const options = into && { dstRect: into, scaling: 'linear' as const };
      this.window.render(size.width, size.height, size.width * 3, 'rgb24', rgb, options);
    } catch (error) {
      // Called from timers and SDL events too: an exception here would end the process.
      this.failed = true;
      this.hooks.onFailure(this, error);
    }
  }
}
