import sharp from 'sharp';
import { mulberry32 } from './helpers/lossy-relay.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { frame } from '../src/frame/framer.js';
import { readMetadata } from '../src/frame/metadata.js';
import { DatagramType, encodeDatagramHeader, endDatagram, seqAdd, splitFrame, UDP_HEADER_SIZE, UDP_MAGIC, type DatagramHeader } from '../src/frame/udp-datagram.js';
import { EVICT_IDLE_MS, PIECE_OVERHEAD_BYTES, SEQ_WINDOW, UdpReassembler, type CompletedFrame, type UdpPushResult } from '../src/reassemble/udp-reassembler.js';

const A = '127.0.0.1:5000';
const B = '[::1]:5000';
/** 40 payload bytes per piece: many pieces from small frames. */
const SMALL_PACKET = 64;
const PIECE = SMALL_PACKET - UDP_HEADER_SIZE;

/** Deterministic PRNG: the same shuffles on every run (the lossy relay's mulberry32). */
const prng = mulberry32;

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) => permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]));
}

/** A payload whose bytes depend on the frame, so frames mixed up would show. */
function payloadOf(length: number, salt = 0): Buffer {
  const buf = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buf[i] = (i * 7 + salt * 13) % 256;
  return buf;
}

/**
 * The frame's datagrams, each in its own exactly-sized memory as dgram delivers them (so the
 * reassembler may keep views of them).
 */
function datagrams(payload: Buffer, frameSeq: number, streamId = 1, packetSize = SMALL_PACKET): Buffer[] {
  return splitFrame([payload], { streamId, frameSeq, packetSize }).map((buffers) => {
    const datagram = Buffer.allocUnsafeSlow(buffers.reduce((n, b) => n + b.length, 0));
    let at = 0;
    for (const b of buffers) at += b.copy(datagram, at);
    return datagram;
  });
}

/** Pushes datagrams at `now`, returns the frames they completed. */
function pushAll(r: UdpReassembler, list: Buffer[], source = A, now = 0): CompletedFrame[] {
  return list.flatMap((d) => r.push(d, source, now).frames);
}

function raw(fields: Partial<DatagramHeader>, payload: Buffer): Buffer {
  const header: DatagramHeader = { type: DatagramType.PIECE, streamId: 1, frameSeq: 0, pieceIndex: 0, pieceCount: 1, frameLength: payload.length, offset: 0, ...fields };
  return Buffer.concat([encodeDatagramHeader(header), payload]);
}

const NO_COUNTS = {
  framesReceived: 0,
  framesDropped: 0,
  datagramsLost: 0,
  datagramsReceived: 0,
  duplicates: 0,
  late: 0,
  invalid: 0,
  outOfWindow: 0,
  endsIgnored: 0,
  sequenceResets: 0,
};

function counters(r: UdpReassembler, source = A, streamId = 1) {
  return r.stream(`${source}#${streamId}`)!.counters;
}

describe('pieces in any order', () => {
  it('every permutation of 1..5 pieces yields the identical frame, on the last piece only', () => {
    for (let n = 1; n <= 5; n++) {
      const payload = payloadOf(PIECE * (n - 1) + 17, n);
      const list = datagrams(payload, 3);
      expect(list).toHaveLength(n);
      for (const order of permutations([...list.keys()])) {
        const r = new UdpReassembler();
        order.forEach((index, i) => {
          const { frames } = r.push(list[index]!, A, 0);
          if (i < n - 1) {
            expect(frames).toEqual([]);
          } else {
            expect(frames).toHaveLength(1);
            expect(frames[0]!.payload.equals(payload)).toBe(true);
            expect(frames[0]).toMatchObject({ key: `${A}#1`, source: A, streamId: 1, frameSeq: 3 });
          }
        });
        expect(r.pendingBytes).toBe(0);
        expect(counters(r)).toEqual({ ...NO_COUNTS, framesReceived: 1, datagramsReceived: n });
      }
    }
  });

  it('a one-piece frame is delivered as a view of its datagram (no copy)', () => {
    const [datagram] = datagrams(payloadOf(30), 0);
    const [got] = new UdpReassembler().push(datagram!, A, 0).frames;
    expect(got!.payload.buffer).toBe(datagram!.buffer);
  });

  it('a datagram sliced from a bigger buffer is copied, not pinned', () => {
    const list = datagrams(payloadOf(100), 0);
    const big = Buffer.concat([Buffer.alloc(10_000), list[0]!]);
    const r = new UdpReassembler();
    r.push(big.subarray(10_000), A, 0);
    big.fill(0); // the caller reuses its buffer
    const [got] = pushAll(r, list.slice(1));
    expect(got!.payload.equals(payloadOf(100))).toBe(true);
  });
});

describe('duplicates and late pieces', () => {
  it('a duplicate of every piece at every position: one frame, counted once', () => {
    for (let n = 1; n <= 4; n++) {
      const payload = payloadOf(PIECE * n - 3, n);
      const list = datagrams(payload, 0);
      for (const order of [[...list.keys()], [...list.keys()].reverse()]) {
        for (let dup = 0; dup < n; dup++) {
          for (let at = 0; at <= n; at++) {
            const sequence = [...order];
            sequence.splice(at, 0, dup);
            // What must happen: a copy before completion is a duplicate, after it is late.
            const seen = new Set<number>();
            let duplicates = 0;
            let late = 0;
            for (const i of sequence) {
              if (seen.size === n) late++;
              else if (seen.has(i)) duplicates++;
              else seen.add(i);
            }
            const r = new UdpReassembler();
            const frames = pushAll(r, sequence.map((i) => list[i]!));
            expect(frames).toHaveLength(1);
            expect(frames[0]!.payload.equals(payload)).toBe(true);
            expect(counters(r)).toMatchObject({ datagramsReceived: n + 1, duplicates, late, framesReceived: 1, framesDropped: 0 });
            expect(duplicates + late).toBe(1);
          }
        }
      }
    }
  });

  it('pieces of a completed frame and of an abandoned frame are late', () => {
    const r = new UdpReassembler();
    const f0 = datagrams(payloadOf(100, 0), 0);
    const f1 = datagrams(payloadOf(100, 1), 1);
    expect(pushAll(r, f0)).toHaveLength(1);
    pushAll(r, f1.slice(1), A, 0);
    r.expire(251);
    expect(counters(r)).toMatchObject({ framesReceived: 1, framesDropped: 1, datagramsLost: 1 });
    expect(pushAll(r, [f0[1]!, f1[0]!], A, 260)).toEqual([]);
    expect(counters(r)).toMatchObject({ late: 2, framesDropped: 1 });
    expect(r.pendingBytes).toBe(0);
  });
});

describe('loss', () => {
  it('a frame missing any one piece is never delivered; it is dropped on expiry with the piece counted lost', () => {
    for (let n = 2; n <= 5; n++) {
      const list = datagrams(payloadOf(PIECE * n, n), 0);
      for (let lost = 0; lost < n; lost++) {
        const r = new UdpReassembler({ maxAgeMs: 100 });
        expect(pushAll(r, list.filter((_, i) => i !== lost), A, 1000)).toEqual([]);
        r.expire(1100); // not older than maxAgeMs yet
        expect(r.pendingFrames).toBe(1);
        r.expire(1101);
        expect(r.pendingFrames).toBe(0);
        expect(r.pendingBytes).toBe(0);
        expect(counters(r)).toMatchObject({ framesReceived: 0, framesDropped: 1, datagramsLost: 1 });
        // The missing piece, once it turns up, completes nothing.
        expect(r.push(list[lost]!, A, 1102).frames).toEqual([]);
        expect(counters(r).late).toBe(1);
      }
    }
  });

  it('a frame missing a piece is dropped when a newer frame completes', () => {
    for (let lost = 0; lost < 3; lost++) {
      const r = new UdpReassembler();
      const f5 = datagrams(payloadOf(PIECE * 3, 5), 5);
      const f6 = datagrams(payloadOf(PIECE * 2, 6), 6);
      pushAll(r, f5.filter((_, i) => i !== lost));
      const got = pushAll(r, f6);
      expect(got.map((f) => f.frameSeq)).toEqual([6]);
      expect(counters(r)).toMatchObject({ framesReceived: 1, framesDropped: 1, datagramsLost: 1 });
      expect(r.pendingBytes).toBe(0);
    }
  });

  it('frames of which nothing arrived count as dropped, estimated at the latest piece count', () => {
    const r = new UdpReassembler();
    pushAll(r, datagrams(payloadOf(PIECE * 3), 10)); // the receiver joins at 10: 0..9 are not counted
    pushAll(r, datagrams(payloadOf(PIECE * 3), 13)); // 11 and 12 vanished
    expect(counters(r)).toMatchObject({ framesReceived: 2, framesDropped: 2, datagramsLost: 6 });
    pushAll(r, datagrams(payloadOf(PIECE * 2), 14).slice(1)); // 14: one of two pieces
    pushAll(r, datagrams(payloadOf(PIECE * 4), 16)); // 14 dropped (1 lost), 15 vanished (4 estimated)
    expect(counters(r)).toMatchObject({ framesReceived: 3, framesDropped: 4, datagramsLost: 11 });
  });

  it('an older frame that starts arriving after a newer one, before anything finished, is still delivered', () => {
    const r = new UdpReassembler();
    const f10 = datagrams(payloadOf(100, 10), 10);
    const f11 = datagrams(payloadOf(100, 11), 11);
    r.push(f11[0]!, A, 0);
    expect(pushAll(r, f10).map((f) => f.frameSeq)).toEqual([10]);
    expect(pushAll(r, f11.slice(1)).map((f) => f.frameSeq)).toEqual([11]);
    expect(counters(r)).toMatchObject({ framesReceived: 2, framesDropped: 0, datagramsLost: 0, late: 0 });
  });

  it('a piece arriving after maxAge abandons its frame without waiting for expire()', () => {
    const r = new UdpReassembler({ maxAgeMs: 50 });
    const list = datagrams(payloadOf(100), 0);
    pushAll(r, list.slice(0, 2), A, 0);
    expect(r.push(list[2]!, A, 51).frames).toEqual([]);
    expect(counters(r)).toMatchObject({ framesDropped: 1, datagramsLost: 1, late: 1 });
    expect(r.pendingBytes).toBe(0);
  });

  it('dropping a frame drops the older incomplete frames of its stream too', () => {
    const r = new UdpReassembler({ maxAgeMs: 100 });
    const f1 = datagrams(payloadOf(100, 1), 1);
    const f2 = datagrams(payloadOf(100, 2), 2);
    r.push(f2[0]!, A, 0);
    r.push(f1[0]!, A, 50); // older frame, younger in arrival
    r.expire(101); // 2 times out, and takes 1 with it: a newer frame was already given up
    expect(r.pendingFrames).toBe(0);
    expect(counters(r)).toMatchObject({ framesDropped: 2, datagramsLost: 4 });
    expect(pushAll(r, f1.slice(1), A, 102)).toEqual([]);
  });
});

describe('streams kept apart', () => {
  function interleaveCheck(sources: [string, number][]) {
    const random = prng(7);
    const r = new UdpReassembler();
    const expected = new Map<string, Buffer[]>();
    const perStream = sources.map(([source, streamId], s) => {
      const payloads = [0, 1, 2].map((seq) => payloadOf(PIECE * 3 - s, s * 10 + seq));
      expected.set(`${source}#${streamId}`, payloads);
      // Frames of one stream in order, pieces within a frame shuffled.
      return payloads.flatMap((p, seq) => shuffle(datagrams(p, seq, streamId), random)).map((d) => [d, source] as const);
    });
    // Then the streams interleaved datagram by datagram.
    const merged: (readonly [Buffer, string])[] = [];
    for (let i = 0; perStream.some((list) => i < list.length); i++) {
      for (const list of perStream) if (i < list.length) merged.push(list[i]!);
    }
    const got = new Map<string, Buffer[]>();
    for (const [d, source] of merged) {
      for (const f of r.push(d, source, 0).frames) got.set(f.key, [...(got.get(f.key) ?? []), f.payload]);
    }
    expect(got).toEqual(expected);
    for (const [source, streamId] of sources) {
      expect(counters(r, source, streamId)).toMatchObject({ framesReceived: 3, framesDropped: 0, datagramsReceived: 9 });
    }
  }

  it('two senders at different addresses with the same streamId', () => interleaveCheck([[A, 1], [B, 1]]));
  it('two streams from the same address', () => interleaveCheck([[A, 1], [A, 2]]));

  it('reports a new stream once, with its key', () => {
    const r = new UdpReassembler();
    const list = datagrams(payloadOf(100), 0, 77);
    expect(r.push(list[0]!, B, 0).newStream).toMatchObject({ key: `${B}#77`, source: B, streamId: 77 });
    expect(r.push(list[1]!, B, 0).newStream).toBeUndefined();
  });
});

describe('END', () => {
  it('ends the stream after its grace: incomplete and trailing unseen frames are dropped, stragglers ignored', () => {
    const r = new UdpReassembler();
    pushAll(r, datagrams(payloadOf(100, 0), 0));
    const f1 = datagrams(payloadOf(100, 1), 1);
    r.push(f1[0]!, A, 0);
    // Next frame would have been 3: 1 is incomplete (2 lost), 2 never arrived (3 estimated).
    expect(r.push(endDatagram(1, 3), A, 0)).toEqual({ frames: [] });
    expect(r.expire(250)).toEqual({ ended: [], silent: [] }); // the grace is maxAgeMs
    const { ended } = r.expire(251);
    expect(ended).toEqual([
      {
        key: `${A}#1`,
        source: A,
        streamId: 1,
        counters: { ...NO_COUNTS, framesReceived: 1, framesDropped: 2, datagramsLost: 5, datagramsReceived: 5 },
      },
    ]);
    expect(r.stream(`${A}#1`)).toBeUndefined();
    expect(r.pendingBytes).toBe(0);
    // A piece overtaken by the END, and a repeated END, revive nothing.
    const late = r.push(f1[1]!, A, 252);
    expect(late).toEqual({ frames: [] });
    expect(r.push(endDatagram(1, 3), A, 252)).toEqual({ frames: [] });
    expect(r.streamCount).toBe(0);
  });

  it('an END for an unknown stream is ignored', () => {
    const r = new UdpReassembler();
    expect(r.push(endDatagram(5, 0), A, 0)).toEqual({ frames: [] });
    expect(r.streamCount).toBe(0);
  });
});

/** A live sender: frame `seq` of three pieces at `seq * 33` ms (30 fps), starting at `from`. */
function liveFrames(r: UdpReassembler, from: number, to: number, options: { streamId?: number; t0?: number; seqBase?: number } = {}): CompletedFrame[] {
  const { streamId = 1, t0 = 0, seqBase = 0 } = options;
  const got: CompletedFrame[] = [];
  for (let i = from; i < to; i++) got.push(...pushAll(r, datagrams(payloadOf(100, i), seqAdd(seqBase, i), streamId), A, t0 + i * 33));
  return got;
}

describe('a forged END cannot end a stream that goes on', () => {
  it('the next frame cancels it, whatever nextSeq it names within the window; the stream never ends', () => {
    for (const nextSeq of [5, 6, 5 + 1000]) {
      const r = new UdpReassembler();
      expect(liveFrames(r, 0, 5)).toHaveLength(5);
      expect(r.push(endDatagram(1, nextSeq), A, 140)).toEqual({ frames: [] });
      const cancelling = r.push(datagrams(payloadOf(100, 5), 5)[0]!, A, 165);
      expect(cancelling.problem?.code).toBe('ERR_UDP_END');
      expect(liveFrames(r, 5, 10).map((f) => f.frameSeq)).toEqual([5, 6, 7, 8, 9]);
      expect(r.expire(1000)).toEqual({ ended: [], silent: [] });
      expect(counters(r)).toMatchObject({ framesReceived: 10, framesDropped: 0, endsIgnored: 1 });
    }
  });

  it('an END naming a frame already seen, or beyond the window, is ignored at once', () => {
    const r = new UdpReassembler();
    liveFrames(r, 0, 5);
    for (const nextSeq of [4, 0, 4 + SEQ_WINDOW + 1, seqAdd(4, 2 ** 31 - 1)]) {
      expect(r.push(endDatagram(1, nextSeq), A, 140).problem?.code).toBe('ERR_UDP_WINDOW');
    }
    expect(r.expire(1000)).toEqual({ ended: [], silent: [] });
    expect(counters(r)).toMatchObject({ endsIgnored: 4, outOfWindow: 4 });
    expect(liveFrames(r, 5, 8)).toHaveLength(3);
  });

  it('on a stream slower than the grace, the END ends it, and the next frame starts it again at once', () => {
    const r = new UdpReassembler();
    pushAll(r, datagrams(payloadOf(100, 0), 0), A, 0); // one frame a second
    r.push(endDatagram(1, 500), A, 10);
    expect(r.expire(300).ended).toHaveLength(1);
    // Frames the stream had seen are stragglers of a real END: they revive nothing.
    expect(r.push(datagrams(payloadOf(100, 0), 0)[0]!, A, 400)).toEqual({ frames: [] });
    const first = r.push(datagrams(payloadOf(100, 1), 1)[0]!, A, 1000);
    expect(first.newStream?.key).toBe(`${A}#1`);
    expect(pushAll(r, datagrams(payloadOf(100, 1), 1).slice(1), A, 1000).map((f) => f.frameSeq)).toEqual([1]);
  });
});

describe('the window: a frameSeq far from the stream cannot move it', () => {
  it('a complete frame at frameSeq + 2^31 - 1 (or far behind) is ignored, and the stream goes on', () => {
    for (const offset of [2 ** 31 - 1, SEQ_WINDOW + 1, -(SEQ_WINDOW + 1), 2 ** 31]) {
      const r = new UdpReassembler();
      liveFrames(r, 0, 5);
      // One piece of 90 bytes: a whole frame in one datagram.
      const forged = datagrams(payloadOf(30), seqAdd(4, offset), 1, 1200)[0]!;
      const result = r.push(forged, A, 150);
      expect(result.frames).toEqual([]);
      expect(result.problem?.code).toBe('ERR_UDP_WINDOW');
      expect(liveFrames(r, 5, 10).map((f) => f.frameSeq)).toEqual([5, 6, 7, 8, 9]);
      expect(counters(r)).toMatchObject({ framesReceived: 10, framesDropped: 0, outOfWindow: 1, sequenceResets: 0 });
    }
  });

  it('frames within the window, ahead or behind, are taken as ever: a gap, or late', () => {
    const r = new UdpReassembler();
    liveFrames(r, 0, 5);
    expect(pushAll(r, datagrams(payloadOf(100), 4 + SEQ_WINDOW), A, 200)).toHaveLength(1);
    expect(counters(r)).toMatchObject({ framesDropped: SEQ_WINDOW - 1, outOfWindow: 0 });
    pushAll(r, datagrams(payloadOf(100), 4), A, 210);
    expect(counters(r)).toMatchObject({ late: 3, outOfWindow: 0 });
  });

  it('a stream that goes on delivering is never re-based, however many forged agreeing pieces come', () => {
    const r = new UdpReassembler();
    const forged = datagrams(payloadOf(100), 2 ** 31);
    let delivered = 0;
    for (let i = 0; i < 300; i++) {
      delivered += liveFrames(r, i, i + 1).length;
      // Ten agreeing forged pieces per frame interval, 10 s long.
      for (let k = 0; k < 10; k++) r.push(forged[k % 3]!, A, i * 33 + k);
    }
    expect(delivered).toBe(300);
    expect(counters(r)).toMatchObject({ sequenceResets: 0, outOfWindow: 3000, framesDropped: 0 });
  });
});

describe('a sender restart is recognised within a second', () => {
  // The old sequence's last frame is at 29 * 33 = 957 ms; the new one starts at 990 ms.
  for (const [what, oldBase] of [
    ['far behind (outside the window)', 100_000],
    ['a little behind (late, inside the window)', 300],
  ] as const) {
    it(`a sequence reset to 0 from ${what}`, () => {
      const r = new UdpReassembler();
      expect(liveFrames(r, 0, 30, { seqBase: oldBase })).toHaveLength(30);
      const resetAt = 30 * 33;
      const got = liveFrames(r, 30, 90, { seqBase: -30 }); // frameSeq 0, 1, ... from resetAt
      expect(got.length).toBeGreaterThan(40);
      const firstAt = (got[0]!.frameSeq + 30) * 33;
      expect(firstAt - resetAt).toBeLessThanOrEqual(1000);
      expect(got.map((f) => f.frameSeq)).toEqual(Array.from({ length: got.length }, (_, i) => got[0]!.frameSeq + i));
      expect(counters(r)).toMatchObject({ sequenceResets: 1 });
    });
  }

  it('a sequence reset is recognised even while forged pieces at random frameSeqs keep coming', () => {
    const r = new UdpReassembler();
    liveFrames(r, 0, 30, { seqBase: 100_000 });
    const random = prng(3);
    const got: CompletedFrame[] = [];
    for (let i = 30; i < 90; i++) {
      // A forged piece, far from everything, before every piece of the reset sequence.
      for (const datagram of datagrams(payloadOf(100, i), i - 30)) {
        r.push(datagrams(payloadOf(100), Math.floor(random() * 2 ** 32))[0]!, A, i * 33);
        got.push(...r.push(datagram, A, i * 33).frames);
      }
    }
    expect(got.length).toBeGreaterThan(40);
    expect((got[0]!.frameSeq + 30) * 33 - 30 * 33).toBeLessThanOrEqual(1000);
    expect(counters(r)).toMatchObject({ sequenceResets: 1 });
  });

  it('a restart under a new stream id is a new stream from its first frame', () => {
    const r = new UdpReassembler();
    liveFrames(r, 0, 30);
    const got = liveFrames(r, 30, 33, { streamId: 2, seqBase: -30 });
    expect(got.map((f) => [f.streamId, f.frameSeq])).toEqual([
      [2, 0],
      [2, 1],
      [2, 2],
    ]);
  });
});

describe('a full table of streams makes room without evicting live ones', () => {
  it('a flood of 10000 new stream ids never evicts a stream that completes frames', () => {
    const r = new UdpReassembler({ maxStreams: 8 });
    let delivered = 0;
    let floodId = 1000;
    const evicted = new Set<string>();
    for (let i = 0; i < 100; i++) {
      delivered += liveFrames(r, i, i + 1).length;
      for (let k = 0; k < 100; k++) {
        const result = r.push(datagrams(payloadOf(100), 0, floodId++)[0]!, A, i * 33 + 1);
        if (result.evicted) evicted.add(result.evicted.key);
        expect(r.streamCount).toBeLessThanOrEqual(8);
      }
    }
    expect(delivered).toBe(100);
    expect(evicted.has(`${A}#1`)).toBe(false);
    expect(evicted.size).toBe(10_000 - 7);
    expect(counters(r)).toMatchObject({ framesReceived: 100, framesDropped: 0 });
  });

  it('with every stream delivering, a newcomer is refused; a stream idle for EVICT_IDLE_MS makes room', () => {
    const r = new UdpReassembler({ maxStreams: 2 });
    pushAll(r, datagrams(payloadOf(100), 0, 1), A, 0);
    pushAll(r, datagrams(payloadOf(100), 0, 2), A, 10);
    const refused = r.push(datagrams(payloadOf(100), 0, 3)[0]!, A, 100);
    expect(refused).toMatchObject({ frames: [], problem: { code: 'ERR_TOO_MANY_SENDERS' } });
    expect(refused.newStream).toBeUndefined();
    expect(r.refusedDatagrams).toBe(1);
    pushAll(r, datagrams(payloadOf(100), 1, 2), A, EVICT_IDLE_MS); // 2 goes on, 1 falls idle
    const { evicted, newStream } = r.push(datagrams(payloadOf(100), 0, 3)[0]!, A, EVICT_IDLE_MS + 1);
    expect(evicted?.key).toBe(`${A}#1`);
    expect(newStream?.key).toBe(`${A}#3`);
  });
});

describe('uint32 wrap of frameSeq', () => {
  it('delivers across the wrap, counts the gap across it, and knows late from new', () => {
    const r = new UdpReassembler();
    const seqs = [0xfffffffe, 0xffffffff, 0, 1];
    for (const seq of seqs) expect(pushAll(r, datagrams(payloadOf(90, seq & 0xff), seq)).map((f) => f.frameSeq)).toEqual([seq]);
    expect(pushAll(r, datagrams(payloadOf(90), 0xffffffff))).toEqual([]);
    expect(counters(r).late).toBe(3);
    pushAll(r, datagrams(payloadOf(90), 3)); // 2 vanished
    expect(counters(r)).toMatchObject({ framesReceived: 5, framesDropped: 1, datagramsLost: 3 });
    // A gap over the wrap itself.
    const r2 = new UdpReassembler();
    pushAll(r2, datagrams(payloadOf(90), 0xfffffffe));
    pushAll(r2, datagrams(payloadOf(90), 1));
    expect(counters(r2)).toMatchObject({ framesReceived: 2, framesDropped: 2, datagramsLost: 6 });
  });
});

describe('hostile datagrams', () => {
  it('each validation failure is counted and ignored, never thrown', () => {
    const r = new UdpReassembler({ maxFrameBytes: 1000 });
    pushAll(r, datagrams(payloadOf(100), 0)); // make the stream known, so invalid ones are counted on it
    const bad: [Buffer, string][] = [
      [Buffer.alloc(0), 'ERR_UDP_SHORT'],
      [Buffer.from('VS'), 'ERR_UDP_SHORT'],
      [Buffer.alloc(24), 'ERR_UDP_MAGIC'],
      [Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'ERR_UDP_MAGIC'],
      [Object.assign(raw({}, Buffer.from('x')), { 2: 9 }), 'ERR_UDP_VERSION'],
      [Object.assign(raw({}, Buffer.from('x')), { 3: 7 }), 'ERR_UDP_TYPE'],
      [raw({ pieceCount: 0 }, Buffer.from('x')), 'ERR_UDP_HEADER'],
      [raw({ pieceIndex: 3, pieceCount: 3, frameLength: 100 }, Buffer.from('x')), 'ERR_UDP_HEADER'],
      [raw({ frameLength: 0 }, Buffer.alloc(0)), 'ERR_UDP_HEADER'],
      [raw({ frameLength: 5 }, Buffer.from('toolong')), 'ERR_UDP_HEADER'],
      [raw({ pieceIndex: 1, pieceCount: 3, frameLength: 100, offset: 3 }, payloadOf(40)), 'ERR_UDP_HEADER'],
      [raw({ pieceIndex: 0, pieceCount: 9, frameLength: 100 }, payloadOf(40)), 'ERR_UDP_HEADER'],
      [raw({ frameLength: 1001 }, payloadOf(1001)), 'ERR_FRAME_TOO_LARGE'],
      [Buffer.concat([endDatagram(1, 0), Buffer.from('x')]), 'ERR_UDP_HEADER'],
    ];
    for (const [datagram, code] of bad) {
      let result: UdpPushResult | undefined;
      expect(() => (result = r.push(datagram, A, 0))).not.toThrow();
      expect(result!.frames).toEqual([]);
      expect(result!.error?.code).toBe(code);
    }
    expect(r.invalidDatagrams).toBe(bad.length);
    // The ones that name the stream (magic and enough bytes) are counted on it too.
    expect(counters(r).invalid).toBe(bad.length - 4);
    expect(counters(r)).toMatchObject({ framesReceived: 1, framesDropped: 0, datagramsReceived: 3 });
    expect(r.streamCount).toBe(1);
  });

  it('a piece contradicting the earlier pieces of its frame is invalid; the frame still completes', () => {
    const r = new UdpReassembler();
    const payload = payloadOf(PIECE * 3);
    const list = datagrams(payload, 0);
    r.push(list[0]!, A, 0);
    const liars = [
      raw({ pieceIndex: 1, pieceCount: 4, frameLength: PIECE * 4, offset: PIECE }, payloadOf(PIECE)), // other count and length
      raw({ pieceIndex: 1, pieceCount: 3, frameLength: PIECE * 3 - 1, offset: PIECE }, payloadOf(PIECE)), // other length
      raw({ pieceIndex: 1, pieceCount: 3, frameLength: PIECE * 3, offset: 45 }, payloadOf(45)), // other piece size
      raw({ pieceIndex: 2, pieceCount: 3, frameLength: PIECE * 3 + 10, offset: PIECE * 2 + 10 }, payloadOf(PIECE)), // last piece, other size
    ];
    for (const liar of liars) expect(r.push(liar, A, 0).error?.code).toBe('ERR_UDP_HEADER');
    const [got] = pushAll(r, list.slice(1));
    expect(got!.payload.equals(payload)).toBe(true);
    expect(counters(r)).toMatchObject({ invalid: 4, framesReceived: 1, datagramsReceived: 3 });
  });

  it('a huge frameLength with a tiny payload holds only what arrived', () => {
    const r = new UdpReassembler({ maxPendingBytes: 256 * 1024 * 1024 });
    // The last of 65535 pieces of 1000 bytes: 25 bytes on the wire announcing 65.5 MB.
    const datagram = raw({ pieceIndex: 65534, pieceCount: 65535, frameLength: 65534 * 1000 + 1, offset: 65534 * 1000 }, Buffer.from('x'));
    const before = process.memoryUsage().arrayBuffers;
    expect(r.push(datagram, A, 0).error).toBeUndefined();
    expect(r.pendingBytes).toBe(1 + PIECE_OVERHEAD_BYTES);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    r.expire(1000);
    expect(counters(r)).toMatchObject({ framesDropped: 1, datagramsLost: 65534 });
  });

  it('a frame that could never fit in maxPendingBytes is refused up front', () => {
    const r = new UdpReassembler({ maxPendingBytes: 10_000 });
    const list = datagrams(payloadOf(9_000), 0, 1, 1200); // 8 pieces: 9000 + 8 * overhead > 10000
    expect(r.push(list[0]!, A, 0).error?.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(r.pendingBytes).toBe(0);
  });

  it('a frame of 65535 pieces reassembles, in random order', () => {
    const payload = payloadOf(PIECE * 65535 - 5);
    const list = shuffle(datagrams(payload, 0), prng(1));
    const r = new UdpReassembler();
    const frames = pushAll(r, list);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.payload.equals(payload)).toBe(true);
    expect(r.pendingBytes).toBe(0);
  });

  it('a flood of streamIds stays within maxStreams, evicting the least recently active', () => {
    const r = new UdpReassembler({ maxStreams: 8 });
    const evicted: string[] = [];
    for (let id = 0; id < 1000; id++) {
      const result = r.push(datagrams(payloadOf(100), 0, id)[0]!, A, id);
      if (result.evicted) evicted.push(result.evicted.key);
      expect(r.streamCount).toBeLessThanOrEqual(8);
      expect(r.pendingFrames).toBeLessThanOrEqual(8);
    }
    expect(evicted).toEqual(Array.from({ length: 992 }, (_, id) => `${A}#${id}`));
  });

  it('eviction spares a stream that was recently active', () => {
    const r = new UdpReassembler({ maxStreams: 2 });
    const s1 = datagrams(payloadOf(100), 0, 1);
    r.push(s1[0]!, A, 0);
    r.push(datagrams(payloadOf(100), 0, 2)[0]!, A, 1);
    r.push(s1[1]!, A, 2); // 1 is now more recent than 2
    const { evicted, newStream } = r.push(datagrams(payloadOf(100), 0, 3)[0]!, A, 3);
    expect(evicted).toMatchObject({ key: `${A}#2`, counters: { framesDropped: 1, datagramsLost: 2 } });
    expect(newStream?.key).toBe(`${A}#3`);
    expect(pushAll(r, s1.slice(2))).toHaveLength(1);
  });

  it('a flood of frameSeqs on one stream stays within maxFramesPerStream', () => {
    const r = new UdpReassembler({ maxFramesPerStream: 4 });
    for (let seq = 0; seq < 1000; seq++) {
      r.push(datagrams(payloadOf(100), seq)[0]!, A, 0);
      expect(r.pendingFrames).toBeLessThanOrEqual(4);
    }
    expect(counters(r)).toMatchObject({ framesDropped: 996, datagramsLost: 996 * 2 });
  });

  it('maxPendingBytes holds across streams, dropping the oldest frames first', () => {
    const limit = 20_000;
    const r = new UdpReassembler({ maxPendingBytes: limit });
    for (let id = 0; id < 50; id++) {
      const list = datagrams(payloadOf(5000, id), 0, id, 1200);
      pushAll(r, list.slice(0, 3), A, id); // never complete
      expect(r.pendingBytes).toBeLessThanOrEqual(limit);
    }
    // Each frame costs 3 * (1176 + overhead) = 4296: four fit; the newest four are the ones kept.
    expect(r.pendingFrames).toBe(4);
    expect(r.stream(`${A}#49`)!.counters.framesDropped).toBe(0);
    expect(r.stream(`${A}#45`)!.counters.framesDropped).toBe(1);
  });

  it('random garbage and random headers never throw and stay bounded', () => {
    const random = prng(42);
    const r = new UdpReassembler({ maxStreams: 16, maxPendingBytes: 1024 * 1024, maxFrameBytes: 1024 * 1024 });
    const byte = () => Math.floor(random() * 256);
    for (let i = 0; i < 20_000; i++) {
      const length = Math.floor(random() * 200);
      const datagram = Buffer.from(Array.from({ length }, byte));
      if (length >= UDP_HEADER_SIZE && random() < 0.8) {
        // Mostly well-formed prefixes, so validation past the magic gets exercised.
        datagram.writeUInt16BE(UDP_MAGIC, 0);
        datagram[2] = 1;
        datagram[3] = random() < 0.9 ? 0 : 1;
        datagram.writeUInt32BE(Math.floor(random() * 20), 4);
        datagram.writeUInt32BE(Math.floor(random() * 8), 8);
        const count = 1 + Math.floor(random() * 4);
        datagram.writeUInt16BE(Math.floor(random() * count), 12);
        datagram.writeUInt16BE(count, 14);
        const pieceSize = length - UDP_HEADER_SIZE;
        datagram.writeUInt32BE(Math.max(0, count * pieceSize - Math.floor(random() * 2)), 16);
        datagram.writeUInt32BE(datagram.readUInt16BE(12) * pieceSize, 20);
      }
      expect(() => r.push(datagram, random() < 0.5 ? A : B, i)).not.toThrow();
      expect(r.streamCount).toBeLessThanOrEqual(16);
      expect(r.pendingBytes).toBeLessThanOrEqual(1024 * 1024);
      if (i % 1000 === 0) r.expire(i, 5000);
    }
    expect(r.invalidDatagrams).toBeGreaterThan(0);
  });
});

describe('round trip with real JPEGs', () => {
  let jpegs: Buffer[];

  beforeAll(async () => {
    jpegs = await Promise.all(
      [16, 160, 640].map((width) =>
        sharp({ create: { width, height: (width * 3) / 4, channels: 3, background: '#808080', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
          .jpeg({ quality: 80 })
          .toBuffer(),
      ),
    );
  });

  for (const packetSize of [64, 1200, 65507]) {
    it(`split -> shuffle -> push gives byte-identical payloads at packet size ${packetSize}`, () => {
      const random = prng(packetSize);
      const r = new UdpReassembler();
      jpegs.forEach((jpeg, seq) => {
        const parts = frame(jpeg, { seq, captureTime: 1_700_000_000_000 + seq, label: 'cam' }).slice(1);
        const list = splitFrame(parts, { streamId: 0xdeadbeef, frameSeq: seq, packetSize }).map((d) => Buffer.concat(d));
        const got = pushAll(r, shuffle(list, random), B, seq);
        expect(got).toHaveLength(1);
        expect(got[0]!.payload.equals(Buffer.concat(parts))).toBe(true);
        expect(readMetadata(got[0]!.payload)).toMatchObject({ seq, label: 'cam' });
      });
      expect(counters(r, B, 0xdeadbeef)).toMatchObject({ framesReceived: 3, framesDropped: 0, datagramsLost: 0 });
    });
  }
});
