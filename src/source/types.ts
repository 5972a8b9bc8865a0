import type { Frame, Size } from '../frame/frame.js';
import type { OptionSchema, Settings } from '../options/schema.js';

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
  /**
   * Sources that end (a folder, a file): how many frames they give, for a progress line;
   * undefined when that cannot be known (a looping file, one without a duration). Asked only
   * by whoever shows progress, since finding out may cost a look at the file.
   */
  total?(): Promise<number | undefined>;
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

/**
 * One kind of source: the `send` options it adds (the first picks it), how those become the
 * library's options for it (`P`), and how it opens. A new kind is this, once, in its own
 * file, plus a line in src/source/registry.ts; the library's `SourceOptions` follow from it.
 */
export interface SourceKind<K extends string, P, O extends OptionSchema> {
  readonly kind: K;
  readonly options: O;
  /** The option that picks this source. */
  readonly selector: keyof O & string;
  /** Runs ffmpeg: the CLI looks for the binary before opening it. */
  readonly needsFfmpeg: boolean;
  /** This source's library options from `send`'s settings. */
  fromSettings(settings: Settings<O>): P;
  open(options: CommonSourceOptions & P): Promise<FrameSource>;
}
