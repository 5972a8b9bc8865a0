import type { Size } from './fit.js';

import { loadSharp } from '../../decode/sharp.js';
import { jpegDimensions } from '../../decode/jpeg-info.js';
import { turboDecode } from '../../decode/turbo.js';

/**
 * Decodes a JPEG to RGB24 of exactly `box` pixels: the image scaled to fit, aspect kept,
 * centred on black bars. sharp shrinks on load when the box is smaller than the frame, so a
 * 4K frame in a small window costs a fraction of a full decode; and it runs on libuv's
 * thread pool, leaving the event loop free for the network. libjpeg-turbo decodes into `into`
 * when it is given and has exactly the box's size; otherwise the result is a new buffer.
 */
export async function decodeFitted(jpeg: Buffer, box: Size, into?: Buffer): Promise<Buffer> {
  // The usual case, a window at the frame's own size (or 1/2, 1/4, 1/8 of it): no bars, no
  // resampling, libjpeg-turbo alone.
  const image = jpegDimensions(jpeg);
  const target = into?.length === box.width * box.height * 3 ? into : undefined;
  const fast = image && (await turboDecode(jpeg, 'rgb24', image, box, target));
  if (fast) return fast;
  const sharp = await loadSharp();
  const { data, info } = await sharp(jpeg, { failOn: 'none' }) // a damaged live frame is still worth showing
    .resize(box.width, box.height, { fit: 'contain', background: { r: 0, g: 0, b: 0 } })
    .removeAlpha()
    .toColourspace('srgb') // greyscale and CMYK JPEGs become three channels too
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== box.width || info.height !== box.height || info.channels !== 3) {
    throw new Error(`decoded ${info.width}x${info.height}x${info.channels}, wanted ${box.width}x${box.height}x3`);
  }
  return data;
}
