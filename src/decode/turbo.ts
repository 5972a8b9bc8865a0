/** Decoding with the libjpeg-turbo addon, when it is there and the target size suits it. */
import { loadTurbo } from '../native/jpeg-addon.js';
import type { Size } from '../frame/frame.js';

/**
 * The largest image decoded, in pixels, by default (`recv --max-pixels`): a JPEG header of a
 * few bytes can claim 65535x65535 (12 GB of RGB). 8K is 33 Mpx.
 */
export const MAX_DECODE_PIXELS = 64 * 1024 * 1024;

/**
 * The addon's refusals of a hostile JPEG: over the pixel limit (or its coefficients over the
 * memory that allows), or a progressive one of too many scans. Not left to sharp, which would
 * spend the memory or time the addon just refused to.
 */
const REFUSALS = new Set(['ERR_JPEG_TOO_LARGE', 'ERR_JPEG_TOO_MANY_SCANS']);

const FORMAT_CODES = { rgb24: 0, bgr24: 1, gray: 2 } as const;

/**
 * libjpeg-turbo scales by 1/2, 1/4 or 1/8 while decoding (rounding up): the divisor that turns
 * `image` into exactly `target`, if there is one.
 */
export function exactScale(image: Size, target: Size): 1 | 2 | 4 | 8 | undefined {
  for (const denom of [1, 2, 4, 8] as const) {
    if (Math.ceil(image.width / denom) === target.width && Math.ceil(image.height / denom) === target.height) return denom;
  }
  return undefined;
}

/**
 * Decodes with libjpeg-turbo straight to `target` when the addon is there and `target` is the
 * image's own size or an exact 1/2, 1/4, 1/8 of it (into `into` when given and big enough).
 * Undefined otherwise, and for a JPEG it cannot decode (CMYK, say), so that the caller tries
 * sharp; a JPEG over `maxPixels` (the image, whatever the scale) or of too many scans throws.
 */
export async function turboDecode(
  jpeg: Buffer,
  format: keyof typeof FORMAT_CODES,
  image: Size,
  target: Size,
  into?: Buffer,
  maxPixels = MAX_DECODE_PIXELS,
): Promise<Buffer | undefined> {
  const turbo = loadTurbo();
  const denom = turbo && exactScale(image, target);
  if (!turbo || !denom) return undefined;
  try {
    const decoded = await turbo.decode(jpeg, FORMAT_CODES[format], denom, maxPixels, into);
    // The SOF read in JavaScript and libjpeg agree unless the JPEG is odd: then let sharp try.
    if (decoded.width !== target.width || decoded.height !== target.height) return undefined;
    return into ? decoded.data.subarray(0, target.width * target.height * decoded.channels) : decoded.data;
  } catch (err) {
    if (REFUSALS.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    return undefined;
  }
}
