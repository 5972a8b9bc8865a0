/**
 * Opens the source a user chose. Options are checked here, once, so each source can trust them:
 * this is the library boundary as well as the CLI's.
 */
import { validateQuality } from '../encode/quality.js';
import { canEncodeRaw } from '../encode/yuv-jpeg.js';
import { UsageError } from '../errors.js';
import { openCamera } from './camera.js';
import { openDir } from './dir.js';
import { openFile } from './file.js';
import { openPattern } from './pattern.js';
import { openStdin } from './stdin.js';
import type { FrameSource, SourceOptions } from './types.js';

export type { CommonSourceOptions, FrameSource, Size, SourceOptions } from './types.js';

/** JPEG's own limit on each dimension. */
const MAX_DIMENSION = 65535;

export async function openSource(options: SourceOptions): Promise<FrameSource> {
  validate(options);
  switch (options.kind) {
    case 'pattern':
      return openPattern(options);
    case 'camera':
      return openCamera(options);
    case 'file':
      return openFile(options);
    case 'dir':
      return openDir(options);
    case 'stdin':
      return openStdin(options);
  }
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
  }
}
