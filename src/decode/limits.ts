/**
 * What the decoding sinks (`recv --format`, the window) refuse to decode. A JPEG header of a few
 * bytes can claim 65535x65535, so the size it claims is checked before anything is allocated or
 * decoded for it; and every scan of a progressive JPEG is one more pass over all of the image,
 * so their number is bounded. libjpeg-turbo (native/jpeg) and sharp are held to both.
 */
import { ProtocolError } from '../errors.js';
import type { Size } from '../frame/frame.js';

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

/**
 * The most scans a JPEG may have. Encoders write 10 or so (libjpeg's progression: 10 for colour,
 * 6 for grey); a legal progression can have thousands. native/jpeg/vstream_jpeg.c has the same
 * number (MAX_SCANS); test/turbo-jpeg.test.ts checks that they agree.
 */
export const MAX_JPEG_SCANS = 100;

/** A progressive JPEG of more than `MAX_JPEG_SCANS` scans: dropped, never decoded. */
export class ScanLimitError extends ProtocolError {
  constructor() {
    super(`a JPEG of more than ${MAX_JPEG_SCANS} scans`, 'ERR_JPEG_TOO_MANY_SCANS');
  }
}
