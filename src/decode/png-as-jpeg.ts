/**
 * A PNG frame as a JPEG, for `recv --output` in MJPEG: a stream of concatenated JPEGs that
 * ffplay or `send --stdin` read has no place for a PNG, and leaving the frame out would make a
 * folder transfer arrive with gaps. Held to the same pixel limit as every decoder.
 */
import { loadSharp } from '../native/sharp.js';
import { BLACK, imageSize, noSizeReason } from './pixels.js';
import { MAX_DECODE_PIXELS } from './turbo.js';
import { PixelLimitError, exceedsPixelLimit, sharpInputOptions } from './limits.js';
import type { Frame } from '../frame/frame.js';

/** High enough that the copy looks like the lossless original; a PNG frame is a still, rarely a stream. */
export const PNG_AS_JPEG_QUALITY = 90;

/**
 * The JPEG of a PNG frame (transparency over black). Throws `PixelLimitError` for a header
 * claiming more than `maxPixels`, before decoding; any other error for a PNG that does not decode.
 */
export async function pngAsJpeg(frame: Frame, maxPixels = MAX_DECODE_PIXELS): Promise<Buffer> {
  const image = imageSize(frame);
  if (!image) throw new Error(noSizeReason(frame.type));
  if (exceedsPixelLimit(image, maxPixels)) throw new PixelLimitError(image, maxPixels);
  const sharp = await loadSharp();
  return sharp(frame.data, sharpInputOptions(maxPixels)).flatten({ background: BLACK }).jpeg({ quality: PNG_AS_JPEG_QUALITY }).toBuffer();
}
