/**
 * The pixel limit of the decoding sinks (`recv --format`, the window): a JPEG header of a few
 * bytes can claim 65535x65535, so the size it claims is checked before anything is allocated
 * or decoded for it, by libjpeg-turbo (native/jpeg) and sharp alike.
 */
import { ProtocolError } from '../errors.js';
import type { Size } from '../source/types.js';

/** A frame whose header claims more pixels than the limit: it is dropped, never decoded. */
export class PixelLimitError extends ProtocolError {
  constructor(image: Size, maxPixels: number) {
    super(`a ${image.width}x${image.height} frame is over the pixel limit of ${maxPixels}`, 'ERR_PIXEL_LIMIT');
  }
}

export function exceedsPixelLimit(image: Size, maxPixels: number): boolean {
  return image.width * image.height > maxPixels;
}

/**
 * sharp's options for a JPEG from the network: a damaged live frame is still worth showing
 * (`failOn: 'none'`), one over the limit is refused. sharp reads 0 as "no limit", hence at least 1.
 */
export function sharpInputOptions(maxPixels: number): { failOn: 'none'; limitInputPixels: number } {
  return { failOn: 'none', limitInputPixels: Math.max(1, Math.floor(maxPixels)) };
}
