import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { imageInfo, jpegDimensions } from '../src/frame/image-info.js';
import { frame } from '../src/frame/framer.js';

function image(width: number, height: number): ReturnType<typeof sharp> {
  return sharp({ create: { width, height, channels: 3, background: '#124' } });
}

/** A minimal header: SOI, one segment with the given marker and payload, EOI. */
function synthetic(marker: number, payload: number[]): Buffer {
  const length = payload.length + 2;
  return Buffer.from([0xff, 0xd8, 0xff, marker, length >> 8, length & 0xff, ...payload, 0xff, 0xd9]);
}

/** SOFn payload: precision 8, height, width, one component. */
function sof(width: number, height: number): number[] {
  return [8, height >> 8, height & 0xff, width >> 8, width & 0xff, 1, 1, 0x11, 0];
}

describe('jpegDimensions', () => {
  it('reads baseline and progressive JPEGs as sharp sees them', async () => {
    for (const [width, height] of [
      [64, 48],
      [1, 1],
      [1000, 3],
      [3, 1000],
      [4000, 2250],
    ] as const) {
      for (const progressive of [false, true]) {
        const jpeg = await image(width, height).jpeg({ progressive }).toBuffer();
        const marker = progressive ? 0xc2 : 0xc0;
        expect(jpeg.includes(Buffer.from([0xff, marker]))).toBe(true);
        expect(jpegDimensions(jpeg)).toEqual({ width, height });
      }
    }
  });

  it('is not fooled by our metadata segment or by Exif', async () => {
    const jpeg = await image(640, 480).jpeg().withMetadata().toBuffer();
    const tagged = Buffer.concat(frame(jpeg, { seq: 1, captureTime: 1, label: '\xff\xc0\x00\x11' }).slice(1));
    expect(jpegDimensions(tagged)).toEqual({ width: 640, height: 480 });
  });

  it('reads every SOFn and skips DHT, JPG and DAC, which share the range', () => {
    for (let marker = 0xc0; marker <= 0xcf; marker++) {
      const expected = marker === 0xc4 || marker === 0xc8 || marker === 0xcc ? undefined : { width: 300, height: 200 };
      expect(jpegDimensions(synthetic(marker, sof(300, 200)))).toEqual(expected);
    }
    const dhtFirst = Buffer.concat([synthetic(0xc4, sof(1, 1)).subarray(0, -2), synthetic(0xc0, sof(300, 200)).subarray(2)]);
    expect(jpegDimensions(dhtFirst)).toEqual({ width: 300, height: 200 });
  });

  it('gives undefined rather than throwing for anything else', async () => {
    const real = await image(64, 48).jpeg().toBuffer();
    const sofAt = real.indexOf(Buffer.from([0xff, 0xc0]));
    const cases: Buffer[] = [
      Buffer.alloc(0),
      Buffer.from('not a jpeg at all'),
      Buffer.from([0xff, 0xd8]),
      real.subarray(0, sofAt + 6), // cut inside the SOF
      synthetic(0xc0, [8, 0, 48]), // SOF too short for the dimensions
      synthetic(0xc0, sof(64, 0)), // height deferred to DNL
      synthetic(0xc0, sof(0, 48)),
      Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0x00, 0x01, 8, 0, 48, 0, 64]), // length < 2
      Buffer.from([0xff, 0xd8, 0xff, 0xc0, 0xff, 0xff, 8, 0, 48, 0, 64]), // length past the end
      Buffer.from([0xff, 0xd8, 0xff, 0xda, 0x00, 0x08, 0xff, 0xc0, 0x00, 0x0b, ...sof(64, 48)]), // after SOS
      Buffer.from([0xff, 0xd8, 0x00, 0xff, 0xc0, 0x00, 0x0b, ...sof(64, 48)]), // garbage between segments
    ];
    for (const bytes of cases) expect(jpegDimensions(bytes)).toBeUndefined();
  });
});

describe('imageInfo', () => {
  it('reads the type from the magic bytes and the size from the JPEG SOF or the PNG IHDR', async () => {
    expect(imageInfo(await image(64, 48).jpeg().toBuffer())).toEqual({ type: 'jpeg', width: 64, height: 48 });
    expect(imageInfo(await image(17, 300).png().toBuffer())).toEqual({ type: 'png', width: 17, height: 300 });
    expect(imageInfo(Buffer.from('GIF89a'))).toEqual({ type: 'other' });
    expect(imageInfo(Buffer.alloc(0))).toEqual({ type: 'other' });
    // A type without a size: what a truncated header still tells.
    expect(imageInfo(Buffer.from([0xff, 0xd8, 0xff, 0xe0]))).toEqual({ type: 'jpeg' });
    expect(imageInfo(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0]))).toEqual({ type: 'png' });
  });
});
