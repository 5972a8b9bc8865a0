/**
 * The multipart/x-mixed-replace parser on its own: the forms real servers write (µStreamer and
 * mjpg-streamer, ffmpeg's mpjpeg, cameras without Content-Length or with their own dashes), cut
 * at seeded random places, give the same JPEGs as whole; hostile bodies fail with one typed
 * error and bounded memory.
 */
import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../tools/lossy-relay.mjs';
import { boundaryOf, MAX_PART_HEADER_BYTES, MultipartJpegParser, parseTimestamp, type MultipartJpeg } from '../src/source/http-mjpeg/multipart-parser.js';

/** A seeded generator, so a failing split can be replayed. */
const random = mulberry32;

/** A JPEG-looking body with CR, LF and dashes inside, as entropy-coded data has. */
function fakeJpeg(next: () => number, size: number): Buffer {
  const body = Buffer.alloc(size);
  for (let i = 0; i < size; i++) body[i] = Math.floor(next() * 256);
  // Bytes a careless parser might take for line ends or a boundary.
  body.write('\r\n--', Math.floor(size / 2), 'latin1');
  Buffer.from([0xff, 0xd8, 0xff, 0xe0]).copy(body, 0);
  Buffer.from([0xff, 0xd9]).copy(body, size - 2);
  return body;
}

interface Form {
  name: string;
  contentType: string;
  build(jpegs: Buffer[]): Buffer;
}

const crlf = (...lines: string[]) => lines.map((line) => `${line}\r\n`).join('');

const FORMS: Form[] = [
  {
    // µStreamer, mjpg-streamer: Content-Type, Content-Length, X-Timestamp.
    name: 'µStreamer',
    contentType: 'multipart/x-mixed-replace;boundary=boundarydonotcross',
    build: (jpegs) =>
      Buffer.concat([
        Buffer.from(crlf('--boundarydonotcross')),
        ...jpegs.flatMap((jpeg, i) => [
          Buffer.from(crlf('Content-Type: image/jpeg', `Content-Length: ${jpeg.length}`, `X-Timestamp: ${1700000000 + i}.250000`, '')),
          jpeg,
          Buffer.from(`\r\n${crlf('--boundarydonotcross')}`),
        ]),
      ]),
  },
  {
    // ffmpeg's mpjpeg muxer: lower-case header names.
    name: 'ffmpeg mpjpeg',
    contentType: 'application/octet-stream',
    build: (jpegs) =>
      Buffer.concat([
        Buffer.from(crlf('--ffmpeg')),
        ...jpegs.flatMap((jpeg) => [Buffer.from(crlf('Content-type: image/jpeg', `Content-length: ${jpeg.length}`, '')), jpeg, Buffer.from(`\r\n${crlf('--ffmpeg')}`)]),
      ]),
  },
  {
    // A camera that declares the dashes and writes parts without Content-Length, closing at the end.
    name: 'no Content-Length, dashes declared',
    contentType: 'multipart/x-mixed-replace; boundary="--myboundary"',
    build: (jpegs) =>
      Buffer.concat([
        Buffer.from('preamble text\r\n\r\n'),
        ...jpegs.flatMap((jpeg) => [Buffer.from(crlf('--myboundary', 'Content-Type: image/jpeg', '')), jpeg, Buffer.from('\r\n')]),
        Buffer.from(crlf('--myboundary--')),
      ]),
  },
  {
    // LF-only lines, the boundary written with two more dashes than declared.
    name: 'LF lines',
    contentType: 'multipart/x-mixed-replace;boundary=frame',
    build: (jpegs) => Buffer.concat(jpegs.flatMap((jpeg) => [Buffer.from(`----frame\nContent-Type: image/jpeg\nContent-Length: ${jpeg.length}\n\n`), jpeg, Buffer.from('\n')])),
  },
];

function parseAll(parser: MultipartJpegParser, chunks: Buffer[]): MultipartJpeg[] {
  const out: MultipartJpeg[] = [];
  for (const chunk of chunks) for (const part of parser.push(chunk)) out.push({ ...part, jpeg: Buffer.from(part.jpeg) });
  return out;
}

/** Comparable quickly: a deep comparison of Buffers goes byte by byte. */
function summary(parts: MultipartJpeg[]): string[] {
  return parts.map((part) => `${part.jpeg.toString('base64')} ${part.timestampMs ?? ''}`);
}

function splitAt(bytes: Buffer, next: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < bytes.length) {
    // Mostly small pieces, sometimes one byte, sometimes large: every boundary case comes up.
    const r = next();
    const size = r < 0.2 ? 1 : r < 0.8 ? 1 + Math.floor(next() * 40) : 1 + Math.floor(next() * 5000);
    chunks.push(Buffer.from(bytes.subarray(at, at + size)));
    at += size;
  }
  return chunks;
}

describe('the multipart parser', () => {
  it.each(FORMS)('gives the same JPEGs however the body is cut ($name)', ({ contentType, build }) => {
    const next = random(42);
    const jpegs = Array.from({ length: 6 }, (_, i) => fakeJpeg(next, 200 + i * 997));
    const body = build(jpegs);
    const whole = summary(parseAll(new MultipartJpegParser(boundaryOf(contentType)), [body]));
    expect(whole.map((line) => line.split(' ')[0])).toEqual(jpegs.map((jpeg) => jpeg.toString('base64')));
    for (let seed = 1; seed <= 60; seed++) {
      const parts = summary(parseAll(new MultipartJpegParser(boundaryOf(contentType)), splitAt(body, random(seed))));
      expect(parts, `seed ${seed}`).toEqual(whole);
    }
  });

  it('takes X-Timestamp as the capture time, in seconds (or milliseconds when too large for seconds)', () => {
    const next = random(7);
    const parts = parseAll(new MultipartJpegParser('boundarydonotcross'), [FORMS[0]!.build([fakeJpeg(next, 100), fakeJpeg(next, 100)])]);
    expect(parts.map((part) => part.timestampMs)).toEqual([1700000000250, 1700000001250]);
    expect(parseTimestamp('1700000000123.5')).toBe(1700000000123.5);
    expect(parseTimestamp('12e3')).toBeUndefined();
    expect(parseTimestamp('-1')).toBeUndefined();
  });

  it('finds the boundary in the Content-Type, quoted or not', () => {
    expect(boundaryOf('multipart/x-mixed-replace;boundary=boundarydonotcross')).toBe('boundarydonotcross');
    expect(boundaryOf('multipart/x-mixed-replace; boundary="--my boundary"; charset=x')).toBe('--my boundary');
    expect(boundaryOf('multipart/x-mixed-replace')).toBeUndefined();
    expect(boundaryOf(`multipart/x-mixed-replace;boundary=${'x'.repeat(500)}`)).toBeUndefined();
  });

  it('leaves out a frame sent again (same bytes, same timestamp) and parts that are not JPEGs', () => {
    const jpeg = fakeJpeg(random(3), 300);
    const part = (body: Buffer, type: string, ts: string) => [Buffer.from(crlf('--b', `Content-Type: ${type}`, `Content-Length: ${body.length}`, `X-Timestamp: ${ts}`, '')), body, Buffer.from('\r\n')];
    const body = Buffer.concat([...part(jpeg, 'image/jpeg', '1.0'), ...part(jpeg, 'image/jpeg', '1.0'), ...part(Buffer.from('motion=1'), 'text/plain', '1.5'), ...part(jpeg, 'image/jpeg', '2.0')]);
    const parts = parseAll(new MultipartJpegParser('b'), [body]);
    expect(parts.map((p) => p.timestampMs)).toEqual([1000, 2000]);
  });

  it('stops at the closing boundary', () => {
    const parser = new MultipartJpegParser('b');
    const jpeg = fakeJpeg(random(5), 100);
    const parts = parseAll(parser, [Buffer.concat([Buffer.from(crlf('--b', '')), jpeg, Buffer.from(`\r\n${crlf('--b--')}trailing epilogue`)])]);
    expect(parts).toHaveLength(1);
    expect(parser.closed).toBe(true);
  });
});

describe('hostile bodies', () => {
  const failure = (parser: MultipartJpegParser, chunks: Iterable<Buffer>) => {
    try {
      for (const chunk of chunks) for (const _ of parser.push(chunk));
    } catch (error) {
      return error as { code: string; message: string };
    }
    return undefined;
  };

  it('refuses a 10 GB Content-Length before keeping any of it', () => {
    const error = failure(new MultipartJpegParser('b', { maxPartBytes: 1 << 20 }), [Buffer.from(crlf('--b', 'Content-Type: image/jpeg', 'Content-Length: 10737418240', ''))]);
    expect(error).toMatchObject({ code: 'ERR_SOURCE_FRAME_TOO_LARGE' });
    expect(error?.message).toMatch(/10737418240 bytes/);
  });

  it('refuses an endless part without Content-Length once it passes the limit', () => {
    const parser = new MultipartJpegParser('b', { maxPartBytes: 1 << 20 });
    let fed = 0;
    function* endless(): Generator<Buffer> {
      yield Buffer.from(crlf('--b', 'Content-Type: image/jpeg', ''));
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      for (;;) {
        fed += chunk.length;
        yield chunk;
      }
    }
    expect(failure(parser, endless())).toMatchObject({ code: 'ERR_SOURCE_FRAME_TOO_LARGE' });
    expect(fed).toBeLessThanOrEqual((1 << 20) + 2 * 64 * 1024);
  });

  it('refuses bytes without a boundary, endless headers and a bad Content-Length', () => {
    const garbage = function* (): Generator<Buffer> {
      for (;;) yield Buffer.alloc(4096, 0x20);
    };
    expect(failure(new MultipartJpegParser('b', { maxGarbageBytes: 100_000 }), garbage())).toMatchObject({ code: 'ERR_MULTIPART' });
    expect(failure(new MultipartJpegParser(undefined, { maxGarbageBytes: 100_000 }), garbage())).toMatchObject({ code: 'ERR_MULTIPART' });
    const headers = function* (): Generator<Buffer> {
      yield Buffer.from(crlf('--b'));
      for (;;) yield Buffer.from(crlf('X-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'));
    };
    expect(failure(new MultipartJpegParser('b'), headers())).toMatchObject({ code: 'ERR_MULTIPART', message: expect.stringContaining(String(MAX_PART_HEADER_BYTES)) });
    expect(failure(new MultipartJpegParser('b'), [Buffer.from(crlf('--b', 'Content-Length: -5', ''))])).toMatchObject({ code: 'ERR_MULTIPART' });
  });

  it('refuses a stream of parts that are never JPEGs', () => {
    const part = Buffer.from(crlf('--b', 'Content-Type: text/plain', 'Content-Length: 5', '', 'hello'));
    expect(failure(new MultipartJpegParser('b'), Array.from({ length: 20 }, () => part))).toMatchObject({ code: 'ERR_MULTIPART' });
  });

  it('finds its way back to the boundary after a part whose Content-Length was short', () => {
    const jpeg = fakeJpeg(random(9), 500);
    const body = Buffer.concat([
      Buffer.from(crlf('--b', 'Content-Length: 400', '')),
      jpeg,
      Buffer.from(`\r\n${crlf('--b', `Content-Length: ${jpeg.length}`, '')}`),
      jpeg,
      Buffer.from('\r\n'),
    ]);
    const parts = parseAll(new MultipartJpegParser('b'), [body]);
    expect(parts.at(-1)?.jpeg).toEqual(jpeg);
  });
});
