import { loadSharp } from '../native/sharp.js';
import { jpegScanCount } from './jpeg-info.js';
import { MAX_DECODE_PIXELS, turboDecode } from './turbo.js';
import { MAX_JPEG_SCANS, PixelLimitError, ScanLimitError, exceedsPixelLimit, sharpInputOptions } from './limits.js';
import type { Frame, ImageType, Size } from '../frame/frame.js';

/** Raw pixel layouts `recv --format` writes. */
export type PixelFormat = 'rgb24' | 'bgr24' | 'gray';

export const PIXEL_FORMATS: readonly PixelFormat[] = ['rgb24', 'bgr24', 'gray'];

/** What a transparent pixel of a PNG becomes: the colour of the window's bars. */
export const BLACK = { r: 0, g: 0, b: 0 };

const LUMA: [[number, number, number], [number, number, number], [number, number, number]] = [
  [0.299, 0.587, 0.114],
  [0, 0, 0],
  [0, 0, 0],
];

export function bytesPerPixel(format: PixelFormat): number {
  return format === 'gray' ? 1 : 3;
}

/**
 * Decodes a frame's JPEG or PNG to raw pixels of exactly `size` (scaled to fill, like `send
 * --size`), so that a script can read `width * height * bytesPerPixel` bytes per frame.
 * libjpeg-turbo (native/jpeg) does it when the size is the frame's own or 1/2, 1/4, 1/8 of it;
 * sharp does any other size (shrinking on load), any JPEG libjpeg-turbo cannot decode, and PNGs
 * (transparency over black, 16-bit channels to 8). Both run on libuv's thread pool.
 * libjpeg-turbo writes into `into` when given (the result is then a view of it); sharp always
 * returns a new Buffer. An image claiming more than `maxPixels` throws `PixelLimitError` before
 * anything is allocated for it, a JPEG of more than `MAX_JPEG_SCANS` scans `ScanLimitError`.
 */
export async function decodePixels(frame: Frame, format: PixelFormat, size: Size, into?: Buffer, maxPixels = MAX_DECODE_PIXELS): Promise<Buffer> {
  const bytes = frame.data;
  const image = imageSize(frame);
  if (image && exceedsPixelLimit(image, maxPixels)) throw new PixelLimitError(image, maxPixels);
  const jpeg = jpegSize(frame);
  const fast = jpeg && (await turboDecode(bytes, format, jpeg, size, into, maxPixels));
  if (fast) return fast;
  // libjpeg-turbo counted the scans itself; libvips does not.
  if (jpegScanCount(bytes, MAX_JPEG_SCANS) > MAX_JPEG_SCANS) throw new ScanLimitError();
  const sharp = await loadSharp();
  let pipeline = sharp(bytes, sharpInputOptions(maxPixels)).resize(size.width, size.height, { fit: 'fill', fastShrinkOnLoad: true });
  pipeline = pipeline.flatten({ background: BLACK }).toColourspace('srgb');
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
  return frame.type === 'jpeg' ? imageSize(frame) : undefined;
}

/** Why a frame has no size a decoder could be held to, by what its first bytes say it is. */
export function noSizeReason(type: ImageType): string {
  if (type === 'jpeg') return 'no JPEG frame header (SOF) with a size';
  return type === 'png' ? 'no PNG header (IHDR) with a size' : 'neither a JPEG nor a PNG';
}

/**
 * The size the header of a frame the decoders take (JPEG or PNG) claimed, when it claimed one:
 * what the pixel limit is checked against before anything is decoded.
 */
export function imageSize(frame: Frame): Size | undefined {
  if (frame.type === 'other' || frame.width === undefined || frame.height === undefined) return undefined;
  return { width: frame.width, height: frame.height };
}
