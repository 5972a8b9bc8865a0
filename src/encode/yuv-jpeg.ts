/** Raw 4:2:0 frames to JPEG with the libjpeg-turbo addon (native/jpeg). */
import { SourceError } from '../errors.js';
import { loadTurbo } from '../native/jpeg-addon.js';
import type { Size } from '../frame/frame.js';
import { DEFAULT_QUALITY } from './quality.js';

/** One 4:2:0 picture's planes: Y (width x height), then U and V (each ceil(w/2) x ceil(h/2)). */
export interface Yuv420Image extends Size {
  planes: Buffer;
  /** True when the samples are limited range (16-235); JPEG needs full range, so they are expanded. */
  limitedRange: boolean;
}

/** True when raw frames can be encoded here, i.e. the addon is built and not turned off. */
export function canEncodeRaw(): boolean {
  return loadTurbo() !== undefined;
}

/**
 * Encodes on libuv's thread pool. Default Huffman tables, not optimised ones: optimising costs
 * more than the whole rest of the encode (0.4 ms more at 640x480) for files about 15 % smaller,
 * and a live frame is worth more early than small.
 */
export async function encodeRawFrame(frame: Yuv420Image, quality = DEFAULT_QUALITY): Promise<Buffer> {
  const turbo = loadTurbo();
  if (!turbo) throw new SourceError('the libjpeg-turbo addon is not available to encode raw frames', 'ERR_ENCODE');
  try {
    const { data } = await turbo.encodeYuv420(frame.planes, frame.width, frame.height, quality, false, frame.limitedRange);
    return data;
  } catch (error) {
    throw new SourceError(`cannot encode a ${frame.width}x${frame.height} frame: ${(error as Error).message}`, 'ERR_ENCODE', { cause: error });
  }
}
