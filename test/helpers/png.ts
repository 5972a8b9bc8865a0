/** Test PNGs: known pixels, and the damaged and lying PNGs a hostile peer sends. */
import sharp from 'sharp';
import { chunkCrc, pngChunks } from '../../src/frame/png-chunks.js';

export type Rgba = [number, number, number, number];

/**
 * A `width`x`height` PNG whose left half is `left` and right half `right` (RGBA), so that
 * one image shows both an opaque colour and what becomes of transparency.
 */
export async function halvesPng(width: number, height: number, left: Rgba, right: Rgba = left, depth: 8 | 16 = 8): Promise<Buffer> {
  const raw = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) Buffer.from(x < width / 2 ? left : right).copy(raw, (y * width + x) * 4);
  }
  const image = sharp(raw, { raw: { width, height, channels: 4 } });
  return (depth === 16 ? image.toColourspace('rgb16') : image).png().toBuffer();
}

/** `png` with its IHDR claiming `width`x`height`, CRC corrected: only a size check can refuse it. */
export function pngClaimingSize(png: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(png);
  const ihdr = pngChunks(copy).next().value!;
  copy.writeUInt32BE(width, ihdr.dataStart);
  copy.writeUInt32BE(height, ihdr.dataStart + 4);
  copy.writeUInt32BE(chunkCrc(copy, ihdr), ihdr.dataEnd);
  return copy;
}

/** `png` with a byte of its image data changed and the CRC left as it was. */
export function pngWithBadCrc(png: Buffer): Buffer {
  const copy = Buffer.from(png);
  const idat = copy.indexOf('IDAT', 8, 'latin1');
  copy[idat + 6] ^= 0x5a;
  return copy;
}
