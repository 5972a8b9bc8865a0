import { beforeAll, describe, expect, it } from 'vitest';
import { SourceError } from '../src/errors.js';
import { MjpegSplitter, type MjpegSplitterOptions } from '../src/source/mjpeg-splitter.js';
import { imageInfo, makeJpeg, withExifThumbnail } from './helpers/jpeg.js';

function split(chunks: Buffer[], options?: MjpegSplitterOptions): Buffer[] {
  const splitter = new MjpegSplitter(options);
  const frames = chunks.flatMap((chunk) => splitter.push(chunk));
  splitter.end();
  return frames;
}

/** Buffer.equals per frame: vitest's deep equality is far too slow for thousands of comparisons. */
function same(actual: Buffer[], expected: Buffer[]): boolean {
  return actual.length === expected.length && actual.every((frame, i) => frame.equals(expected[i]!));
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

/** Bytes of a JPEG-shaped frame whose segments and scan data are built by hand. */
function handmadeFrame(): Buffer {
  const segment = (code: number, payload: Buffer): Buffer => {
    const header = Buffer.from([0xff, code, 0, 0]);
    header.writeUInt16BE(payload.length + 2, 2);
    return Buffer.concat([header, payload]);
  };
  return Buffer.concat([
    Buffer.from([0xff, 0xd8]),
    segment(0xe0, Buffer.from('JFIF\0 with an FFD9 inside: \xff\xd9 and an SOI \xff\xd8', 'latin1')),
    segment(0xfe, Buffer.from([0xff, 0xd9, 0xff, 0xd9])), // a comment holding EOIs
    segment(0xda, Buffer.from([1, 1, 0, 0, 63, 0])),
    // Scan data: stuffed FF00, every RSTn, and fill bytes before a marker.
    Buffer.from([0x12, 0xff, 0x00, 0x34, 0xff, 0xd0, 0x56, 0xff, 0xd3, 0xff, 0x00, 0xff, 0xd7, 0x78]),
    Buffer.from([0xff, 0xff, 0xff, 0xd9]),
  ]);
}

let frames: Buffer[];
let stream: Buffer;

beforeAll(async () => {
  const exif = withExifThumbnail(await makeJpeg({ width: 48, height: 32 }), await makeJpeg({ width: 16, height: 12 }));
  frames = [
    await makeJpeg({ width: 64, height: 48 }),
    await makeJpeg({ width: 40, height: 30, progressive: true }),
    await makeJpeg({ width: 32, height: 32, noise: false }),
    exif,
    handmadeFrame(),
  ];
  stream = Buffer.concat(frames);
});

describe('MjpegSplitter', () => {
  it('test frames contain what a naive FFD9 search gets wrong', () => {
    const [noisy, progressive, , exif] = frames;
    expect(noisy!.includes(Buffer.from([0xff, 0x00]))).toBe(true); // byte stuffing
    expect(progressive!.subarray(2).indexOf(Buffer.from([0xff, 0xda])) < progressive!.lastIndexOf(Buffer.from([0xff, 0xda]))).toBe(true);
    expect(exif!.indexOf(Buffer.from([0xff, 0xd9]))).toBeLessThan(exif!.length - 2); // the thumbnail's EOI
  });

  it('splits frames that arrive in one buffer', () => {
    expect(same(split([stream]), frames)).toBe(true);
  });

  it('splits at every byte boundary', () => {
    const failures: number[] = [];
    for (let at = 0; at <= stream.length; at++) {
      if (!same(split([stream.subarray(0, at), stream.subarray(at)]), frames)) failures.push(at);
    }
    expect(failures).toEqual([]);
  });

  it('splits a stream fed one byte at a time', () => {
    const bytes = [...stream].map((byte) => Buffer.from([byte]));
    expect(same(split(bytes), frames)).toBe(true);
  });

  it('splits thousands of frames in one buffer', () => {
    const many = Array.from({ length: 2000 }, (_, i) => frames[i % frames.length]!);
    const out = split([Buffer.concat(many)]);
    expect(same(out, many)).toBe(true);
  });

  it('keeps an EXIF thumbnail inside its frame, and the frame decodes', async () => {
    const exif = frames[3]!;
    const [out] = split([exif.subarray(0, 100), exif.subarray(100)]);
    expect(out).toEqual(exif);
    expect(await imageInfo(out!)).toMatchObject({ width: 48, height: 32 });
  });

  it('hands back a frame within one chunk without copying it', () => {
    const [out] = split([stream]);
    expect(out!.buffer).toBe(stream.buffer);
  });

  it('skips garbage before, between and after frames, including false SOIs', () => {
    const garbage = Buffer.from('junk \xff\xd9 \xff\xd8 not a marker \xff\xff\xd8\x00 \xff', 'latin1');
    const out = split([garbage, frames[0]!, garbage, frames[1]!, garbage]);
    expect(out).toEqual([frames[0], frames[1]]);
  });

  it('drops a frame cut short by the next SOI and keeps the next one', () => {
    const [a, b] = frames;
    expect(split([a!.subarray(0, a!.length >> 1), b!])).toEqual([b]);
  });

  it('reports a truncated last frame at the end, after the complete ones', () => {
    const splitter = new MjpegSplitter();
    const [a, b] = frames;
    expect(splitter.push(Buffer.concat([a!, b!.subarray(0, 50)]))).toEqual([a]);
    const error = thrown(() => splitter.end());
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('ERR_SOURCE_TRUNCATED_FRAME');
  });

  it('rejects a frame over maxFrameBytes', () => {
    const error = thrown(() => split([frames[0]!], { maxFrameBytes: 1000 }));
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('ERR_SOURCE_FRAME_TOO_LARGE');
  });

  it('gives up on an endless frame once it passes the limit, before buffering more', () => {
    const splitter = new MjpegSplitter({ maxFrameBytes: 1 << 20 });
    const header = handmadeFrame().subarray(0, handmadeFrame().indexOf(Buffer.from([0xff, 0xda])) + 8);
    splitter.push(header);
    const scan = Buffer.alloc(64 * 1024, 0x11);
    let pushed = 0;
    const error = thrown(() => {
      for (;;) {
        splitter.push(scan);
        pushed += scan.length;
      }
    });
    expect((error as SourceError).code).toBe('ERR_SOURCE_FRAME_TOO_LARGE');
    expect(pushed).toBeLessThanOrEqual(1 << 20);
  });

  it('gives up on input with no JPEG in it', () => {
    const splitter = new MjpegSplitter({ maxGarbageBytes: 256 * 1024 });
    const text = Buffer.from('not a jpeg\n'.repeat(1000));
    let pushed = 0;
    const error = thrown(() => {
      for (;;) {
        splitter.push(text);
        pushed += text.length;
      }
    });
    expect(error).toBeInstanceOf(SourceError);
    expect((error as SourceError).code).toBe('ERR_NOT_MJPEG');
    expect(pushed).toBeLessThanOrEqual(256 * 1024);
  });

  it('ends quietly after trailing bytes that start no frame', () => {
    expect(split([frames[0]!, Buffer.from('\n')])).toEqual([frames[0]]);
  });
});
