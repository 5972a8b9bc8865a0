/**
 * Opens the source a user chose. Options are checked here, once, so each source can trust them:
 * this is the library boundary as well as the CLI's.
 */
import { validateQuality } from '../encode/quality.js';
import { canEncodeRaw } from '../encode/yuv-jpeg.js';
import { UsageError } from '../errors.js';
import { MAX_DIMENSION, MAX_FRAME_PIXELS } from '../options/limits.js';
import { sourceKind, type SourceOptions } from './registry.js';
import type { FrameSource } from './types.js';

export type { CommonSourceOptions, FrameSource, Size } from './types.js';
export type { SourceChoice, SourceOptions } from './registry.js';

export async function openSource(options: SourceOptions): Promise<FrameSource> {
  validate(options);
  const kind = sourceKind(options.kind);
  if (!kind) throw new UsageError(`unknown source kind "${String(options.kind)}"`, 'ERR_BAD_SOURCE');
  return kind.open(options);
}

function validate({ size, fps, quality, encoder }: SourceOptions): void {
  if (encoder === 'raw' && !canEncodeRaw()) {
    throw new UsageError('encoder "raw" needs the libjpeg-turbo addon, which is not built (npm run build:jpeg)', 'ERR_NO_RAW_ENCODER');
  }
  if (quality !== undefined) validateQuality(quality);
  if (fps !== undefined && fps !== 'max' && !(Number.isFinite(fps) && fps > 0)) {
    throw new UsageError(`--fps must be a positive number or "max", got ${String(fps)}`, 'ERR_BAD_FPS');
  }
  if (size !== undefined) {
    const ok = (n: number): boolean => Number.isInteger(n) && n >= 1 && n <= MAX_DIMENSION;
    if (!ok(size.width) || !ok(size.height)) {
      throw new UsageError(`--size must be WxH with each side from 1 to ${MAX_DIMENSION}, got ${size.width}x${size.height}`, 'ERR_BAD_SIZE');
    }
    if (size.width * size.height > MAX_FRAME_PIXELS) {
      throw new UsageError(`--size ${size.width}x${size.height} is more than ${MAX_FRAME_PIXELS} pixels (16384x16384)`, 'ERR_BAD_SIZE');
    }
  }
}
