import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { frame } from '../src/frame/framer.js';
import {
  DatagramType,
  DEFAULT_PACKET_SIZE,
  encodeDatagramHeader,
  endDatagram,
  MAX_PACKET_SIZE,
  MAX_PIECES,
  MIN_PACKET_SIZE,
  parseDatagram,
  seqAdd,
  seqNewer,
  splitFrame,
  UDP_HEADER_SIZE,
  type DatagramHeader,
} from '../src/frame/udp-datagram.js';

const MAX = 64 * 1024 * 1024;

function piece(fields: Partial<DatagramHeader>, payload: Buffer): Buffer {
  const header: DatagramHeader = {
    type: DatagramType.PIECE,
    streamId: 7,
    frameSeq: 1,
    pieceIndex: 0,
    pieceCount: 1,
    frameLength: payload.length,
    offset: 0,
    ...fields,
  };
  return Buffer.concat([encodeDatagramHeader(header), payload]);
}

function expectCode(datagram: Buffer, code: string, maxFrameBytes = MAX): void {
  let caught: unknown;
  try {
    parseDatagram(datagram, maxFrameBytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
  expect((caught as ProtocolError).message).not.toMatch(/\n/);
}

/** Deterministic bytes that differ at every offset modulo 251, so a misplaced slice shows. */
function bytes(length: number): Buffer {
  const buf = Buffer.allocUnsafeSlow(length);
  for (let i = 0; i < length; i++) buf[i] = i % 251;
  return buf;
}

describe('datagram header', () => {
  it('has the documented big-endian layout', () => {
    const header = encodeDatagramHeader({
      type: DatagramType.PIECE,
      streamId: 0x01020304,
      frameSeq: 0xfffffffe,
      pieceIndex: 2,
      pieceCount: 3,
      frameLength: 2400,
      offset: 2352,
    });
    expect(header.toString('hex')).toBe(['5653', '01', '00', '01020304', 'fffffffe', '0002', '0003', '00000960', '00000930'].join(''));
    expect(header.length).toBe(UDP_HEADER_SIZE);
  });

  it('round-trips through parseDatagram, payload as a view of the datagram', () => {
    const datagram = piece({ pieceIndex: 1, pieceCount: 2, frameLength: 7, offset: 4, frameSeq: 0xffffffff, streamId: 0xffffffff }, Buffer.from('abc'));
    const { header, payload } = parseDatagram(datagram, MAX);
    expect(header).toEqual({ type: DatagramType.PIECE, streamId: 0xffffffff, frameSeq: 0xffffffff, pieceIndex: 1, pieceCount: 2, frameLength: 7, offset: 4 });
    expect(payload.toString()).toBe('abc');
    expect(payload.buffer).toBe(datagram.buffer);
  });

  it('END carries only the stream and the next frameSeq', () => {
    const datagram = endDatagram(42, 10);
    expect(datagram.toString('hex')).toBe('56530101' + '0000002a' + '0000000a' + '0'.repeat(24));
    expect(parseDatagram(datagram, MAX).header).toMatchObject({ type: DatagramType.END, streamId: 42, frameSeq: 10 });
  });

  it('refuses to encode out-of-range fields (a caller bug)', () => {
    const ok: DatagramHeader = { type: DatagramType.PIECE, streamId: 0, frameSeq: 0, pieceIndex: 0, pieceCount: 1, frameLength: 1, offset: 0 };
    for (const bad of [
      { streamId: 2 ** 32 },
      { frameSeq: -1 },
      { pieceIndex: 65536 },
      { pieceCount: 1.5 },
      { frameLength: Number.NaN },
      { offset: 2 ** 32 },
      { type: 2 as DatagramType },
    ]) {
      expect(() => encodeDatagramHeader({ ...ok, ...bad })).toThrow(RangeError);
    }
  });
});

describe('parseDatagram refuses what the wire format forbids', () => {
  const valid = piece({ pieceIndex: 1, pieceCount: 3, frameLength: 25, offset: 10 }, bytes(10));

  it('accepts the baseline', () => {
    expect(() => parseDatagram(valid, MAX)).not.toThrow();
  });

  it('short, magic, version, type', () => {
    expectCode(Buffer.alloc(0), 'ERR_UDP_SHORT');
    expectCode(valid.subarray(0, UDP_HEADER_SIZE - 1), 'ERR_UDP_SHORT');
    for (const [at, value, code] of [
      [0, 0x00, 'ERR_UDP_MAGIC'],
      [1, 0x54, 'ERR_UDP_MAGIC'],
      [2, 0, 'ERR_UDP_VERSION'],
      [2, 2, 'ERR_UDP_VERSION'],
      [3, 2, 'ERR_UDP_TYPE'],
      [3, 0xff, 'ERR_UDP_TYPE'],
    ] as const) {
      const copy = Buffer.from(valid);
      copy[at] = value;
      expectCode(copy, code);
    }
  });

  it('frame length: 0, over the limit', () => {
    expectCode(piece({ frameLength: 0 }, Buffer.alloc(0)), 'ERR_UDP_HEADER');
    expectCode(piece({ frameLength: 0 }, bytes(1)), 'ERR_UDP_HEADER');
    expectCode(piece({}, bytes(101)), 'ERR_FRAME_TOO_LARGE', 100);
    expect(() => parseDatagram(piece({}, bytes(100)), 100)).not.toThrow();
    expectCode(piece({ pieceIndex: 1, pieceCount: 2, frameLength: 0xffffffff, offset: 0xffffffff - 1 }, bytes(1)), 'ERR_FRAME_TOO_LARGE');
  });

  it('count and index', () => {
    expectCode(piece({ pieceCount: 0 }, bytes(5)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 1, pieceCount: 1 }, bytes(5)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 65535, pieceCount: 65535, frameLength: 10 }, bytes(5)), 'ERR_UDP_HEADER');
  });

  it('payload placement', () => {
    // No payload.
    expectCode(piece({ pieceIndex: 0, pieceCount: 2, frameLength: 10 }, Buffer.alloc(0)), 'ERR_UDP_HEADER');
    // Runs past the end.
    expectCode(piece({ frameLength: 4 }, bytes(5)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 25, offset: 0xfffffff0 }, bytes(5)), 'ERR_UDP_HEADER');
    // A single piece must be the whole frame.
    expectCode(piece({ frameLength: 6 }, bytes(5)), 'ERR_UDP_HEADER');
    // Non-last piece: offset must be index * its length.
    expectCode(piece({ pieceIndex: 1, pieceCount: 3, frameLength: 25, offset: 9 }, bytes(10)), 'ERR_UDP_HEADER');
    // Non-last piece: count must be ceil(frameLength / piece size).
    expectCode(piece({ pieceIndex: 0, pieceCount: 3, frameLength: 20, offset: 0 }, bytes(10)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 0, pieceCount: 3, frameLength: 31, offset: 0 }, bytes(10)), 'ERR_UDP_HEADER');
    // Last piece: must end the frame, sit at a multiple of the index, be no longer than the others.
    expectCode(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 26, offset: 20 }, bytes(5)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 26, offset: 21 }, bytes(5)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 31, offset: 20 }, bytes(11)), 'ERR_UDP_HEADER');
    expectCode(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 1, offset: 0 }, bytes(1)), 'ERR_UDP_HEADER');
    // And the valid shapes next to them.
    expect(() => parseDatagram(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 21, offset: 20 }, bytes(1)), MAX)).not.toThrow();
    expect(() => parseDatagram(piece({ pieceIndex: 2, pieceCount: 3, frameLength: 30, offset: 20 }, bytes(10)), MAX)).not.toThrow();
    expect(() => parseDatagram(piece({ pieceIndex: 0, pieceCount: 3, frameLength: 30, offset: 0 }, bytes(10)), MAX)).not.toThrow();
  });

  it('END with a payload or piece fields', () => {
    const end = endDatagram(1, 2);
    expectCode(Buffer.concat([end, Buffer.from('x')]), 'ERR_UDP_HEADER');
    for (const at of [12, 14, 16, 20]) {
      const copy = Buffer.from(end);
      copy[at + 1] = 1;
      expectCode(copy, 'ERR_UDP_HEADER');
    }
  });
});

describe('splitFrame', () => {
  /** Splits, then checks every datagram and that the payloads put back equal the frame. */
  function checkSplit(parts: Buffer[], packetSize: number): Buffer[][] {
    const whole = Buffer.concat(parts);
    const datagrams = splitFrame(parts, { streamId: 9, frameSeq: 5, packetSize });
    const pieceSize = packetSize - UDP_HEADER_SIZE;
    expect(datagrams.length).toBe(Math.ceil(whole.length / pieceSize));
    const rebuilt = Buffer.alloc(whole.length);
    datagrams.forEach((buffers, index) => {
      const datagram = Buffer.concat(buffers);
      expect(datagram.length).toBeLessThanOrEqual(packetSize);
      for (const slice of buffers) expect(slice.length).toBeGreaterThan(0);
      const { header, payload } = parseDatagram(datagram, MAX);
      expect(header).toEqual({
        type: DatagramType.PIECE,
        streamId: 9,
        frameSeq: 5,
        pieceIndex: index,
        pieceCount: datagrams.length,
        frameLength: whole.length,
        offset: index * pieceSize,
      });
      if (index < datagrams.length - 1) expect(payload.length).toBe(pieceSize);
      payload.copy(rebuilt, header.offset);
    });
    expect(rebuilt.equals(whole)).toBe(true);
    return datagrams;
  }

  /** The frame cut into parts at `cuts`, including empty parts at both ends. */
  function cutAt(buf: Buffer, cuts: number[]): Buffer[] {
    const parts = [buf.subarray(0, 0)];
    let last = 0;
    for (const cut of cuts.filter((c) => c > 0 && c < buf.length)) {
      parts.push(buf.subarray(last, cut));
      last = cut;
    }
    parts.push(buf.subarray(last), buf.subarray(buf.length));
    return parts;
  }

  for (const packetSize of [MIN_PACKET_SIZE, DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE]) {
    it(`frames of k * (packetSize - 24) bytes and +-1, one part and several, at packet size ${packetSize}`, () => {
      const pieceSize = packetSize - UDP_HEADER_SIZE;
      for (const k of [1, 2, 3]) {
        for (const length of [k * pieceSize - 1, k * pieceSize, k * pieceSize + 1]) {
          const buf = bytes(length);
          checkSplit([buf], packetSize);
          // Part boundaries on, just before and just after piece boundaries, and a 1-byte part.
          checkSplit(cutAt(buf, [1, 2, pieceSize - 1, pieceSize, pieceSize + 1, 2 * pieceSize, length - 1]), packetSize);
          checkSplit(cutAt(buf, [Math.floor(length / 3), Math.floor((2 * length) / 3)]), packetSize);
        }
      }
      checkSplit([bytes(1)], packetSize);
    });
  }

  it('splits the framer output byte for byte', () => {
    const jpeg = Buffer.concat([Buffer.from([0xff, 0xd8]), bytes(5000), Buffer.from([0xff, 0xd9])]);
    const parts = frame(jpeg, { seq: 3, captureTime: 1_700_000_000_000, label: 'cam' }).slice(1);
    expect(parts.length).toBe(3);
    checkSplit(parts, 200);
  });

  it('never copies the frame: every slice is a view of an input part', () => {
    const jpeg = bytes(100_000); // over Buffer.poolSize, so sharing is not an accident of the pool
    const segment = bytes(77);
    const parts = [jpeg.subarray(0, 2), segment, jpeg.subarray(2)];
    for (const packetSize of [64, 1200, 65507]) {
      const datagrams = splitFrame(parts, { streamId: 1, frameSeq: 1, packetSize });
      for (const [, ...slices] of datagrams) {
        for (const slice of slices) expect([jpeg.buffer, segment.buffer]).toContain(slice.buffer);
      }
    }
  });

  it('accepts exactly 65535 pieces and refuses one more', () => {
    const pieceSize = MIN_PACKET_SIZE - UDP_HEADER_SIZE;
    const max = Buffer.alloc(MAX_PIECES * pieceSize);
    expect(splitFrame([max], { streamId: 1, frameSeq: 1, packetSize: MIN_PACKET_SIZE })).toHaveLength(MAX_PIECES);
    expect(() => splitFrame([max, Buffer.alloc(1)], { streamId: 1, frameSeq: 1, packetSize: MIN_PACKET_SIZE })).toThrow(RangeError);
  });

  it('refuses empty frames and packet sizes out of range', () => {
    expect(() => splitFrame([], { streamId: 1, frameSeq: 1, packetSize: 1200 })).toThrow(RangeError);
    expect(() => splitFrame([Buffer.alloc(0)], { streamId: 1, frameSeq: 1, packetSize: 1200 })).toThrow(RangeError);
    for (const packetSize of [MIN_PACKET_SIZE - 1, MAX_PACKET_SIZE + 1, 1000.5, Number.NaN]) {
      expect(() => splitFrame([Buffer.alloc(10)], { streamId: 1, frameSeq: 1, packetSize })).toThrow(RangeError);
    }
  });
});

describe('sequence numbers across the uint32 wrap', () => {
  it('seqNewer uses serial-number arithmetic', () => {
    expect(seqNewer(1, 0)).toBe(true);
    expect(seqNewer(0, 1)).toBe(false);
    expect(seqNewer(5, 5)).toBe(false);
    expect(seqNewer(0, 0xffffffff)).toBe(true);
    expect(seqNewer(0xffffffff, 0)).toBe(false);
    expect(seqNewer(10, 0xfffffff0)).toBe(true);
    expect(seqNewer(0x7fffffff, 0)).toBe(true);
    expect(seqNewer(0x80000000, 0)).toBe(false);
    expect(seqNewer(0, 0x80000000)).toBe(false);
  });

  it('seqAdd wraps', () => {
    expect(seqAdd(0xffffffff, 1)).toBe(0);
    expect(seqAdd(0, -1)).toBe(0xffffffff);
  });
});
