/** Cutting ffmpeg's Y4M output into frames: every split point, every header it may write, bad input. */
import { describe, it, expect } from 'vitest';
import { Y4mSplitter, yuv420FrameBytes, type RawFrame } from '../src/source/y4m-splitter.js';
import { SourceError } from '../src/errors.js';
import { runFfmpeg, FFMPEGS } from './helpers/ffmpeg.js';

function frameBytes(width: number, height: number, seed: number): Buffer {
  const planes = Buffer.alloc(yuv420FrameBytes({ width, height }));
  for (let i = 0; i < planes.length; i++) planes[i] = (i * 7 + seed * 13) & 0xff;
  return planes;
}

function stream(header: string, frames: Buffer[], frameLine = 'FRAME'): Buffer {
  return Buffer.concat([Buffer.from(`${header}\n`), ...frames.flatMap((f) => [Buffer.from(`${frameLine}\n`), f])]);
}

function split(bytes: Buffer, cuts: number[]): RawFrame[] {
  const splitter = new Y4mSplitter();
  const out: RawFrame[] = [];
  let at = 0;
  for (const cut of [...cuts, bytes.length]) {
    out.push(...splitter.push(bytes.subarray(at, cut)));
    at = cut;
  }
  splitter.end();
  return out;
}

describe('Y4mSplitter', () => {
  const planes = [frameBytes(5, 3, 1), frameBytes(5, 3, 2)];
  const bytes = stream('YUV4MPEG2 W5 H3 F30:1 Ip A1:1 C420jpeg XYSCSS=420JPEG', planes);

  it('sizes odd frames as ffmpeg does: chroma planes of ceil(w/2) x ceil(h/2)', () => {
    expect(yuv420FrameBytes({ width: 5, height: 3 })).toBe(15 + 2 * 3 * 2);
    expect(yuv420FrameBytes({ width: 640, height: 480 })).toBe(640 * 480 * 1.5);
  });

  it('gives the same frames whatever the chunking: split at every byte, and byte by byte', () => {
    for (let cut = 0; cut <= bytes.length; cut++) {
      const frames = split(bytes, [cut]);
      expect(frames.map((f) => f.planes)).toEqual(planes);
    }
    const oneByOne = split(bytes, Array.from({ length: bytes.length }, (_, i) => i));
    expect(oneByOne.map((f) => [f.width, f.height, f.limitedRange])).toEqual([
      [5, 3, true],
      [5, 3, true],
    ]);
  });

  it('copies each frame into its own buffer: a frame kept while the next arrives stays intact', () => {
    const chunk = Buffer.from(bytes);
    const frames = new Y4mSplitter().push(chunk);
    chunk.fill(0);
    expect(frames.map((f) => f.planes)).toEqual(planes);
  });

  it('fills a released buffer again, and never one a frame still holds', () => {
    const three = [frameBytes(5, 3, 1), frameBytes(5, 3, 2), frameBytes(5, 3, 3)];
    const splitter = new Y4mSplitter();
    const header = Buffer.from('YUV4MPEG2 W5 H3\n');
    const frameOf = (p: Buffer) => Buffer.concat([Buffer.from('FRAME\n'), p]);
    const [a] = splitter.push(Buffer.concat([header, frameOf(three[0]!)]));
    const [b] = splitter.push(frameOf(three[1]!));
    expect(b!.planes).not.toBe(a!.planes); // a is not released: b gets its own
    splitter.release(a!.planes);
    splitter.release(a!.planes); // twice is once
    splitter.release(Buffer.alloc(7)); // not a frame of this stream: ignored
    const [c] = splitter.push(frameOf(three[2]!));
    expect(c!.planes).toBe(a!.planes);
    expect([b!.planes, c!.planes]).toEqual([three[1], three[2]]);
    const [d] = splitter.push(frameOf(three[0]!));
    expect(d!.planes).not.toBe(a!.planes);
    expect(d!.planes).not.toBe(b!.planes);
  });

  it('reads the colour range: limited unless the header says FULL; frame parameters are allowed', () => {
    const full = split(stream('YUV4MPEG2 W5 H3 F25:1 C420mpeg2 XCOLORRANGE=FULL', planes, 'FRAME Ixyz'), []);
    expect(full.map((f) => f.limitedRange)).toEqual([false, false]);
    expect(split(stream('YUV4MPEG2 W5 H3 XCOLORRANGE=LIMITED', planes), [])[0]!.limitedRange).toBe(true);
  });

  it.each([
    ['not Y4M', Buffer.from('\xff\xd8\xff\xe0 a JPEG, say\n', 'latin1'), /not a YUV4MPEG2 stream/],
    ['a 4:2:2 stream', stream('YUV4MPEG2 W4 H2 C422', []), /C422, expected 4:2:0/],
    ['a zero size', stream('YUV4MPEG2 W0 H2', []), /bad frame size 0x2/],
    ['an absurd size', stream('YUV4MPEG2 W100000 H100000', []), /bad frame size/],
    ['junk where a FRAME line belongs', Buffer.concat([stream('YUV4MPEG2 W5 H3', [planes[0]!]), Buffer.from('FRAMX\n')]), /expected a FRAME header/],
    ['a header line without end', Buffer.from(`YUV4MPEG2 ${'x'.repeat(2000)}`), /longer than 1 KB/],
  ])('refuses %s with ERR_Y4M', (_name, input, message) => {
    let error: unknown;
    try {
      split(input, []);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SourceError);
    expect(error).toMatchObject({ code: 'ERR_Y4M' });
    expect((error as Error).message).toMatch(message);
  });

  it('says when the stream ends inside a frame, and accepts an end between frames or before any', () => {
    expect(() => split(bytes.subarray(0, bytes.length - 1), [])).toThrow(/ended inside a frame \(26 of 27 bytes\)/);
    expect(split(Buffer.alloc(0), [])).toEqual([]);
  });

  it.each(FFMPEGS)('reads real ffmpeg output ($name), odd size included', async ({ path }) => {
    const out = await runFfmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=64x48:rate=30', '-vf', 'scale=33:17', '-frames:v', '3', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', 'pipe:1'], path);
    const frames = split(out, [100, 1000]);
    expect(frames).toHaveLength(3);
    expect(frames.every((f) => f.width === 33 && f.height === 17 && f.planes.length === 33 * 17 + 2 * 17 * 9)).toBe(true);
  });
});
