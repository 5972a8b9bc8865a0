/** The figures a window shows about its stream, as a title and as overlay text. */
import { wireText } from '../../text/wire-text.js';

export interface StatusFigures {
  /** The prefix of every window title, e.g. `vstream`. */
  app: string;
  /** As received, chosen by the sender: shown through wireText(), so escaped and cut short. */
  sender: string;
  /** Frames received over the last second. */
  fps: number;
  /** Capture-to-receive latency, smoothed; absent when the sender sends no capture times. */
  latencyMs: number | undefined;
  dropped: number;
  disconnected: boolean;
}

export function formatLatency(ms: number): string {
  // One decimal where it carries information (LAN latencies are a few ms), none above.
  return Math.abs(ms) < 10 ? ms.toFixed(1) : Math.round(ms).toString();
}

function parts(f: StatusFigures): string[] {
  const out = [`${f.fps} fps`];
  if (f.latencyMs !== undefined) out.push(`${formatLatency(f.latencyMs)} ms`);
  out.push(`${f.dropped} dropped`);
  return out;
}

/** E.g. `vstream · cam1 · 30 fps · 4.2 ms · 0 dropped`. */
export function windowTitle(f: StatusFigures): string {
  const title = [f.app, wireText(f.sender), ...parts(f)].join(' · ');
  return f.disconnected ? `${title} (disconnected)` : title;
}

/** The same figures for the overlay, which has no `·` glyph and needs no app name. */
export function overlayText(f: StatusFigures): string {
  const text = [wireText(f.sender), ...parts(f)].join('  ');
  return f.disconnected ? `${text}  disconnected` : text;
}

/**
 * An exponential moving average of latency: the raw per-frame value jitters by milliseconds,
 * which makes a number redrawn several times a second unreadable.
 */
export class LatencyMeter {
  private value: number | undefined;

  constructor(private readonly weight = 0.1) {}

  add(ms: number): void {
    this.value = this.value === undefined ? ms : this.value + this.weight * (ms - this.value);
  }

  get ms(): number | undefined {
    return this.value;
  }

  reset(): void {
    this.value = undefined;
  }
}
