import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { frame, framedLength } from '../src/frame/framer.js';
import { parseHeader } from '../src/frame/header.js';
import {
  MAX_TEXT_BYTES,
  METADATA_IDENTIFIER,
  metadataInsertOffset,
  metadataSegment,
  readMetadata,
  withoutMetadata,
} from '../src/frame/metadata.js';
import type { FrameMeta } from '../src/frame/frame.js';

const PYTHON = '/usr/bin/python3';
const cv2Missing = spawnSync(PYTHON, ['-c', 'import cv2, numpy'], { stdio: 'ignore' }).status !== 0;

/** A JFIF APP0 segment as libjpeg writes it: version 1.01, no density units, 1:1, no thumbnail. */
const JFIF_APP0 = Buffer.from('ffe000104a46494600010100000100010000', 'hex');

let plain: Buffer; // sharp's default output: SOI then DQT, no APP0
let jfif: Buffer; // the same image with a JFIF APP0 first
let exif: Buffer; // sharp withMetadata(): SOI then an Exif APP1

const META: FrameMeta = { seq: 41, captureTime: 1_731_000_000_123.25, label: 'Küche 📷 カメラ "cam" \\ 1', name: 'ünïcode 10.png' };

/** The payload a receiver gets: everything after the header. */
function sent(jpeg: Buffer, meta?: FrameMeta): Buffer {
  return Buffer.concat(frame(jpeg, meta).slice(1));
}

/** A JPEG with `segment` spliced in right after SOI. */
function withSegment(jpeg: Buffer, segment: Buffer): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), segment, jpeg.subarray(2)]);
}

function app7(payload: Buffer, length = payload.length + 2): Buffer {
  const head = Buffer.from([0xff, 0xe7, 0, 0]);
  head.writeUInt16BE(length, 2);
  return Buffer.concat([head, payload]);
}

function ours(version: number, json: string): Buffer {
  return app7(Buffer.concat([METADATA_IDENTIFIER, Buffer.from([version]), Buffer.from(json)]));
}

beforeAll(async () => {
  const image = () => sharp({ create: { width: 64, height: 48, channels: 3, background: '#3a7' } });
  plain = await image().jpeg().toBuffer();
  jfif = withSegment(plain, JFIF_APP0);
  exif = await image().jpeg().withMetadata().toBuffer();
  expect(plain.subarray(0, 4).toString('hex')).toBe('ffd8ffdb');
  expect(exif.subarray(0, 4).toString('hex')).toBe('ffd8ffe1');
});

describe('metadata segment', () => {
  it('round-trips seq, captureTime, label and name, non-ASCII included', () => {
    for (const jpeg of [plain, jfif, exif]) expect(readMetadata(sent(jpeg, META))).toEqual(META);
    expect(readMetadata(sent(plain, { seq: 0, captureTime: 0 }))).toEqual({ seq: 0, captureTime: 0 });
  });

  it('has the documented layout', () => {
    const segment = metadataSegment({ seq: 1, captureTime: 2, label: 'a' });
    expect(segment.subarray(0, 2).toString('hex')).toBe('ffe7');
    expect(segment.readUInt16BE(2)).toBe(segment.length - 2);
    expect(segment.subarray(4, 12).toString('latin1')).toBe('VSTREAM\0');
    expect(segment[12]).toBe(1);
    expect(segment.subarray(13).toString()).toBe('{"seq":1,"captureTime":2,"label":"a"}');
  });

  it('goes right after SOI, or after the JFIF APP0 / Exif APP1 that must come first', () => {
    expect(metadataInsertOffset(plain)).toBe(2);
    expect(metadataInsertOffset(jfif)).toBe(2 + JFIF_APP0.length);
    expect(metadataInsertOffset(exif)).toBe(4 + exif.readUInt16BE(4));
    const withJfif = sent(jfif, META);
    expect(withJfif.subarray(0, 2 + JFIF_APP0.length).equals(jfif.subarray(0, 2 + JFIF_APP0.length))).toBe(true);
    expect(withJfif.subarray(20, 22).toString('hex')).toBe('ffe7');
  });

  it('is framed without copying the JPEG, and the header counts it', () => {
    const parts = frame(jfif, META);
    expect(parts).toHaveLength(4);
    expect(parts[1]!.buffer).toBe(jfif.buffer);
    expect(parts[3]!.buffer).toBe(jfif.buffer);
    expect(parseHeader(parts[0]!, 1 << 20)).toBe(framedLength(parts) - 16);
    const bare = frame(jfif);
    expect(bare[1]).toBe(jfif);
    expect(parseHeader(bare[0]!, 1 << 20)).toBe(jfif.length);
  });

  it('strips back to the byte-identical original without copying', () => {
    for (const jpeg of [plain, jfif, exif]) {
      const received = sent(jpeg, META);
      const pieces = withoutMetadata(received);
      for (const piece of pieces) expect(piece.buffer).toBe(received.buffer);
      expect(Buffer.concat(pieces).equals(jpeg)).toBe(true);
      expect(withoutMetadata(jpeg)).toEqual([jpeg]);
    }
  });

  it('reads and strips only the first vstream segment', () => {
    // A vstream sender replaces a segment it finds (see payload.test.ts); another program may not.
    const older = sent(plain, { seq: 1, captureTime: 1 });
    const newer = withSegment(older, metadataSegment({ seq: 2, captureTime: 2 }));
    expect(readMetadata(newer)?.seq).toBe(2);
    expect(Buffer.concat(withoutMetadata(newer)).equals(older)).toBe(true);
  });

  it('truncates huge labels and names at a character boundary so the segment fits', () => {
    const meta = { seq: 1, captureTime: 1, label: '€'.repeat(100_000), name: '\u0001'.repeat(100_000) };
    const segment = metadataSegment(meta);
    expect(segment.length).toBeLessThanOrEqual(0xffff + 2);
    expect(segment.readUInt16BE(2)).toBe(segment.length - 2);
    const back = readMetadata(withSegment(plain, segment))!;
    expect(back.label).toBe('€'.repeat(Math.floor(MAX_TEXT_BYTES / 3)));
    expect(back.name).toBe('\u0001'.repeat(MAX_TEXT_BYTES));
    const emoji = readMetadata(withSegment(plain, metadataSegment({ seq: 1, captureTime: 1, label: 'x📷'.repeat(5000) })))!;
    expect(Buffer.byteLength(emoji.label!)).toBeLessThanOrEqual(MAX_TEXT_BYTES);
    expect('x📷'.repeat(5000).startsWith(emoji.label!)).toBe(true);
    expect(emoji.label).not.toContain('\ufffd');
  });

  it('replaces lone surrogates so the JSON stays well-formed UTF-8', () => {
    expect(readMetadata(sent(plain, { seq: 1, captureTime: 1, label: 'a\ud800b' }))?.label).toBe('a\ufffdb');
  });

  it('refuses invalid numbers from the caller', () => {
    for (const meta of [
      { seq: -1, captureTime: 0 },
      { seq: 1.5, captureTime: 0 },
      { seq: 0, captureTime: Number.NaN },
      { seq: 0, captureTime: Infinity },
    ]) {
      expect(() => metadataSegment(meta)).toThrow(RangeError);
    }
  });

  it('refuses to insert into something that is not a JPEG', () => {
    for (const bytes of [Buffer.alloc(0), Buffer.from([0xff]), Buffer.from('GIF89a')]) {
      expect(() => metadataInsertOffset(bytes)).toThrow(ProtocolError);
      let code: string | undefined;
      try {
        frame(bytes, META);
      } catch (err) {
        code = (err as ProtocolError).code;
      }
      expect(code).toBe('ERR_NOT_JPEG');
    }
    expect(frame(Buffer.from('GIF89a'))).toHaveLength(2);
  });
});

describe('decoders ignore the segment', () => {
  it('sharp decodes the same pixels with and without it', async () => {
    for (const jpeg of [plain, jfif, exif]) {
      const original = await sharp(jpeg).raw().toBuffer();
      const tagged = await sharp(sent(jpeg, META)).raw().toBuffer();
      expect(tagged.equals(original)).toBe(true);
    }
  });

  it.skipIf(cv2Missing)(`OpenCV (cv2.imdecode) decodes the same pixels${cv2Missing ? ' [SKIPPED: cv2 is not importable by /usr/bin/python3; apt-get install python3-opencv]' : ''}`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'vstream-meta-'));
    try {
      const a = join(dir, 'original.jpg');
      const b = join(dir, 'tagged.jpg');
      writeFileSync(a, jfif);
      writeFileSync(b, sent(jfif, META));
      const script = [
        'import sys, cv2, numpy as np',
        'imgs = [cv2.imdecode(np.fromfile(p, np.uint8), cv2.IMREAD_COLOR) for p in sys.argv[1:]]',
        'print(imgs[1] is not None and imgs[1].shape == (48, 64, 3) and np.array_equal(imgs[0], imgs[1]))',
      ].join('\n');
      expect(execFileSync(PYTHON, ['-c', script, a, b], { encoding: 'utf8' }).trim()).toBe('True');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('readMetadata on hostile or foreign input never throws', () => {
  const cases: [string, () => Buffer][] = [
    ['empty buffer', () => Buffer.alloc(0)],
    ['not a JPEG', () => Buffer.from('hello world, definitely not a jpeg')],
    ['SOI only', () => Buffer.from([0xff, 0xd8])],
    ['SOI and a lone marker byte', () => Buffer.from([0xff, 0xd8, 0xff])],
    ['segment cut inside its length', () => Buffer.from([0xff, 0xd8, 0xff, 0xe7, 0x01])],
    ['length past the end', () => withSegment(plain, app7(Buffer.concat([METADATA_IDENTIFIER, Buffer.from([1, 0x7b])]), 0xfff0)).subarray(0, 40)],
    ['length 0', () => withSegment(plain, app7(Buffer.alloc(0), 0))],
    ['length 1', () => withSegment(plain, app7(Buffer.alloc(0), 1))],
    ['foreign APP7', () => withSegment(plain, app7(Buffer.from('OTHERAPP\0\x01{"seq":1,"captureTime":1}')))],
    ['identifier only', () => withSegment(plain, app7(METADATA_IDENTIFIER))],
    ['unknown version', () => withSegment(plain, ours(2, '{"seq":1,"captureTime":1}'))],
    ['bad JSON', () => withSegment(plain, ours(1, '{"seq":1,'))],
    ['invalid UTF-8', () => withSegment(plain, app7(Buffer.concat([METADATA_IDENTIFIER, Buffer.from([1, 0xc3, 0x28])])))],
    ['JSON array', () => withSegment(plain, ours(1, '[1,2]'))],
    ['JSON null', () => withSegment(plain, ours(1, 'null'))],
    ['seq as string', () => withSegment(plain, ours(1, '{"seq":"1","captureTime":1}'))],
    ['negative seq', () => withSegment(plain, ours(1, '{"seq":-1,"captureTime":1}'))],
    ['fractional seq', () => withSegment(plain, ours(1, '{"seq":1.5,"captureTime":1}'))],
    ['missing captureTime', () => withSegment(plain, ours(1, '{"seq":1}'))],
    ['label as number', () => withSegment(plain, ours(1, '{"seq":1,"captureTime":1,"label":5}'))],
    ['name as object', () => withSegment(plain, ours(1, '{"seq":1,"captureTime":1,"name":{}}'))],
    ['our segment after SOS', () => Buffer.concat([plain.subarray(0, plain.length - 2), metadataSegment(META), Buffer.from([0xff, 0xd9])])],
  ];
  for (const [name, make] of cases) {
    it(name, () => {
      const bytes = make();
      expect(readMetadata(bytes)).toBeUndefined();
      expect(() => withoutMetadata(bytes)).not.toThrow();
    });
  }

  it('ignores unknown JSON keys, for later senders', () => {
    const jpeg = withSegment(plain, ours(1, '{"seq":3,"captureTime":4,"label":"x","future":[1]}'));
    expect(readMetadata(jpeg)).toEqual({ seq: 3, captureTime: 4, label: 'x' });
  });

  it('skips foreign segments and fill bytes before ours', () => {
    const foreign = app7(Buffer.from('OTHERAPP'));
    const jpeg = withSegment(plain, Buffer.concat([foreign, Buffer.from([0xff, 0xff]), metadataSegment(META)]));
    expect(readMetadata(jpeg)).toEqual(META);
    expect(Buffer.concat(withoutMetadata(jpeg)).equals(withSegment(plain, Buffer.concat([foreign, Buffer.from([0xff, 0xff])])))).toBe(true);
  });
});
