import type { Frame, Size } from '../../frame/frame.js';

import { loadSharp } from '../../native/sharp.js';
import { jpegScanCount } from '../../decode/jpeg-info.js';
import { BLACK, jpegSize } from '../../decode/pixels.js';
import { MAX_DECODE_PIXELS, turboDecode } from '../../decode/turbo.js';
import { MAX_JPEG_SCANS, ScanLimitError, sharpInputOptions } from '../../decode/limits.js';

/**
 * Decodes a JPEG or PNG to RGB24 of exactly `box` pixels: the image scaled to fit, aspect kept,
 * centred on black bars (a PNG's transparency is black too). sharp shrinks on load when the box
 * is smaller than the frame, so a 4K frame in a small window costs a fraction of a full
 * decode; and it runs on libuv's thread pool, leaving the event loop free for the network.
 * libjpeg-turbo decodes into `into` when it is given and has exactly the box's size; otherwise
 * the result is a new buffer. Both decoders are held to the pixel and scan limits
 * (src/decode/limits.ts).
 */
export async function decodeFitted(frame: Frame, box: Size, into?: Buffer, maxPixels = MAX_DECODE_PIXELS): Promise<Buffer> {
  // The usual case, a window at the frame's own size (or 1/2, 1/4, 1/8 of it): no bars, no
  // resampling, libjpeg-turbo alone.
  const bytes = frame.data;
  const jpeg = jpegSize(frame);
  const target = into?.length === box.width * box.height * 3 ? into : undefined;
  const fast = jpeg && (await turboDecode(bytes, 'rgb24', jpeg, box, target, maxPixels));
  if (fast) return fast;
  // libjpeg-turbo counted the scans itself; libvips does not.
  if (jpegScanCount(bytes, MAX_JPEG_SCANS) > MAX_JPEG_SCANS) throw new ScanLimitError();
  const sharp = await loadSharp();
  const { data, info } = await sharp(bytes, sharpInputOptions(maxPixels))
    .resize(box.width, box.height, { fit: 'contain', background: BLACK })
    .flatten({ background: BLACK })
    .toColourspace('srgb') // greyscale and CMYK JPEGs become three channels too
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== box.width || info.height !== box.height || info.channels !== 3) {
    throw new Error(`decoded ${info.width}x${info.height}x${info.channels}, wanted ${box.width}x${box.height}x3`);
  }
  return data;
}
