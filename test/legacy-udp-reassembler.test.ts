/**
 * The legacy UDP reassembly rules (docs/PROTOCOL.md, "Legacy UDP"), driven without sockets or
 * timers: datagrams with a timestamp in, images and replies out.
 */
import { describe, expect, it } from 'vitest';
import { LegacyUdpReassembler, type LegacyPushResult, type LegacySender } from '../src/reassemble/legacy-udp-reassembler.js';

const A: LegacySender = { address: '10.0.0.1', port: 5000, peer: '10.0.0.1:5000' };
const B: LegacySender = { address: '10.0.0.2', port: 5000, peer: '10.0.0.2:5000' };

/** A fake JPEG of `n` bytes (n >= 4): FF D8 ... FF D9, the middle counting up. */
function jpeg(n: number, fill = 0): Buffer {
  const b = Buffer.alloc(n, fill);
  b[0] = 0xff;
  b[1] = 0xd8;
  b[n - 2] = 0xff;
  b[n - 1] = 0xd9;
  return b;
}

function length8(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigInt64LE(BigInt(n));
  return b;
}

function length4(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
}

/** The datagrams of one image as the reference client sends them: its length, then 1024-byte pieces. */
function image(data: Buffer, piece = 1024, lengthOf = length8): Buffer[] {
  const out = [lengthOf(data.length)];
  for (let i = 0; i < data.length; i += piece) out.push(data.subarray(i, i + piece));
  return out;
}

function pushAll(r: LegacyUdpReassembler, datagrams: Buffer[], from: LegacySender, now: number): LegacyPushResult[] {
  return datagrams.map((d) => r.push(d, from, now));
}

function framesOf(results: LegacyPushResult[]): Buffer[] {
  return results.flatMap((r) => (r.frame ? [r.frame.payload] : []));
}

describe('LegacyUdpReassembler', () => {
  it('rebuilds an image from an 8- or a 4-byte length and its pieces, counting it received', () => {
    const r = new LegacyUdpReassembler();
    const one = jpeg(3000, 1);
    const two = jpeg(1024, 2);
    const first = pushAll(r, image(one), A, 0);
    const second = pushAll(r, image(two, 1024, length4), A, 1);
    expect(framesOf(first)).toEqual([one]);
    expect(framesOf(second)).toEqual([two]);
    const last = second.at(-1)!.frame!;
    expect(last.source).toEqual({ sender: A, frames: 2, loss: { framesReceived: 2, framesDropped: 0, datagramsLost: 0 } });
    expect(r.pendingBytes).toBe(0);
  });

  it('keeps senders apart by address and port', () => {
    const r = new LegacyUdpReassembler();
    const a = image(jpeg(2048, 1));
    const b = image(jpeg(2048, 2));
    const got: LegacyPushResult[] = [];
    for (let i = 0; i < a.length; i++) got.push(r.push(a[i]!, A, i), r.push(b[i]!, B, i));
    expect(got.filter((x) => x.frame).map((x) => [x.frame!.source.sender.peer, x.frame!.payload[2]])).toEqual([
      [A.peer, 1],
      [B.peer, 2],
    ]);
  });

  it('a complete image that is not FF D8 ... FF D9 is dropped and its sender replied to at once', () => {
    const r = new LegacyUdpReassembler();
    const results = pushAll(r, image(Buffer.alloc(2000, 7)), A, 0);
    expect(framesOf(results)).toEqual([]);
    expect(results.at(-1)!.reply).toEqual(A);
    expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 0, framesDropped: 1, datagramsLost: 0 });
  });

  it('a new length mid-image drops the image and estimates its missing pieces; no reply (the sender moved on)', () => {
    const r = new LegacyUdpReassembler();
    const cut = image(jpeg(5000));
    const next = jpeg(1500, 3);
    const results = pushAll(r, [...cut.slice(0, 2), ...image(next)], A, 0);
    expect(framesOf(results)).toEqual([next]);
    expect(results.some((x) => x.reply)).toBe(false);
    // 1024 of 5000 bytes arrived: ceil(3976 / 1024) = 4 pieces lost.
    expect(results.at(-1)!.frame!.source.loss).toEqual({ framesReceived: 1, framesDropped: 1, datagramsLost: 4 });
  });

  it('an exact fit is the last piece, even when it could be read as a length', () => {
    const r = new LegacyUdpReassembler();
    const data = jpeg(1032);
    // The last piece is 8 bytes: taken for the image's end, not for a new length.
    expect(framesOf(pushAll(r, image(data), A, 0))).toEqual([data]);
  });

  it('a piece running past the announced length drops the image; what follows is discarded until a length', () => {
    const r = new LegacyUdpReassembler();
    const data = jpeg(1500);
    const results = pushAll(r, [length8(1500), data.subarray(0, 1024), Buffer.alloc(1024), data.subarray(1024)], A, 0);
    expect(framesOf(results)).toEqual([]);
    const good = jpeg(1100, 4);
    expect(framesOf(pushAll(r, image(good), A, 1))).toEqual([good]);
    expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 1, framesDropped: 1, datagramsLost: 0 });
  });

  it('an implausible length refuses its image: its pieces are discarded, and silence replies for it', () => {
    const r = new LegacyUdpReassembler({ maxFrameBytes: 4096, maxAgeMs: 100 });
    const results = pushAll(r, image(jpeg(5000)), A, 0);
    expect(framesOf(results)).toEqual([]);
    expect(r.sweep(50, 10_000).replies).toEqual([]);
    const swept = r.sweep(100, 10_000);
    expect(swept.replies).toEqual([A]);
    expect(r.forgetAll()[0]!.loss.framesDropped).toBe(1);
  });

  it('pieces without a length (it was lost) are counted as one dropped image and one lost datagram, once silent', () => {
    const r = new LegacyUdpReassembler({ maxAgeMs: 100 });
    pushAll(r, image(jpeg(3000)).slice(1), A, 0);
    const swept = r.sweep(200, 10_000);
    expect(swept.replies).toEqual([A]);
    expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 0, framesDropped: 1, datagramsLost: 1 });
  });

  it('an image still incomplete after maxAgeMs of silence is dropped, its missing pieces estimated, and replied to', () => {
    const r = new LegacyUdpReassembler({ maxAgeMs: 100 });
    const datagrams = image(jpeg(4096));
    pushAll(r, datagrams.slice(0, 2), A, 0);
    expect(r.pendingBytes).toBe(1024 + 256);
    // Silence, not age: a datagram at 90 restarts the clock.
    r.push(datagrams[2]!, A, 90);
    expect(r.sweep(150, 10_000).replies).toEqual([]);
    expect(r.sweep(190, 10_000).replies).toEqual([A]);
    expect(r.pendingBytes).toBe(0);
    expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 0, framesDropped: 1, datagramsLost: 2 });
  });

  it('forgets a sender silent for the idle time, with its final counters', () => {
    const r = new LegacyUdpReassembler({ maxAgeMs: 100 });
    pushAll(r, image(jpeg(2000)), A, 0);
    expect(r.sweep(4999, 5000).gone).toEqual([]);
    const { gone } = r.sweep(5000, 5000);
    expect(gone).toEqual([{ sender: A, frames: 1, loss: { framesReceived: 1, framesDropped: 0, datagramsLost: 0 } }]);
    expect(r.sourceCount).toBe(0);
  });

  it('keeps incomplete images within maxPendingBytes by dropping the longest silent one', () => {
    const r = new LegacyUdpReassembler({ maxFrameBytes: 4096, maxPendingBytes: 6000 });
    const a = image(jpeg(4096, 1));
    const b = image(jpeg(4096, 2));
    pushAll(r, a.slice(0, 3), A, 0); // 2 pieces held: 2 x (1024 + 256)
    pushAll(r, b.slice(0, 4), B, 1); // B's third piece does not fit: A's image goes
    expect(r.pendingBytes).toBe(3 * 1280);
    // A's later pieces are discarded, its image counted dropped once.
    expect(framesOf(pushAll(r, a.slice(3), A, 2))).toEqual([]);
    expect(framesOf(pushAll(r, b.slice(4), B, 3))).toEqual([jpeg(4096, 2)]);
    const final = new Map(r.forgetAll().map((s) => [s.sender.peer, s.loss]));
    expect(final.get(A.peer)).toEqual({ framesReceived: 0, framesDropped: 1, datagramsLost: 0 });
    expect(final.get(B.peer)).toEqual({ framesReceived: 1, framesDropped: 0, datagramsLost: 0 });
  });

  it('at maxSources a newcomer replaces the longest silent sender with no image; when all deliver, it is refused until one is idle', () => {
    const r = new LegacyUdpReassembler({ maxSources: 2 });
    pushAll(r, image(jpeg(100)), A, 0);
    r.push(Buffer.alloc(10), B, 1); // B has delivered nothing
    const C: LegacySender = { address: '10.0.0.3', port: 1, peer: '10.0.0.3:1' };
    const replacing = r.push(length8(100), C, 2);
    expect(replacing.replaced?.sender).toEqual(B);
    pushAll(r, image(jpeg(100)).slice(1), C, 3);
    const D: LegacySender = { address: '10.0.0.4', port: 1, peer: '10.0.0.4:1' };
    const refused = r.push(length8(100), D, 4);
    expect(refused.refused?.code).toBe('ERR_TOO_MANY_SENDERS');
    expect(r.refusedDatagrams).toBe(1);
    // A, silent for over 2 s, makes room.
    const later = r.push(length8(100), D, 2003);
    expect(later.replaced?.sender).toEqual(A);
    expect(r.sourceCount).toBe(2);
  });

  it('an empty datagram is ignored, starting no sender', () => {
    const r = new LegacyUdpReassembler();
    expect(r.push(Buffer.alloc(0), A, 0)).toEqual({});
    expect(r.sourceCount).toBe(0);
  });
});
