/** What a `--url` session needs to know, from the source's options. */
import type { Size } from '../types.js';

export interface UrlSourceSettings {
  /** The ffmpeg to run, looked for only when a stream needs it (MJPEG over HTTP does not). */
  ffmpegPath: () => string;
  encoder?: 'raw' | 'ffmpeg' | undefined;
  size?: Size | undefined;
  fps?: number | 'max' | undefined;
  quality?: number | undefined;
  maxFrameBytes: number;
  /** A server that sends no frame for this long: an outage (also ffmpeg's socket timeout). */
  frameTimeoutMs: number;
}
