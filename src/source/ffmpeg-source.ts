/**
 * The ffmpeg-backed sources (pattern, file, camera) share this: spawn ffmpeg, cut its output
 * into frames. With the libjpeg-turbo addon ffmpeg writes raw 4:2:0 frames (Y4M) that the addon
 * encodes, three times faster than ffmpeg's own MJPEG encoder; without it, ffmpeg encodes.
 */
import { canEncodeRaw } from '../encode/yuv-jpeg.js';
import { buildFfmpegArgs, type FfmpegSpec } from './ffmpeg/args.js';
import { spawnFfmpeg, type FfmpegSubject } from './ffmpeg/process.js';
import { mjpegStreamSource } from './mjpeg-stream.js';
import { y4mStreamSource } from './y4m-stream.js';
import type { FrameSource } from './types.js';

export interface FfmpegSourceOptions {
  ffmpegPath: string;
  encoder?: 'raw' | 'ffmpeg' | undefined;
  spec: FfmpegSpec;
  subject: FfmpegSubject;
  live: boolean;
  description: string;
}

export function ffmpegSource({ ffmpegPath, encoder: chosen, spec, subject, live, description }: FfmpegSourceOptions): FrameSource {
  const encoder = chosen ?? (canEncodeRaw() ? 'raw' : 'ffmpeg');
  const ffmpeg = spawnFfmpeg({ ffmpegPath, args: buildFfmpegArgs({ ...spec, encoder }), subject });
  const stream = { input: ffmpeg.stdout, producer: ffmpeg, live, description };
  return encoder === 'raw' ? y4mStreamSource({ ...stream, ...(spec.quality !== undefined && { quality: spec.quality }) }) : mjpegStreamSource(stream);
}
