import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { frame } from '../src/frame/framer.js';
import { readMetadata } from '../src/frame/metadata.js';
import { DEFAULT_MAX_FRAME_BYTES, TcpFrameParser, TcpFrameWritable, type TcpFrameParserOptions } from '../src/reassemble/tcp-parser.js';

interface Parsed {
  frames: Buffer[];
  error?: Error;
}

/** Writes each chunk to a fresh TcpFrameWritable, ends it, and collects frames and the error. */
async function parse(chunks: Buffer[], options?: TcpFrameParserOptions & { end?: boolean }): Promise<Parsed> {
  const parser = new TcpFrameWritable(options);
  const frames: Buffer[] = [];
  parser.on('frame', (payload) => frames.push(payload));
  const done = new Promise<Error | undefined>((resolve) => {
    parser.on('error', resolve);
    parser.on('finish', () => resolve(undefined));
  });
  for (const chunk of chunks) parser.write(chunk);
  if (options?.end !== false) parser.end();
  const error = await done;
  return error === undefined ? { frames } : { frames, error };
}

function expectProtocolError(error: Error | undefined, code: string): ProtocolError {
  expect(error).toBeInstanceOf(ProtocolError);
  expect((error as ProtocolError).code).toBe(code);
  expect(error!.message).not.toMatch(/\n/);
  return error as ProtocolError;
}

function wire(parts: Buffer[][]): Buffer {
  return Buffer.concat(parts.flat());
}

function payloadOf(parts: Buffer[]): Buffer {
  return Buffer.concat(parts.slice(1));
}

function oneByteChunks(buf: Buffer): Buffer[] {
  return Array.from({ length: buf.length }, (_, i) => buf.subarray(i, i + 1));
}

let small: Buffer;
let noisy: Buffer;

beforeAll(async () => {
  small = await sharp({ create: { width: 64, height: 48, channels: 3, background: '#f00' } }).jpeg().toBuffer();
  // Bigger than Buffer.poolSize, so zero-copy checks cannot pass by sharing the pool slab.
  noisy = await sharp({
    create: { width: 320, height: 240, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } },
  })
    .jpeg({ quality: 90 })
    .toBuffer();
});

describe('TcpFrameWritable on streams from the real framer', () => {
  it('parses a multi-frame stream split at every byte boundary', async () => {
    const frames = [
      frame(small),
      frame(small, { seq: 0, captureTime: 1_700_000_000_123.5, label: 'cam-ü' }),
      frame(Buffer.from('not a jpeg: the parser does not care')),
      frame(small, { seq: 1, captureTime: 1_700_000_000_456, name: '10.png' }),
    ];
    const stream = wire(frames);
    const expected = frames.map(payloadOf);
    for (let cut = 0; cut <= stream.length; cut++) {
      const { frames: got, error } = await parse([stream.subarray(0, cut), stream.subarray(cut)]);
      expect(error).toBeUndefined();
      expect(got).toEqual(expected);
    }
  });

  it('parses a stream written one byte per chunk', async () => {
    const frames = [frame(small, { seq: 0, captureTime: 1 }), frame(small), frame(small, { seq: 1, captureTime: 2 })];
    const { frames: got, error } = await parse(oneByteChunks(wire(frames)));
    expect(error).toBeUndefined();
    expect(got).toEqual(frames.map(payloadOf));
    expect(readMetadata(got[2]!)).toEqual({ seq: 1, captureTime: 2 });
  });

  it('parses through pipeline() from a Readable of single bytes', async () => {
    const frames = [frame(noisy, { seq: 7, captureTime: 3 }), frame(small)];
    const parser = new TcpFrameWritable();
    const got: Buffer[] = [];
    parser.on('frame', (payload) => got.push(payload));
    await pipeline(Readable.from(oneByteChunks(wire(frames))), parser);
    expect(got).toEqual(frames.map(payloadOf));
  });

  it('stays linear for a large payload arriving one byte at a time', () => {
    // Quadratic re-concatenation would copy ~2^37 bytes here and blow the test timeout.
    const payload = Buffer.alloc(512 * 1024, 0xab);
    const stream = wire([frame(payload)]);
    const parser = new TcpFrameParser();
    const got: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1), (p) => got.push(p));
    expect(got).toHaveLength(1);
    expect(got[0]!.equals(payload)).toBe(true);
    expect(parser.pendingBytes).toBe(0);
  });

  it('holds about the bytes it buffered when they arrive one byte per chunk, not an object per byte', () => {
    const declared = 4 * 1024 * 1024;
    const received = 1_000_000;
    const parser = new TcpFrameParser();
    const stream = Buffer.concat([Buffer.from(String(declared).padEnd(16)), Buffer.alloc(received, 0x5a)]);
    const before = process.memoryUsage();
    for (let i = 0; i < stream.length; i++) parser.push(stream.subarray(i, i + 1), () => {});
    const after = process.memoryUsage();
    expect(parser.pendingBytes).toBe(stream.length);
    expect(parser.retainedBytes).toBeGreaterThanOrEqual(received);
    expect(parser.retainedBytes).toBeLessThan(received + 32 * 1024);
    // A kept Buffer object per byte costs ~100 MB of heap here.
    const grown = after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers);
    expect(grown).toBeLessThan(40 * 1024 * 1024);
  });

  it('refuses a frame its onHeader hook throws for, before any payload', () => {
    const parser = new TcpFrameParser({
      onHeader: (length) => {
        if (length > 100) throw new ProtocolError(`no room for ${length} bytes`, 'ERR_FRAME_TOO_LARGE');
      },
    });
    const got: Buffer[] = [];
    parser.push(wire([frame(Buffer.alloc(100, 1))]), (p) => got.push(p));
    expect(got).toHaveLength(1);
    expect(() => parser.push(Buffer.from('101             x'), (p) => got.push(p))).toThrow(/no room for 101 bytes/);
    expect(parser.retainedBytes).toBe(0);
  });

  it('parses thousands of frames from one buffer, each without a copy', async () => {
    const count = 5000;
    const input = wire(Array.from({ length: count }, (_, seq) => frame(small, { seq, captureTime: seq * 33.3 })));
    const { frames: got, error } = await parse([input]);
    expect(error).toBeUndefined();
    expect(got).toHaveLength(count);
    got.forEach((payload, seq) => {
      expect(payload.buffer).toBe(input.buffer);
      expect(readMetadata(payload)?.seq).toBe(seq);
    });
  });

  it('hands out a subarray of the input when a frame arrives in one chunk', async () => {
    const input = wire([frame(noisy)]);
    const { frames: got } = await parse([input]);
    expect(got[0]!.buffer).toBe(input.buffer);
    expect(got[0]!.byteOffset).toBe(input.byteOffset + 16);
    expect(got[0]!.equals(noisy)).toBe(true);
  });

  it('copies a payload spread over chunks exactly into a fresh buffer', async () => {
    const input = wire([frame(noisy)]);
    const mid = 16 + 1000;
    const first = Buffer.from(input.subarray(0, mid));
    const second = Buffer.from(input.subarray(mid));
    const { frames: got } = await parse([first, second]);
    expect(got[0]!.buffer).not.toBe(first.buffer);
    expect(got[0]!.buffer).not.toBe(second.buffer);
    expect(got[0]!.equals(noisy)).toBe(true);
  });
});

describe('TcpFrameWritable header variants', () => {
  const body = Buffer.from('0123456789');
  const variants: [string, string][] = [
    ['left-aligned, spaces', '10              '],
    ['right-aligned, spaces', '              10'],
    ['left-aligned, NULs', '10' + '\0'.repeat(14)],
    ['right-aligned, NULs', '\0'.repeat(14) + '10'],
    ['mixed padding', '\0 \0 \0 \0 10\0 \0 \0 '],
    ['16 digits exactly', '0000000000000010'],
  ];
  for (const [name, text] of variants) {
    it(name, async () => {
      const header = Buffer.from(text, 'latin1');
      const { frames: got, error } = await parse([header, body, header, body]);
      expect(error).toBeUndefined();
      expect(got).toEqual([body, body]);
    });
  }
});

describe('TcpFrameWritable rejects malformed input', () => {
  const bad: [string, string, string][] = [
    ['letters', 'abc             ', 'ERR_BAD_HEADER'],
    ['plus sign', '+10             ', 'ERR_BAD_HEADER'],
    ['minus sign', '-10             ', 'ERR_BAD_HEADER'],
    ['inner space', '1 0             ', 'ERR_BAD_HEADER'],
    ['all spaces', ' '.repeat(16), 'ERR_BAD_HEADER'],
    ['all NULs', '\0'.repeat(16), 'ERR_BAD_HEADER'],
    ['newline', '10\n             ', 'ERR_BAD_HEADER'],
    ['tab', '\t10             ', 'ERR_BAD_HEADER'],
    ['high byte', '10\x80             ', 'ERR_BAD_HEADER'],
    ['zero', '0               ', 'ERR_EMPTY_FRAME'],
  ];
  for (const [name, text, code] of bad) {
    it(`${name} -> ${code}, after the good frames before it`, async () => {
      const good = wire([frame(small)]);
      const { frames: got, error } = await parse([good, Buffer.from(text, 'latin1'), good]);
      expectProtocolError(error, code);
      expect(got).toEqual([small]);
    });
  }

  it('an oversize length, before any payload arrives', async () => {
    const { frames: got, error } = await parse([Buffer.from('1001            ')], { maxFrameBytes: 1000, end: false });
    const err = expectProtocolError(error, 'ERR_FRAME_TOO_LARGE');
    expect(err.message).toContain('1000');
    expect(got).toEqual([]);
  });

  it('the default limit', async () => {
    const header = Buffer.from(String(DEFAULT_MAX_FRAME_BYTES + 1).padEnd(16));
    expectProtocolError((await parse([header], { end: false })).error, 'ERR_FRAME_TOO_LARGE');
    const parser = new TcpFrameParser();
    parser.push(Buffer.from(String(DEFAULT_MAX_FRAME_BYTES).padEnd(16)), () => {});
    expect(parser.pendingBytes).toBe(16);
  });

  it('stops parsing after an error', () => {
    const parser = new TcpFrameParser();
    const got: Buffer[] = [];
    expect(() => parser.push(Buffer.from('x'.repeat(16)), (p) => got.push(p))).toThrow(ProtocolError);
    expect(() => parser.push(wire([frame(small)]), (p) => got.push(p))).toThrow(ProtocolError);
    expect(got).toEqual([]);
  });

  it('a stream that ends mid-payload', async () => {
    const stream = wire([frame(small), frame(small)]);
    const { frames: got, error } = await parse([stream.subarray(0, stream.length - 5)]);
    const err = expectProtocolError(error, 'ERR_TRUNCATED_FRAME');
    expect(err.message).toContain(`${small.length - 5} of ${small.length} payload bytes`);
    expect(got).toEqual([small]);
  });

  it('a stream that ends mid-header', async () => {
    const { error } = await parse([Buffer.from('12  ')]);
    expect(expectProtocolError(error, 'ERR_TRUNCATED_FRAME').message).toContain('4 of 16 header bytes');
  });

  it('a stream that ends between frames is fine, and so is an empty one', async () => {
    expect((await parse([wire([frame(small)])])).error).toBeUndefined();
    expect((await parse([])).error).toBeUndefined();
    expect((await parse([Buffer.alloc(0)])).error).toBeUndefined();
  });

  it('reports pending bytes for a truncation message', () => {
    const parser = new TcpFrameParser();
    parser.push(Buffer.from('10              01234'), () => {});
    expect(parser.pendingBytes).toBe(21);
    expect(() => parser.end()).toThrow(/5 of 10 payload bytes/);
  });

  it('refuses a nonsensical limit', () => {
    for (const maxFrameBytes of [0, -1, 1.5, Number.NaN]) {
      expect(() => new TcpFrameWritable({ maxFrameBytes })).toThrow(RangeError);
    }
  });
});
