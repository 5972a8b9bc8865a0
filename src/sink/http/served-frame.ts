import type { Frame } from '../../frame/frame.js';

/**
 * The part of a frame a viewer serves: what the sender's `Frame` and the receiver's
 * `ReceivedFrame` have in common, so one server serves either end.
 */
export type ServedFrame = Pick<Frame, 'data' | 'type' | 'width' | 'height' | 'captureTime'>;

/** A stream's live figures as the page and `/streams.json` show them. */
export interface StreamFigures {
  /** Frames received (or sent) over the last second. */
  fps: number;
  /** Capture to arrival here, smoothed; null when the frames carry no capture time. */
  latencyMs: number | null;
  /** Frames the stream lost on its way here (sender's and receiver's drops). */
  dropped: number;
  frames: number;
  bytes: number;
}

/** `image/jpeg` or `image/png`; undefined for bytes no browser shows. */
export function imageMime(frame: ServedFrame): string | undefined {
  if (frame.type === 'jpeg') return 'image/jpeg';
  if (frame.type === 'png') return 'image/png';
  return undefined;
}
