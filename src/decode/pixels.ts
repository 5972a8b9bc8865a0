import { loadSharp } from '../native/sharp.js';
import { jpegScanCount } from './jpeg-info.js';
import { MAX_DECODE_PIXELS, turboDecode } from './turbo.js';
import { MAX_JPEG_SCANS, PixelLimitError, ScanLimitError, exceedsPixelLimit, sharpInputOptions } from './limits.js';
import type { Frame, Size } from '../frame/frame.js';

/** Raw pixel layouts `recv --format` writes. */
export type PixelFormat = 'rgb24' | 'bgr24' | 'gray';

export const PIXEL_FORMATS: readonly PixelFormat[] = ['rgb24', 'bgr24', 'gray'];

const LUMA: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.299, 0.587, 0.114],
  [0, 0, 0],
  [0, 0, 0],
];

export function bytesPerPixel(format: PixelFormat): number {
  return format === 'gray' ? 1 : 3;
}

/**
 * Decodes a frame's JPEG to raw pixels of exactly `size` (scaled to fill, like `send --size`), so that
 * a script can read `width * height * bytesPerPixel` bytes per frame. libjpeg-turbo (native/jpeg)
 * does it when the size is the frame's own or 1/2, 1/4, 1/8 of it; sharp does any other size
 * (shrinking on load) and any JPEG libjpeg-turbo cannot decode. Both run on libuv's thread pool.
 * libjpeg-turbo writes into `into` when given (the result is then a view of it); sharp always
 * returns a new Buffer. A JPEG claiming more than `maxPixels` throws `PixelLimitError` before
 * anything is allocated for it, one of more than `MAX_JPEG_SCANS` scans `ScanLimitError`.
 */
export async function decodePixels(frame: Frame, format: PixelFormat, size: Size, into?: Buffer, maxPixels = MAX_DECODE_PIXELS): Promise<Buffer> {
  const jpeg = frame.data;
  const image = jpegSize(frame);
  if (image && exceedsPixelLimit(image, maxPixels)) throw new PixelLimitError(image, maxPixels);
  const fast = image && (await turboDecode(jpeg, format, image, size, into, maxPixels));
  if (fast) return fast;
  // libjpeg-turbo counted the scans itself; libvips does not.
  if (jpegScanCount(jpeg, MAX_JPEG_SCANS) > MAX_JPEG_SCANS) throw new ScanLimitError();
  const sharp = await loadSharp();
  let pipeline = sharp(jpeg, sharpInputOptions(maxPixels)).resize(size.width, size.height, { fit: 'fill', fastShrinkOnLoad: true });
  pipeline = pipeline.removeAlpha().toColourspace('srgb');
  // Grey is BT.601 luma, as a JPEG's own Y channel (the libjpeg-turbo path) and OpenCV have it;
  // libvips' 'b-w' is a different, perceptual, grey.
  if (format === 'gray') pipeline = pipeline.recomb(LUMA).extractChannel(0);
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  const channels = bytesPerPixel(format);
  if (info.width !== size.width || info.height !== size.height || info.channels !== channels) {
    throw new Error(`decoded ${info.width}x${info.height}x${info.channels}, wanted ${size.width}x${size.height}x${channels}`);
  }
  if (format === 'bgr24') swapRedBlue(data);
  return data;
}

/** In place: libvips has no BGR output, and a byte swap is cheaper than a colour matrix. */
export function swapRedBlue(rgb: Buffer): void {
  for (let i = 0; i + 2 < rgb.length; i += 3) {
    const r = rgb[i]!;
    rgb[i] = rgb[i + 2]!;
    rgb[i + 2] = r;
  }
}

/** The size a JPEG frame's header claimed, when it is a JPEG and claimed one. */
export function jpegSize(frame: Frame): Size | undefined {
  if (frame.type !== 'jpeg' || frame.width === undefined || frame.height === undefined) return undefined;
  return { width: frame.width, height: frame.height };
}
