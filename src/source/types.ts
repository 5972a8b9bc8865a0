import type { Frame, Size } from '../frame/frame.js';

export type { Size };

/**
 * A stream of JPEG frames. Iterate it once; `close()` stops the underlying ffmpeg or reader.
 *
 * Live sources (camera, pattern) never queue: while the consumer is busy, newer frames
 * replace the one waiting (latest frame wins) and `dropped` counts the ones replaced.
 * Non-live sources (file, folder, stdin) apply backpressure instead and never drop.
 */
export interface FrameSource extends AsyncIterable<Frame> {
  readonly live: boolean;
  /** Frames discarded because a newer one replaced them before they were consumed. */
  readonly dropped: number;
  /** A human-readable description for logs, e.g. `pattern 640x480@30`. */
  readonly description: string;
  close(): Promise<void>;
}

/** Options every source accepts; each source documents which it honours. */
export interface CommonSourceOptions {
  ffmpegPath: string;
  /** Output frame size; frames are scaled to exactly this size (aspect not preserved). */
  size?: Size;
  /** Frames per second; `'max'` reads a file as fast as possible. */
  fps?: number | 'max';
  /** JPEG quality 1-100 (libjpeg scale); unset means 80, and `--dir` JPEGs pass through. */
  quality?: number;
  /**
   * Who encodes the frames of ffmpeg sources (pattern, file, camera): `'raw'`, the
   * libjpeg-turbo addon from ffmpeg's raw frames (the default where the addon is built), or
   * `'ffmpeg'`, ffmpeg's own MJPEG encoder (the default elsewhere).
   */
  encoder?: 'raw' | 'ffmpeg';
}

export type SourceOptions = CommonSourceOptions &
  (
    | { kind: 'pattern' }
    | { kind: 'camera'; device: string }
    | { kind: 'file'; path: string; loop?: boolean }
    | { kind: 'dir'; path: string }
    | { kind: 'stdin'; stream?: NodeJS.ReadableStream }
  );
