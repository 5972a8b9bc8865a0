import { describe, expect, it } from 'vitest';
import { ProtocolError, UsageError } from '../src/errors.js';
import { frameMeta } from '../src/frame/frame-meta.js';
import { frame, tcpFrame } from '../src/frame/framer.js';
import { encodeHeader } from '../src/frame/header.js';
import { makeFrame } from '../src/frame/image-info.js';
import { LEGACY_PIECE_BYTES, legacyLengthDatagram, legacyPieces, readLegacyLength } from '../src/frame/legacy-udp.js';
import { metadataInsertOffset, metadataSegment, readMetadata } from '../src/frame/metadata.js';
import { PartsCursor, partsLength, payloadParts } from '../src/frame/payload.js';
import { DatagramType, encodeDatagramHeader, splitFrame, UDP_HEADER_SIZE } from '../src/frame/udp-datagram.js';
import type { FrameMeta } from '../src/frame/frame.js';

const META: FrameMeta = { seq: 12, captureTime: 1_731_000_000_123.5, label: 'cam 📷', name: 'a.jpg', live: true };
const JFIF_APP0 = Buffer.from('ffe000104a46494600010100000100010000', 'hex');

/** Deterministic bytes that differ at every offset modulo 251, so a misplaced slice shows. */
function bytes(length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = i % 251;
  return buf;
}

/** A JPEG-shaped buffer: SOI, a JFIF APP0, `body` bytes, EOI. Over Buffer.poolSize so sharing is no accident of the pool. */
function jpeg(body = 20_000): Buffer {
  return Buffer.concat([Buffer.from([0xff, 0xd8]), JFIF_APP0, bytes(body), Buffer.from([0xff, 0xd9])]);
}

/** What the senders sent before the payload was built in one place: the JPEG copied once with the segment spliced in. */
function referencePayload(image: Buffer, meta?: FrameMeta): Buffer {
  if (meta === undefined) return image;
  const at = metadataInsertOffset(image);
  return Buffer.concat([image.subarray(0, at), metadataSegment(meta), image.subarray(at)]);
}

/** The UDP datagrams as the sender cut them from one contiguous payload. */
function referenceDatagrams(payload: Buffer, streamId: number, frameSeq: number, packetSize: number): Buffer[] {
  const pieceSize = packetSize - UDP_HEADER_SIZE;
  const pieceCount = Math.ceil(payload.length / pieceSize);
  const out: Buffer[] = [];
  for (let index = 0; index < pieceCount; index++) {
    const offset = index * pieceSize;
    const header = encodeDatagramHeader({ type: DatagramType.PIECE, streamId, frameSeq, pieceIndex: index, pieceCount, frameLength: payload.length, offset });
    out.push(Buffer.concat([header, payload.subarray(offset, offset + pieceSize)]));
  }
  return out;
}

function expectViews(slices: readonly Buffer[], owners: readonly Buffer[]): void {
  for (const slice of slices) expect(owners.map((o) => o.buffer)).toContain(slice.buffer);
}

describe('payloadParts', () => {
  it('is the JPEG with the segment after APP0, byte for byte what the senders sent before, in three views', () => {
    const image = jpeg();
    const parts = payloadParts(image, META);
    expect(parts).toHaveLength(3);
    expect(Buffer.concat(parts).equals(referencePayload(image, META))).toBe(true);
    expect(parts[0]!.buffer).toBe(image.buffer);
    expect(parts[2]!.buffer).toBe(image.buffer);
    expect(parts[0]!.length).toBe(2 + JFIF_APP0.length);
    expect(readMetadata(Buffer.concat(parts))).toEqual(META);
  });

  it("replaces a segment another vstream put there, in its place, as views of the image", () => {
    const image = jpeg();
    const relayed = Buffer.concat(payloadParts(image, { seq: 1, captureTime: 5, label: 'first hop' }));
    const parts = payloadParts(relayed, META);
    expect(parts).toHaveLength(3);
    expect(Buffer.concat(parts).equals(referencePayload(image, META))).toBe(true);
    expect(parts[0]!.buffer).toBe(relayed.buffer);
    expect(parts[2]!.buffer).toBe(relayed.buffer);
    expect(readMetadata(Buffer.concat(parts))).toEqual(META);
  });

  it('without metadata is the bytes themselves, from a buffer or a frame', () => {
    const image = jpeg();
    expect(payloadParts(image)).toEqual([image]);
    expect(payloadParts(makeFrame(image))[0]).toBe(image);
  });

  it('refuses to put metadata into bytes that are not a JPEG', () => {
    expect(() => payloadParts(Buffer.from('not a jpeg'), META)).toThrow(ProtocolError);
    expect(() => payloadParts(Buffer.from('not a jpeg'), META)).toThrow(expect.objectContaining({ code: 'ERR_NOT_JPEG' }));
  });
});

describe('TCP framing from the payload', () => {
  it('is the 16-byte header then the payload, as before, without copying the JPEG', () => {
    const image = jpeg();
    for (const meta of [META, undefined]) {
      const parts = frame(image, meta);
      const expected = referencePayload(image, meta);
      expect(Buffer.concat(parts).equals(Buffer.concat([encodeHeader(expected.length), expected]))).toBe(true);
      expect(tcpFrame(payloadParts(image, meta)).map((p) => p.toString('hex'))).toEqual(parts.map((p) => p.toString('hex')));
      expect(parts.slice(1).filter((p) => p.buffer === image.buffer)).toHaveLength(meta ? 2 : 1);
    }
  });
});

describe('UDP datagrams from the payload', () => {
  it('are byte-identical to datagrams cut from the payload copied into one buffer', () => {
    const image = jpeg(50_000);
    const parts = payloadParts(image, META);
    for (const packetSize of [64, 1200, 9000, 65_507]) {
      const datagrams = splitFrame(parts, { streamId: 0xdeadbeef, frameSeq: 41, packetSize });
      const expected = referenceDatagrams(referencePayload(image, META), 0xdeadbeef, 41, packetSize);
      expect(datagrams.map((d) => Buffer.concat(d).toString('hex'))).toEqual(expected.map((d) => d.toString('hex')));
      for (const [, ...slices] of datagrams) expectViews(slices, [image, parts[1]!]);
    }
  });
});

describe('legacy UDP pieces from the payload', () => {
  it('are byte-identical to pieces cut from the payload copied into one buffer, and views of the JPEG or segment', () => {
    const image = jpeg(30_000);
    const parts = payloadParts(image, META);
    const whole = referencePayload(image, META);
    for (const pieceSize of [7, LEGACY_PIECE_BYTES, 9000, whole.length, whole.length + 1, 65_507]) {
      const pieces = legacyPieces(parts, pieceSize);
      expect(pieces).toHaveLength(Math.ceil(whole.length / pieceSize));
      pieces.forEach((piece, n) => {
        expect(Buffer.concat(piece).equals(whole.subarray(n * pieceSize, (n + 1) * pieceSize))).toBe(true);
        expectViews(piece, [image, parts[1]!]);
      });
    }
  });

  it('an empty payload is no pieces; a bad piece size is a caller bug', () => {
    expect(legacyPieces([Buffer.alloc(0)], 1024)).toEqual([]);
    for (const size of [0, 65_508, 1.5, Number.NaN]) expect(() => legacyPieces([bytes(10)], size)).toThrow(RangeError);
  });

  it('the length datagram is a little-endian C long of 8 or 4 bytes, and reads back', () => {
    expect(legacyLengthDatagram(0x01020304, 8).toString('hex')).toBe('0403020100000000');
    expect(legacyLengthDatagram(0x01020304, 4).toString('hex')).toBe('04030201');
    expect(readLegacyLength(legacyLengthDatagram(5000, 8), 10_000)).toBe(5000);
    expect(readLegacyLength(legacyLengthDatagram(5000, 4), 10_000)).toBe(5000);
  });

  it('refuses a length a 4-byte long cannot hold with a one-line UsageError', () => {
    expect(() => legacyLengthDatagram(0x80000000, 4)).toThrow(UsageError);
    expect(() => legacyLengthDatagram(0x80000000, 4)).toThrow('a 2147483648-byte image does not fit a 4-byte length');
    expect(legacyLengthDatagram(0x80000000, 8).readBigInt64LE(0)).toBe(0x80000000n);
  });

  it('reads no length from other sizes, zero, negative or over the limit', () => {
    const negative8 = Buffer.alloc(8);
    negative8.writeBigInt64LE(-5n);
    const negative4 = Buffer.alloc(4);
    negative4.writeInt32LE(-5);
    const huge = Buffer.alloc(8);
    huge.writeBigInt64LE(1n << 62n);
    for (const datagram of [Buffer.alloc(3), Buffer.alloc(5), Buffer.alloc(8), Buffer.alloc(4), negative8, negative4, huge, legacyLengthDatagram(10_001, 8)]) {
      expect(readLegacyLength(datagram, 10_000)).toBeUndefined();
    }
  });
});

describe('PartsCursor', () => {
  it('hands out consecutive runs across part boundaries and empty parts, as views, fewer bytes at the end', () => {
    const a = bytes(5);
    const b = Buffer.from('XYZ');
    const parts = [Buffer.alloc(0), a, Buffer.alloc(0), b, Buffer.alloc(0)];
    const cursor = new PartsCursor(parts);
    const runs: Buffer[][] = [];
    for (let i = 0; i < 4; i++) {
      const run: Buffer[] = [];
      cursor.take(3, run);
      runs.push(run);
    }
    expect(runs.map((run) => Buffer.concat(run).toString('hex'))).toEqual([a.subarray(0, 3).toString('hex'), Buffer.concat([a.subarray(3), b.subarray(0, 1)]).toString('hex'), b.subarray(1).toString('hex'), '']);
    expect(runs[1]).toHaveLength(2);
    for (const run of runs) for (const slice of run) expect(slice.length).toBeGreaterThan(0);
    expect(partsLength(parts)).toBe(8);
  });
});

describe('frameMeta', () => {
  it("takes the frame's capture time and name, and the sender's seq, label and live flag", () => {
    const f = makeFrame(jpeg(10), { captureTime: 123.25, name: 'x.jpg' });
    expect(frameMeta(f, { seq: 4, label: 'cam', live: true })).toEqual({ seq: 4, captureTime: 123.25, label: 'cam', name: 'x.jpg', live: true });
    expect(frameMeta(f, { seq: 4, live: false })).toEqual({ seq: 4, captureTime: 123.25, name: 'x.jpg' });
  });

  it('stamps a bare buffer (or a frame without a capture time) with now, and no name', () => {
    const before = performance.timeOrigin + performance.now();
    const fromBuffer = frameMeta(jpeg(10), { seq: 0 })!;
    const fromFrame = frameMeta(makeFrame(jpeg(10)), { seq: 1 })!;
    const after = performance.timeOrigin + performance.now();
    for (const meta of [fromBuffer, fromFrame]) {
      expect(meta.captureTime).toBeGreaterThanOrEqual(before);
      expect(meta.captureTime).toBeLessThanOrEqual(after);
      expect(meta).not.toHaveProperty('name');
    }
  });

  it('is nothing with metadata switched off', () => {
    expect(frameMeta(makeFrame(jpeg(10), { captureTime: 1 }), { seq: 0, metadata: false })).toBeUndefined();
  });
});
