import { describe, expect, it } from 'vitest';
import { decodeBmp, isBmp } from '../src/encode/bmp.js';
import { encodeJpeg } from '../src/encode/jpeg.js';
import { imageInfo, makeBmp24 } from './helpers/jpeg.js';

/** A BMP with a 40-byte info header and the given pixel bits (rows already padded). */
function bmp(width: number, height: number, bpp: number, compression: number, extra: Buffer, pixels: Buffer, colours = 0): Buffer {
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(54 + extra.length + pixels.length, 2);
  header.writeUInt32LE(54 + extra.length, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(width, 18);
  header.writeInt32LE(height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(bpp, 28);
  header.writeUInt32LE(compression, 30);
  header.writeUInt32LE(colours, 46);
  return Buffer.concat([header, extra, pixels]);
}

const rgb = (image: { data: Buffer }): number[] => [...image.data];

describe('decodeBmp', () => {
  it('reads 24-bit bottom-up rows', () => {
    const image = decodeBmp(makeBmp24(2, 2, (x, y) => [x * 100, y * 100, 7]));
    expect(image).toMatchObject({ width: 2, height: 2, channels: 3 });
    expect(rgb(image)).toEqual([0, 0, 7, 100, 0, 7, 0, 100, 7, 100, 100, 7]);
  });

  it('reads top-down rows (negative height)', () => {
    // One row per pixel: blue then green, stored top row first.
    const rows = Buffer.from([255, 0, 0, 0, 0, 255, 0, 0]);
    expect(rgb(decodeBmp(bmp(1, -2, 24, 0, Buffer.alloc(0), rows)))).toEqual([0, 0, 255, 0, 255, 0]);
  });

  it('reads 8-bit palette images', () => {
    const palette = Buffer.from([0, 0, 255, 0, 0, 255, 0, 0]); // red, green (BGRx)
    const pixels = Buffer.from([1, 0, 0, 0]); // one row: green, red, padding
    expect(rgb(decodeBmp(bmp(2, 1, 8, 0, palette, pixels, 2)))).toEqual([0, 255, 0, 255, 0, 0]);
  });

  it('reads 1-bit images', () => {
    const palette = Buffer.from([0, 0, 0, 0, 255, 255, 255, 0]);
    const pixels = Buffer.from([0b10100000, 0, 0, 0]);
    expect(rgb(decodeBmp(bmp(3, 1, 1, 0, palette, pixels)))).toEqual([255, 255, 255, 0, 0, 0, 255, 255, 255]);
  });

  it('reads 32-bit BI_BITFIELDS and 16-bit 5-5-5', () => {
    const masks = Buffer.alloc(12);
    masks.writeUInt32LE(0x000000ff, 0); // red in the low byte
    masks.writeUInt32LE(0x0000ff00, 4);
    masks.writeUInt32LE(0x00ff0000, 8);
    expect(rgb(decodeBmp(bmp(1, 1, 32, 3, masks, Buffer.from([10, 20, 30, 0]))))).toEqual([10, 20, 30]);
    const pixel = Buffer.alloc(4);
    pixel.writeUInt16LE((31 << 10) | (0 << 5) | 31, 0);
    expect(rgb(decodeBmp(bmp(1, 1, 16, 0, Buffer.alloc(0), pixel)))).toEqual([255, 0, 255]);
  });

  it('refuses RLE and truncated files with a clear message', () => {
    expect(() => decodeBmp(bmp(1, 1, 8, 1, Buffer.alloc(8), Buffer.alloc(4)))).toThrow(/compressed BMP/);
    expect(() => decodeBmp(makeBmp24(4, 4, () => [0, 0, 0]).subarray(0, 60))).toThrow(/truncated/);
    expect(isBmp(Buffer.from('not a bitmap at all, no'))).toBe(false);
  });

  it('becomes a JPEG through encodeJpeg', async () => {
    const jpeg = await encodeJpeg(makeBmp24(10, 6, () => [200, 10, 10]), { quality: 80 });
    expect(await imageInfo(jpeg)).toMatchObject({ width: 10, height: 6, format: 'jpeg' });
  });
});
