import { loadSharp } from './sharp.js';
import type { Size } from '../source/types.js';

/** Raw pixel layouts `recv --format` writes. */
export type PixelFormat = 'rgb24' | 'bgr24' | 'gray';

export const PIXEL_FORMATS: readonly PixelFormat[] = ['rgb24', 'bgr24', 'gray'];

export function bytesPerPixel(format: PixelFormat): number {
  return format === 'gray' ? 1 : 3;
}

/**
 * Decodes a JPEG to raw pixels of exactly `size` (scaled to fill, like `send --size`), so that
 * a script can read `width * height * bytesPerPixel` bytes per frame. sharp decodes on libuv's
 * thread pool and shrinks on load when the target is smaller than the frame.
 */
export async function decodePixels(jpeg: Buffer, format: PixelFormat, size: Size): Promise<Buffer> {
  const sharp = await loadSharp();
  let pipeline = sharp(jpeg, { failOn: 'none' }).resize(size.width, size.height, { fit: 'fill', fastShrinkOnLoad: true });
  pipeline = format === 'gray' ? pipeline.toColourspace('b-w') : pipeline.removeAlpha().toColourspace('srgb');
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
