/**
 * The legacy UDP reassembly rules (docs/PROTOCOL.md, "Legacy UDP"), driven without sockets or
 * timers: datagrams with a timestamp in, images and replies out.
 */
import { describe, expect, it } from 'vitest';
import { LegacyUdpReassembler, type LegacyPushResult, type LegacySender } from '../src/reassemble/legacy-udp-reassembler.js';
import { announcedLength, isWholeImage, readLegacyMessage } from '../src/frame/legacy-udp.js';
import type { Problem } from '../src/problems.js';

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

  describe('the other dialects of the reference programs', () => {
    it('an ASCII length datagram (`str(len(data)).encode()`, padded or not) starts an image like a binary one', () => {
      const r = new LegacyUdpReassembler();
      const one = jpeg(2500, 1);
      const two = jpeg(1024, 2);
      expect(framesOf(pushAll(r, image(one, 1024, (n) => Buffer.from(String(n))), A, 0))).toEqual([one]);
      expect(framesOf(pushAll(r, image(two, 1024, (n) => Buffer.from(String(n).padEnd(16))), A, 1))).toEqual([two]);
    });

    it('digits are a length even where they would exactly complete the image: no image ends in a digit', () => {
      const r = new LegacyUdpReassembler({ maxAgeMs: 100 });
      const cut = image(jpeg(1028));
      const next = jpeg(600, 5);
      // The 4-byte last piece is lost; the next image's length "600" is 3 bytes, "1028" would be 4.
      const results = pushAll(r, [cut[0]!, cut[1]!, Buffer.from('0600'), next], A, 0);
      expect(framesOf(results)).toEqual([next]);
      expect(problemsOf(results).map((p) => p.code)).toEqual(['ERR_LEGACY_INCOMPLETE']);
    });

    it('a whole JPEG or PNG in one datagram, with no length before it, is delivered as it is', () => {
      const r = new LegacyUdpReassembler();
      const photo = jpeg(3000, 1);
      const picture = png(2000);
      const results = pushAll(r, [photo, picture, photo], A, 0);
      expect(framesOf(results)).toEqual([photo, picture, photo]);
      expect(results.some((x) => x.reply || x.problems)).toBe(false);
      expect(results.at(-1)!.frame!.source).toMatchObject({ frames: 3, loss: { framesReceived: 3, framesDropped: 0, datagramsLost: 0 } });
    });

    it('a PNG sent the chunked way is delivered whole', () => {
      const r = new LegacyUdpReassembler();
      const picture = png(5000);
      expect(framesOf(pushAll(r, image(picture), A, 0))).toEqual([picture]);
    });

    it('a whole image arriving mid-image cuts that image short (said why, no reply) and is delivered', () => {
      const r = new LegacyUdpReassembler();
      const cut = image(jpeg(5000));
      const whole = jpeg(3000, 9);
      const results = pushAll(r, [...cut.slice(0, 3), whole], A, 0);
      expect(framesOf(results)).toEqual([whole]);
      expect(results.some((x) => x.reply)).toBe(false);
      expect(problemsOf(results)).toEqual([{ code: 'ERR_LEGACY_INCOMPLETE', message: `legacy UDP sender ${A.peer}: image dropped: 2048 of 5000 bytes arrived before a whole image came in one datagram` }]);
    });

    it('a JSON datagram is a message, replied to at once; it counts as no frame, dropped or received', () => {
      const r = new LegacyUdpReassembler();
      const results = pushAll(r, [Buffer.from(JSON.stringify({ frame: 1, objects: ['cat'] })), Buffer.from(' [1, 2.5, null] \n'), Buffer.from('"hi"')], A, 0);
      expect(results.map((x) => x.message?.value)).toEqual([{ frame: 1, objects: ['cat'] }, [1, 2.5, null], 'hi']);
      expect(results.map((x) => x.reply)).toEqual([A, A, A]);
      expect(results[0]!.message!.bytes).toBe(JSON.stringify({ frame: 1, objects: ['cat'] }).length);
      expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 0, framesDropped: 0, datagramsLost: 0 });
    });

    it('a JSON message larger than what an image still needs interrupts nothing: the image goes on', () => {
      const r = new LegacyUdpReassembler();
      const data = jpeg(1500, 3);
      const [length, first, last] = image(data);
      const message = Buffer.from(JSON.stringify({ note: 'x'.repeat(900) }));
      const results = pushAll(r, [length!, first!, message, last!], A, 0);
      expect(results[2]!.message?.value).toEqual({ note: 'x'.repeat(900) });
      expect(framesOf(results)).toEqual([data]);
    });

    it('a sender of messages counts as delivering: a flood of new ports does not push it out', () => {
      const r = new LegacyUdpReassembler({ maxSources: 2 });
      r.push(Buffer.from('{}'), A, 0);
      r.push(Buffer.alloc(10, 1), B, 1);
      const C: LegacySender = { address: '10.0.0.3', port: 1, peer: '10.0.0.3:1' };
      // B, which sent nothing usable, makes room; A, more silent but delivering messages, stays.
      expect(r.push(length8(100), C, 2).replaced?.sender).toEqual(B);
      pushAll(r, image(jpeg(100)).slice(1), C, 3);
      const D: LegacySender = { address: '10.0.0.4', port: 1, peer: '10.0.0.4:1' };
      expect(r.push(length8(100), D, 3).refused?.code).toBe('ERR_TOO_MANY_SENDERS');
    });

    it('every image dropped says why, with a code of its own and the count', () => {
      const r = new LegacyUdpReassembler({ maxAgeMs: 100, maxFrameBytes: 100_000 });
      const got: Problem[] = [];
      const run = (datagrams: Buffer[], at: number) => got.push(...problemsOf(pushAll(r, datagrams, A, at)));
      const sweep = (at: number) => got.push(...r.sweep(at, 10_000).problems);
      const data = jpeg(3000);
      const pieces = image(data);
      run(pieces.slice(0, 2), 0); // then silence
      sweep(100);
      run([length8(1500), Buffer.alloc(1024), Buffer.alloc(1024)], 200); // more bytes than announced
      run([Buffer.from('garbage!!'), Buffer.alloc(5, 0xee)], 201); // after the overflow: discarded with it
      sweep(301);
      run(image(Buffer.alloc(1100, 7)), 400); // the right length, not an image
      run([Buffer.from('hello, not an image, not JSON'), Buffer.from('{"broken": ')], 500);
      sweep(600);
      run([length8(0)], 700);
      run([Buffer.from('200000')], 701); // digits over the limit
      sweep(801);
      run([...pieces.slice(0, 2), length8(1200)], 900); // cut short by a new length, which then times out with nothing
      sweep(1000);
      expect(got.map((p) => p.code)).toEqual([
        'ERR_LEGACY_INCOMPLETE',
        'ERR_LEGACY_OVERFLOW',
        'ERR_LEGACY_NOT_IMAGE',
        'ERR_LEGACY_NO_LENGTH',
        'ERR_LEGACY_BAD_LENGTH',
        'ERR_FRAME_TOO_LARGE',
        'ERR_LEGACY_INCOMPLETE',
        'ERR_LEGACY_INCOMPLETE',
      ]);
      expect(got.map((p) => p.message)).toEqual([
        `legacy UDP sender ${A.peer}: image dropped: 1024 of 3000 bytes arrived before its sender fell silent for 100 ms`,
        `legacy UDP sender ${A.peer}: image dropped: a 1024-byte datagram would run past the 1500 bytes announced (1024 arrived): a stray or duplicated datagram`,
        `legacy UDP sender ${A.peer}: image dropped: its 1100 bytes are neither a whole JPEG (FF D8 ... FF D9) nor a whole PNG (signature ... IEND)`,
        `legacy UDP sender ${A.peer}: 2 datagrams (40 bytes) dropped: neither a length (digits or a 4- or 8-byte long), a whole JPEG or PNG, nor JSON, and no length datagram before them`,
        `legacy UDP sender ${A.peer}: image refused: its length datagram announces 0 bytes`,
        `legacy UDP sender ${A.peer}: image refused: its length datagram announces 200000 bytes, over the limit of 100000`,
        `legacy UDP sender ${A.peer}: image dropped: 1024 of 3000 bytes arrived before a new length datagram`,
        `legacy UDP sender ${A.peer}: image dropped: 0 of 1200 bytes arrived before its sender fell silent for 100 ms`,
      ]);
      expect(r.forgetAll()[0]!.loss.framesDropped).toBe(got.length);
    });

    it('a lone garbage datagram is dropped once its sender falls silent: replied to, counted, said why', () => {
      const r = new LegacyUdpReassembler({ maxAgeMs: 100 });
      expect(r.push(Buffer.from('\x00\x01garbage'), A, 0)).toEqual({});
      const swept = r.sweep(100, 10_000);
      expect(swept.replies).toEqual([A]);
      expect(swept.problems.map((p) => p.code)).toEqual(['ERR_LEGACY_NO_LENGTH']);
      expect(r.forgetAll()[0]!.loss).toEqual({ framesReceived: 0, framesDropped: 1, datagramsLost: 1 });
    });
  });
});

describe('LegacyUdpReassembler under random datagrams', () => {
  it('never throws, stays within its memory bound, and gives a reason for every image it drops', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const r = new LegacyUdpReassembler({ maxAgeMs: 50, maxFrameBytes: 8000, maxPendingBytes: 20_000, maxSources: 1000 });
    const senders = [A, B, { address: '::1', port: 7, peer: '[::1]:7' }];
    const images = [jpeg(700, 1), jpeg(3000, 2), png(1500), Buffer.alloc(900, 3)];
    const kinds: (() => Buffer)[] = [
      () => length8(Math.floor(random() * 9000) - 500),
      () => length4(pick(images).length),
      () => Buffer.from(String(Math.floor(random() * 10_000))),
      () => {
        const image = pick(images);
        const start = Math.floor(random() * image.length);
        return image.subarray(start, Math.min(image.length, start + 1 + Math.floor(random() * 1024)));
      },
      () => pick(images),
      () => Buffer.from(JSON.stringify({ n: random(), deep: [[[{}]]] })),
      () => Buffer.from(`${'['.repeat(70)}1${']'.repeat(70)}`),
      () => Buffer.from(Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256))),
    ];
    let problems = 0;
    let frames = 0;
    let now = 0;
    for (let i = 0; i < 20_000; i++) {
      now += random() < 0.01 ? 60 : random();
      const result = r.push(pick(kinds)(), pick(senders), now);
      problems += result.problems?.length ?? 0;
      if (result.frame) {
        frames += 1;
        expect(isWholeImage(result.frame.payload)).toBe(true);
      }
      if (i % 100 === 0) problems += r.sweep(now, 10_000).problems.length;
      expect(r.pendingBytes).toBeLessThanOrEqual(20_000);
    }
    // Far in the future every unfinished image is settled, with its reason, before its sender goes.
    const last = r.sweep(now + 1_000_000, 10_000);
    problems += last.problems.length;
    expect(r.sourceCount).toBe(0);
    const dropped = last.gone.reduce((sum, state) => sum + state.loss.framesDropped, 0);
    expect(last.gone.reduce((sum, state) => sum + state.frames, 0)).toBe(frames);
    expect(frames).toBeGreaterThan(100);
    expect(dropped).toBeGreaterThan(100);
    expect(problems).toBe(dropped);
  });
});

describe('legacy datagram kinds', () => {
  it('reads lengths as digits first, then as a 4- or 8-byte little-endian long', () => {
    expect(announcedLength(Buffer.from('1234'))).toEqual({ value: 1234, digits: true });
    expect(announcedLength(Buffer.from(' 42\0\0\r\n'))).toEqual({ value: 42, digits: true });
    expect(announcedLength(length4(1234))).toEqual({ value: 1234, digits: false });
    expect(announcedLength(length8(-5))).toEqual({ value: -5, digits: false });
    expect(announcedLength(Buffer.from('9'.repeat(30)))).toEqual({ value: Number.MAX_SAFE_INTEGER, digits: true });
    for (const other of ['12 34', '', '   ', '12a', '9'.repeat(33), '-12']) expect(announcedLength(Buffer.from(other)), other).toBeUndefined();
  });

  it('tells whole JPEGs and PNGs by their ends', () => {
    expect(isWholeImage(jpeg(10))).toBe(true);
    expect(isWholeImage(png(100))).toBe(true);
    expect(isWholeImage(png(100).subarray(0, 99))).toBe(false);
    expect(isWholeImage(jpeg(10).subarray(0, 9))).toBe(false);
    expect(isWholeImage(Buffer.from('{"a":1}'))).toBe(false);
  });

  it('takes JSON that is valid UTF-8 and nested at most 64 deep; nothing else', () => {
    expect(readLegacyMessage(Buffer.from('{"a":[1,{"b":"}]"}]}'))).toEqual({ a: [1, { b: '}]' }] });
    expect(readLegacyMessage(Buffer.from(`${'['.repeat(64)}${']'.repeat(64)}`))).toBeDefined();
    expect(readLegacyMessage(Buffer.from(`${'['.repeat(65)}${']'.repeat(65)}`))).toBeUndefined();
    expect(readLegacyMessage(Buffer.from([0x22, 0xff, 0x22]))).toBeUndefined();
    expect(readLegacyMessage(Buffer.from('{"a":'))).toBeUndefined();
    expect(readLegacyMessage(jpeg(100))).toBeUndefined();
    expect(readLegacyMessage(Buffer.alloc(70_000, 0x20))).toBeUndefined();
  });
});

/** A fake PNG of `n` bytes (n >= 20): the signature, filler, the IEND chunk. */
function png(n: number): Buffer {
  const b = Buffer.alloc(n, 0x11);
  Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]).copy(b, 0);
  Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]).copy(b, n - 12);
  return b;
}

function problemsOf(results: LegacyPushResult[]): Problem[] {
  return results.flatMap((r) => r.problems ?? []);
}
