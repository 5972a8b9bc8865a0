/**
 * The ffmpeg-backed sources (pattern, file, camera) share this: spawn ffmpeg, cut its output
 * into frames. With the libjpeg-turbo addon ffmpeg writes raw 4:2:0 frames (Y4M) that the addon
 * encodes, three times faster than ffmpeg's own MJPEG encoder; without it, ffmpeg encodes. Each
 * source says what ffmpeg reads and how its failures read; nothing here knows the kinds.
 */
import { canEncodeRaw } from '../encode/yuv-jpeg.js';
import { ffmpegArgs, type FfmpegPlan } from './ffmpeg/args.js';
import { spawnFfmpeg, type FailureExplainer, type SpawnFfmpegOptions } from './ffmpeg/process.js';
import { mjpegStreamSource } from './mjpeg-stream.js';
import { y4mStreamSource } from './y4m-stream.js';
import type { FrameSource } from './types.js';

export interface FfmpegSourceOptions extends FfmpegPlan {
  ffmpegPath: string;
  /** `'copy'`: the input is MJPEG and its JPEGs pass through as they are. */
  encoder?: 'raw' | 'ffmpeg' | 'copy' | undefined;
  explainFailure?: FailureExplainer;
  live: boolean;
  description: string;
  /** For a source that ends: its frame count, as FrameSource.total (found out once, when first asked). */
  total?: () => Promise<number | undefined>;
  /** What ffmpeg reads on its standard input, for an input of `pipe:0`. */
  stdin?: SpawnFfmpegOptions['stdin'];
}

export function ffmpegSource({ ffmpegPath, encoder: chosen, input, output, explainFailure, live, description, total, stdin }: FfmpegSourceOptions): FrameSource {
  const encoder = chosen ?? (canEncodeRaw() ? 'raw' : 'ffmpeg');
  const ffmpeg = spawnFfmpeg({ ffmpegPath, args: ffmpegArgs(input, { ...output, encoder }), ...(explainFailure && { explainFailure }), ...(stdin && { stdin }) });
  const stream = { input: ffmpeg.stdout, producer: ffmpeg, live, description };
  const source = encoder === 'raw' ? y4mStreamSource({ ...stream, ...(output.quality !== undefined && { quality: output.quality }) }) : mjpegStreamSource(stream);
  return total ? Object.assign(source, { total: once(total) }) : source;
}

/** `make()`'s promise, made on the first call only. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
}
