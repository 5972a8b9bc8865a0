// The seeded mutator behind test/fuzz-recv.test.ts and `BENCH_ONLY=attacks`: hostile TCP
// frames and UDP datagrams made from real JPEGs (and small PNGs) with vstream metadata. Plain JS on the compiled
// dist/ (like lossy-relay.mjs) so that the bench, which has no TypeScript, shares it.
//
// Every case is a pure function of (seed, index): case 417 of seed 7 is the same bytes whether
// it is made alone or as part of a run of 50 000, so one failing case can be replayed alone.
import { encodeHeader, HEADER_SIZE } from '../../dist/frame/header.js';
import { METADATA_IDENTIFIER, METADATA_MARKER, METADATA_VERSION, metadataInsertOffset, metadataSegment } from '../../dist/frame/metadata.js';
import { jpegSegments } from '../../dist/frame/jpeg-segments.js';
import { payloadParts } from '../../dist/frame/payload.js';
import { chunkCrc, makeChunk, pngChunks } from '../../dist/frame/png-chunks.js';
import { PNG_METADATA_CHUNK } from '../../dist/frame/png-metadata.js';
import { deflateSync } from 'node:zlib';
import { DatagramType, endDatagram, splitFrame, UDP_HEADER_SIZE } from '../../dist/frame/udp-datagram.js';
import { mulberry32 } from '../lossy-relay.mjs';

/** The label of the well-behaved sender; no hostile case ever uses it, so its frames can be counted. */
export const GOOD_LABEL = 'good';

/** A PRNG for one case, independent of every other case of the seed. */
export function caseRandom(seed, index) {
  // Two rounds of integer hashing so that neighbouring (seed, index) pairs do not correlate.
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(index + 1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return mulberry32((h ^ (h >>> 16)) >>> 0);
}

const int = (r, lo, hi) => lo + Math.floor(r() * (hi - lo + 1));
const pick = (r, list) => list[Math.floor(r() * list.length)];
const randomBytes = (r, n) => {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
  return b;
};
/** A weighted choice: `table` is [[weight, value], ...]. */
function weighted(r, table) {
  const total = table.reduce((a, [w]) => a + w, 0);
  let x = r() * total;
  for (const [w, value] of table) {
    x -= w;
    if (x < 0) return value;
  }
  return table[table.length - 1][1];
}

/** Text a peer may choose for a label or a name, worst first. */
export const HOSTILE_TEXTS = [
  '../',
  '../../../../etc/passwd',
  '..',
  '.',
  '',
  ' ',
  '/',
  '\\..\\..\\windows',
  'a/b/c',
  'C:\\temp\\x',
  'CON',
  'NUL.jpg',
  '000000.jpg',
  '000001.jpg',
  '000000',
  'é'.repeat(200),
  'é'.repeat(300),
  'x'.repeat(256),
  'x'.repeat(4096),
  'A'.repeat(60_000),
  '\x1b[2J\x1b[31mred\x1b[0m',
  '\x1b]0;window title\x07',
  '\r\nvstream: fake log line',
  'nul\x00byte',
  'del\x7f and csi\x9b',
  'right-to-left \u202egpj.exe',
  '\x1b'.repeat(9000),
  '📷'.repeat(50),
  '👨‍👩‍👧‍👦',
  'lone \ud800 surrogate',
  '\ufeffbom',
  '.hidden',
  'name.with.dots.png',
  'trailing space ',
];

/** A random string: printable, control, multi-byte and astral characters mixed. */
function randomText(r) {
  const n = weighted(r, [[6, int(r, 1, 40)], [2, int(r, 200, 400)], [1, int(r, 1000, 20_000)]]);
  const pools = [
    () => String.fromCharCode(int(r, 0x20, 0x7e)),
    () => String.fromCharCode(int(r, 0, 0x1f)),
    () => String.fromCharCode(int(r, 0x7f, 0x9f)),
    () => String.fromCodePoint(int(r, 0xa0, 0x2fff)),
    () => String.fromCodePoint(int(r, 0x1f300, 0x1faff)),
    () => pick(r, ['/', '\\', '.', ':', '*', '?', '"', '<', '>', '|', '\u202e', '\u2066']),
  ];
  let s = '';
  for (let i = 0; i < n; i++) s += pick(r, pools)();
  return s;
}

function hostileText(r) {
  const text = r() < 0.6 ? pick(r, HOSTILE_TEXTS) : randomText(r);
  // Keeps the good sender's frames countable: only it may be called that.
  return text.toLowerCase().includes(GOOD_LABEL) ? text.replace(/good/gi, 'bad') : text;
}

/** `jpeg` with `segment` inserted where vstream senders put metadata. */
function withSegment(jpeg, segment) {
  const at = metadataInsertOffset(jpeg);
  return Buffer.concat([jpeg.subarray(0, at), segment, jpeg.subarray(at)]);
}

/** A metadata segment from raw JSON bytes, with optional damage to its frame. */
function rawMetadataSegment(json, { version = METADATA_VERSION, identifier = METADATA_IDENTIFIER, lengthDelta = 0 } = {}) {
  const body = Buffer.concat([identifier, Buffer.from([version]), json]);
  const segment = Buffer.alloc(4 + body.length);
  segment[0] = 0xff;
  segment[1] = METADATA_MARKER;
  segment.writeUInt16BE(Math.max(0, Math.min(0xffff, body.length + 2 + lengthDelta)), 2);
  body.copy(segment, 4);
  return segment;
}

function sofSegments(jpeg) {
  return [...jpegSegments(jpeg)].filter(({ marker }) => marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker));
}

// ---- PNG frames, made here so that every case stays a pure function of (seed, index)

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** A small PNG: `colourType` 0 (grey), 2 (RGB), 6 (RGBA); `depth` 8 or 16; a gradient, so its IDAT is not all zeros. */
function makePng(width, height, colourType, depth) {
  const channels = { 0: 1, 2: 3, 6: 4 }[colourType];
  const rowBytes = 1 + (width * channels * depth) / 8;
  const raw = Buffer.alloc(rowBytes * height);
  for (let y = 0; y < height; y++) for (let i = 1; i < rowBytes; i++) raw[y * rowBytes + i] = (i * 7 + y * 13) & 0xff;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = depth;
  ihdr[9] = colourType;
  return Buffer.concat([PNG_SIGNATURE, makeChunk('IHDR', ihdr), makeChunk('IDAT', deflateSync(raw)), makeChunk('IEND', Buffer.alloc(0))]);
}

const PNG_BASES = [makePng(64, 48, 2, 8), makePng(33, 17, 6, 8), makePng(40, 30, 0, 8), makePng(20, 12, 2, 16)];

function pngWithMeta(r, seq, label) {
  return Buffer.concat(payloadParts(pick(r, PNG_BASES), { seq, captureTime: Date.now(), label }));
}

/** `png` with the chunk of our metadata holding `payload` (identifier, version, JSON) right after IHDR. */
function pngWithChunk(png, payload) {
  const ihdrEnd = pngChunks(png).next().value.end;
  return Buffer.concat([png.subarray(0, ihdrEnd), makeChunk(PNG_METADATA_CHUNK, payload), png.subarray(ihdrEnd)]);
}

const PNG_MUTATIONS = [
  [2, 'png-valid', (r, _jpeg, seq) => pngWithMeta(r, seq, `fuzz-png-${int(r, 0, 9)}`)],
  [2, 'png-meta', (r, _jpeg, seq) => {
    const meta = { seq, captureTime: Date.now(), label: hostileText(r), ...(r() < 0.5 && { name: hostileText(r) }) };
    // The segment's payload (after FF E7 and its length) is the chunk's data.
    return pngWithChunk(pick(r, PNG_BASES), metadataSegmentRaw(meta).subarray(4));
  }],
  [2, 'png-ihdr-size', (r, _jpeg, seq) => {
    const out = pngWithMeta(r, seq, 'fuzz-png-size');
    const ihdr = pngChunks(out).next().value;
    const [width, height] = pick(r, [[0, 0], [100_000, 100_000], [2 ** 31 - 1, 2 ** 31 - 1], [2 ** 32 - 1, 1], [8192, 8193], [65535, 65535], [int(r, 1, 2 ** 31), int(r, 1, 2 ** 31)]]);
    out.writeUInt32BE(width >>> 0, ihdr.dataStart);
    out.writeUInt32BE(height >>> 0, ihdr.dataStart + 4);
    // Mostly a consistent CRC, so that only a size check refuses it.
    if (r() < 0.8) out.writeUInt32BE(chunkCrc(out, ihdr), ihdr.dataEnd);
    return out;
  }],
  [2, 'png-truncated', (r, _jpeg, seq) => {
    const out = pngWithMeta(r, seq, 'fuzz-png-truncated');
    return out.subarray(0, int(r, 1, out.length - 1));
  }],
  [2, 'png-chunk-length', (r, _jpeg, seq) => {
    const out = pngWithMeta(r, seq, 'fuzz-png-length');
    // Chunk starts: walk by the honest lengths, IDAT and IEND included.
    const starts = [];
    for (let pos = 8; pos + 12 <= out.length; pos += 12 + out.readUInt32BE(pos)) starts.push(pos);
    out.writeUInt32BE(pick(r, [0, 1, 2 ** 31 - 1, 2 ** 31, 2 ** 32 - 1, int(r, 0, 2 ** 32 - 1)]) >>> 0, pick(r, starts));
    return out;
  }],
  [2, 'png-bit-flips', (r, _jpeg, seq) => {
    const out = pngWithMeta(r, seq, 'fuzz-png-flips');
    for (let i = 0, n = pick(r, [1, 2, 8, 64]); i < n; i++) out[int(r, 8, out.length - 1)] ^= 1 << int(r, 0, 7);
    return out;
  }],
  [1, 'png-idat', (r, _jpeg, seq) => {
    // IHDR and our chunk intact; image data that is not zlib, or inflates to the wrong size.
    const png = pngWithMeta(r, seq, 'fuzz-png-idat');
    const idat = png.indexOf('IDAT', 8, 'latin1') - 4;
    const data = pick(r, [() => randomBytes(r, int(r, 1, 2000)), () => deflateSync(Buffer.alloc(int(r, 0, 200_000))), () => Buffer.alloc(0)])();
    return Buffer.concat([png.subarray(0, idat), makeChunk('IDAT', data), makeChunk('IEND', Buffer.alloc(0))]);
  }],
];

/** The payload mutations: a JPEG (with metadata) whose framing on the wire stays intact. */
const PAYLOAD_MUTATIONS = [
  // ---- metadata
  [4, 'meta-label', (r, jpeg, seq) => withSegment(jpeg, metadataSegmentRaw({ seq, captureTime: Date.now(), label: hostileText(r) }))],
  [4, 'meta-name', (r, jpeg, seq) => withSegment(jpeg, metadataSegmentRaw({ seq, captureTime: Date.now(), label: `fuzz-${int(r, 0, 9)}`, name: hostileText(r) }))],
  [2, 'meta-label-and-name', (r, jpeg, seq) => withSegment(jpeg, metadataSegmentRaw({ seq, captureTime: Date.now(), label: hostileText(r), name: hostileText(r) }))],
  [3, 'meta-types', (r, jpeg, seq) => {
    const values = [-1, 1.5, 2 ** 53, 1e308, -0, 'text', '', null, true, [], {}, [1, 2], { a: 1 }, 'x'.repeat(5000)];
    const meta = { seq, captureTime: Date.now(), label: 'fuzz-types' };
    for (const key of ['seq', 'captureTime', 'label', 'name', 'live']) if (r() < 0.4) meta[key] = pick(r, values);
    if (r() < 0.2) meta.extra = hostileText(r);
    let json = JSON.stringify(meta);
    // A literal "__proto__" key: JSON.parse makes it an own property, a careless merge a prototype.
    if (r() < 0.2) json = `{"__proto__":{"label":"polluted","live":true},${json.slice(1)}`;
    return withSegment(jpeg, rawMetadataSegment(Buffer.from(json)));
  }],
  [2, 'meta-not-object', (r, jpeg) => withSegment(jpeg, rawMetadataSegment(Buffer.from(pick(r, ['[]', 'null', '42', '"label"', 'true', '[{"seq":1}]', '{', '{"seq":', '{"seq":1,"captureTime":1,"label":"x"', '', '{}{}', '{"seq":1e999,"captureTime":1}']))))],
  [2, 'meta-bad-bytes', (r, jpeg, seq) => {
    const json = Buffer.from(JSON.stringify({ seq, captureTime: Date.now(), label: 'fuzz-bytes', name: 'n' }));
    // Invalid UTF-8 (lone continuation, overlong, surrogate halves) inside the strings.
    const bad = pick(r, [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff, 0xfe], [0xf4, 0x90, 0x80, 0x80]]);
    const at = json.indexOf('fuzz-bytes') + 2;
    return withSegment(jpeg, rawMetadataSegment(Buffer.concat([json.subarray(0, at), Buffer.from(bad), json.subarray(at)])));
  }],
  [2, 'meta-segment-frame', (r, jpeg, seq) => {
    const json = Buffer.from(JSON.stringify({ seq, captureTime: Date.now(), label: 'fuzz-segment' }));
    const damage = pick(r, [
      { version: 0 }, { version: 2 }, { version: 255 },
      { identifier: Buffer.from('VSTREAM\x01', 'latin1') }, { identifier: Buffer.from('VSTREA', 'latin1') },
      { lengthDelta: int(r, 1, 400) }, { lengthDelta: -int(r, 1, 20) }, { lengthDelta: 0xffff },
    ]);
    return withSegment(jpeg, rawMetadataSegment(json, damage));
  }],
  [1, 'meta-twice', (r, jpeg, seq) => {
    const first = metadataSegmentRaw({ seq, captureTime: Date.now(), label: hostileText(r) });
    const second = metadataSegmentRaw({ seq: seq + 1, captureTime: 0, label: hostileText(r), name: hostileText(r) });
    return withSegment(jpeg, Buffer.concat([first, second]));
  }],
  [1, 'meta-after-scan', (r, jpeg, seq) => {
    const segment = metadataSegmentRaw({ seq, captureTime: Date.now(), label: hostileText(r) });
    return Buffer.concat([jpeg.subarray(0, jpeg.length - 2), segment, jpeg.subarray(jpeg.length - 2)]);
  }],
  // ---- JPEG structure
  [5, 'sof-size', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-sof');
    const [width, height] = pick(r, [[0, 0], [65000, 65000], [65535, 65535], [65535, 1], [1, 65535], [0, 48], [64, 0], [30000, 30000], [int(r, 1, 65535), int(r, 1, 65535)]]);
    for (const sof of sofSegments(out)) {
      out.writeUInt16BE(height, sof.payloadStart + 1);
      out.writeUInt16BE(width, sof.payloadStart + 3);
    }
    return out;
  }],
  [2, 'sof-kind', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-sofn');
    for (const sof of sofSegments(out)) {
      // SOF2 (progressive) on baseline data, arithmetic, lossless, hierarchical...
      out[sof.start + 1] = pick(r, [0xc1, 0xc2, 0xc3, 0xc5, 0xc7, 0xc9, 0xcb, 0xcd, 0xcf]);
      if (r() < 0.3) out[sof.payloadStart] = pick(r, [0, 1, 12, 16, 255]); // precision
      if (r() < 0.3) out[sof.payloadStart + 5] = pick(r, [0, 2, 4, 255]); // component count
    }
    return out;
  }],
  [3, 'segment-length', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-length');
    const segments = [...jpegSegments(out)];
    const s = pick(r, segments);
    if (s) out.writeUInt16BE(pick(r, [0, 1, 2, 3, 0xffff, int(r, 0, 0xffff)]), s.start + 2);
    return out;
  }],
  [3, 'truncated', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-truncated');
    return out.subarray(0, int(r, 1, out.length - 1));
  }],
  [4, 'bit-flips', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-flips');
    const n = pick(r, [1, 2, 8, 64]);
    // Mostly in the entropy-coded data; sometimes anywhere, header included.
    const from = r() < 0.7 ? Math.min(out.length - 1, 200) : 0;
    for (let i = 0; i < n; i++) out[int(r, from, out.length - 1)] ^= 1 << int(r, 0, 7);
    return out;
  }],
  [2, 'markers', (r, jpeg, seq) => {
    const out = Buffer.from(withMeta(jpeg, seq, 'fuzz-markers'));
    const marker = Buffer.from([0xff, pick(r, [0xd8, 0xd9, 0xda, 0xdd, 0xd0, 0xc4, 0xdb, 0xff, 0x00, 0x01])]);
    const at = int(r, 2, out.length - 2);
    return Buffer.concat([out.subarray(0, at), marker, out.subarray(at)]);
  }],
  [1, 'no-eoi-trailing', (r, jpeg, seq) => {
    const out = withMeta(jpeg, seq, 'fuzz-trailing');
    return r() < 0.5 ? out.subarray(0, out.length - 2) : Buffer.concat([out, randomBytes(r, int(r, 1, 3000))]);
  }],
  [2, 'not-jpeg', (r) => pick(r, [
    () => randomBytes(r, int(r, 1, 5000)),
    () => Buffer.from('hello, receiver'),
    () => Buffer.from([0xff]),
    () => Buffer.from([0xff, 0xd8]),
    () => Buffer.from([0xff, 0xd8, 0xff, 0xd9]),
    () => Buffer.from('\x89PNG\r\n\x1a\n\0\0\0\rIHDR', 'latin1'),
    () => Buffer.concat([Buffer.from([0xff, 0xd8]), randomBytes(r, int(r, 10, 3000))]),
  ])()],
  [1, 'big', (r, jpeg, seq) => {
    // A few MB: a JPEG followed by junk, or junk that merely starts like one.
    const junk = Buffer.alloc(int(r, 1, 4) * 2 ** 20, int(r, 0, 255));
    return Buffer.concat([withMeta(jpeg, seq, 'fuzz-big'), junk]);
  }],
  [3, 'valid', (r, jpeg, seq) => withMeta(jpeg, seq, `fuzz-${int(r, 0, 9)}`, r() < 0.2)],
  ...PNG_MUTATIONS,
];

/** Header mutations: the 16 bytes themselves, after which the wire no longer frames this payload. */
const HEADER_MUTATIONS = [
  (r) => Buffer.from(pick(r, ['-1', '-100', '+100', '0x100', '1e6', '12 34', '1.5', '١٢٣', 'NaN', 'abc', '\t100', '100\n']), 'utf8'),
  () => Buffer.alloc(0), // all spaces
  () => Buffer.alloc(HEADER_SIZE, 0),
  () => Buffer.from('0'),
  () => Buffer.from('9999999999999999'),
  () => Buffer.from(String(64 * 2 ** 20 + 1)),
  (r) => Buffer.from(String(int(r, 2 ** 26, 2 ** 40))),
  (r) => randomBytes(r, HEADER_SIZE),
  // Within the limit, but not the payload's length: the rest of the stream is cut wrong.
  (r, length) => Buffer.from(String(Math.max(1, length + pick(r, [-1, 1, -10, 1000, 60 * 2 ** 20 - length])))),
];

// metadataSegment() refuses or truncates what a hostile sender would send; this builds the
// segment exactly as vstream does, minus those checks.
function metadataSegmentRaw(meta) {
  try {
    if (Buffer.byteLength(meta.label ?? '') <= 4096 && Buffer.byteLength(meta.name ?? '') <= 4096) return metadataSegment(meta);
  } catch {
    // fall through: a hostile value metadataSegment rejects
  }
  return rawMetadataSegment(Buffer.from(JSON.stringify(meta)));
}

function withMeta(jpeg, seq, label, live = false) {
  return withSegment(jpeg, metadataSegment({ seq, captureTime: Date.now(), label, ...(live && { live: true }) }));
}

/** A hostile payload (what TCP carries after the 16-byte header) for case `index` of `seed`. */
export function hostilePayload(r, index, bases) {
  const jpeg = pick(r, bases);
  const [kind, mutate] = weighted(r, PAYLOAD_MUTATIONS.map(([w, k, f]) => [w, [k, f]]));
  return { kind, payload: mutate(r, jpeg, index) };
}

/**
 * One hostile TCP case: `bytes` to write on a connection. `endsFraming` means that after it the
 * wire no longer frames what follows (a damaged header), so the sender must close this
 * connection; otherwise the framing is intact and the receiver must keep the connection open.
 */
export function tcpCase(seed, index, bases) {
  const r = caseRandom(seed, index);
  const { kind, payload } = hostilePayload(r, index, bases);
  if (r() < 0.12) {
    const mutate = pick(r, HEADER_MUTATIONS);
    const text = mutate(r, payload.length);
    const header = text.length === HEADER_SIZE ? text : Buffer.concat([text.subarray(0, HEADER_SIZE), Buffer.alloc(Math.max(0, HEADER_SIZE - text.length), 0x20)]);
    return { index, kind: `header(${JSON.stringify(header.toString('latin1').trimEnd()).slice(0, 40)})+${kind}`, bytes: Buffer.concat([header, payload.subarray(0, int(r, 0, payload.length))]), endsFraming: true };
  }
  return { index, kind, bytes: Buffer.concat([encodeHeader(payload.length), payload]), endsFraming: false };
}

const U32 = 2 ** 32;

/** Every forged-field mutation of a valid datagram `d` (a copy is changed). */
const FORGERIES = [
  ['magic', (r, d) => d.writeUInt16BE(pick(r, [0, 0x5654, 0x5356, int(r, 0, 0xffff)]), 0)],
  ['version', (r, d) => (d[2] = pick(r, [0, 2, 255]))],
  ['type', (r, d) => (d[3] = pick(r, [1, 2, 127, 255]))],
  ['streamId', (r, d) => d.writeUInt32BE(pick(r, [0, U32 - 1, int(r, 0, U32 - 1)]), 4)],
  ['frameSeq', (r, d) => d.writeUInt32BE((d.readUInt32BE(8) + pick(r, [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, U32 - 1, 65537, int(r, 0, U32 - 1)])) % U32, 8)],
  ['pieceIndex', (r, d) => d.writeUInt16BE(pick(r, [d.readUInt16BE(14), 0xffff, int(r, 0, 0xffff)]), 12)],
  ['pieceCount', (r, d) => d.writeUInt16BE(pick(r, [0, 1, 2, 0xffff, int(r, 0, 0xffff)]), 14)],
  ['frameLength', (r, d) => d.writeUInt32BE(pick(r, [0, 1, U32 - 1, 64 * 2 ** 20, 64 * 2 ** 20 + 1, 60 * 2 ** 20, int(r, 0, U32 - 1)]), 16)],
  ['offset', (r, d) => d.writeUInt32BE(pick(r, [1, U32 - 1, d.readUInt32BE(20) + 1, int(r, 0, U32 - 1)]), 20)],
];

/**
 * One hostile UDP case: datagrams to send from one source (`source`: an index into the
 * caller's pool of sockets). Kinds: a whole (mutated) frame as valid pieces, in order or
 * shuffled with duplicates; one datagram with a field forged; a flood of new stream ids; a
 * stream of huge announced frames; ENDs; runts.
 */
export function udpCase(seed, index, bases, { sources = 1 } = {}) {
  const r = caseRandom(seed, index);
  const source = int(r, 0, sources - 1);
  const streamId = int(r, 0, U32 - 1);
  const frameSeq = int(r, 0, U32 - 1);
  const packetSize = weighted(r, [[6, 1200], [2, int(r, 64, 1500)], [1, 65507]]);
  const { kind: payloadKind, payload } = hostilePayload(r, index, bases);
  // A frame too big for the packet size to split in 65535 pieces cannot be made valid: cut it.
  const body = payload.subarray(0, Math.min(payload.length, 65535 * (packetSize - UDP_HEADER_SIZE)));
  const pieces = () => splitFrame([body], { streamId, frameSeq, packetSize }).map((parts) => Buffer.concat(parts));
  const kind = weighted(r, [[5, 'frame'], [2, 'frame-shuffled'], [8, 'forged'], [1, 'stream-flood'], [1, 'huge-frames'], [1, 'end'], [1, 'runt']]);
  switch (kind) {
    case 'frame':
      return { index, kind: `frame+${payloadKind}`, source, datagrams: pieces() };
    case 'frame-shuffled': {
      const list = pieces();
      const out = [];
      for (const d of list) {
        out.splice(int(r, 0, out.length), 0, d);
        if (r() < 0.2) out.splice(int(r, 0, out.length), 0, d);
      }
      return { index, kind: `frame-shuffled+${payloadKind}`, source, datagrams: out };
    }
    case 'forged': {
      const list = pieces();
      const [field, forge] = pick(r, FORGERIES);
      const n = Math.min(list.length, pick(r, [1, 1, 1, list.length]));
      const datagrams = list.slice(0, n).map((d) => {
        const copy = Buffer.from(d);
        forge(r, copy);
        return copy;
      });
      return { index, kind: `forged-${field}+${payloadKind}`, source, datagrams };
    }
    case 'stream-flood': {
      // First pieces of two-piece frames that never complete, each under a new stream id.
      const datagrams = [];
      for (let i = 0, n = int(r, 20, 200); i < n; i++) {
        const d = Buffer.alloc(UDP_HEADER_SIZE + 100);
        writeHeader(d, { type: DatagramType.PIECE, streamId: int(r, 0, U32 - 1), frameSeq: int(r, 0, U32 - 1), pieceIndex: 0, pieceCount: 2, frameLength: 200, offset: 0 });
        datagrams.push(d);
      }
      return { index, kind, source, datagrams };
    }
    case 'huge-frames': {
      // Pieces of frames announcing tens of MB, a different frame each: what a reassembler
      // that sized buffers from the header would allocate.
      const datagrams = [];
      const pieceSize = 1176;
      for (let i = 0, n = int(r, 5, 60); i < n; i++) {
        const frameLength = pick(r, [60 * 2 ** 20, 64 * 2 ** 20, 30 * 2 ** 20]);
        const pieceCount = Math.ceil(frameLength / pieceSize);
        if (pieceCount > 0xffff) continue;
        const pieceIndex = int(r, 0, pieceCount - 2);
        const d = Buffer.alloc(UDP_HEADER_SIZE + pieceSize);
        writeHeader(d, { type: DatagramType.PIECE, streamId, frameSeq: (frameSeq + i) % U32, pieceIndex, pieceCount, frameLength, offset: pieceIndex * pieceSize });
        datagrams.push(d);
      }
      // At 1176 bytes a piece, 60 MiB needs more than 65535 pieces: use bigger pieces then.
      if (datagrams.length === 0) datagrams.push(endDatagram(streamId, frameSeq));
      return { index, kind, source, datagrams };
    }
    case 'end': {
      const end = endDatagram(streamId, frameSeq);
      if (r() < 0.5) end.writeUInt32BE(int(r, 1, U32 - 1), pick(r, [12, 16, 20]));
      return { index, kind: 'end', source, datagrams: r() < 0.5 ? [end] : [...pieces().slice(0, 1), end, ...pieces().slice(1)] };
    }
    default: {
      const d = pieces()[0];
      return { index, kind: 'runt', source, datagrams: [d.subarray(0, int(r, 0, UDP_HEADER_SIZE - 1))] };
    }
  }
}

/**
 * Datagrams a peer that can send from a stream's own address (spoofing it, or a middlebox)
 * uses to end or silence that stream: `streamId`, and `lastSeq` the frameSeq of the stream's
 * last frame. 2^31 - 1 ahead is the newest a seq can be in serial-number arithmetic.
 */
export function spoofDatagrams(kind, { streamId, lastSeq, payload }) {
  const ahead = (n) => (lastSeq + n) % U32;
  const piece = (frameSeq, pieceCount = 1) => {
    const size = pieceCount === 1 ? payload.length : Math.ceil(payload.length / pieceCount);
    const d = Buffer.alloc(UDP_HEADER_SIZE + size);
    writeHeader(d, { type: DatagramType.PIECE, streamId, frameSeq, pieceIndex: 0, pieceCount, frameLength: payload.length, offset: 0 });
    payload.copy(d, UDP_HEADER_SIZE, 0, size);
    return d;
  };
  switch (kind) {
    case 'end':
      return [endDatagram(streamId, ahead(1))];
    case 'end-far-ahead':
      return [endDatagram(streamId, ahead(2 ** 31 - 1))];
    case 'frame-seq+2^31-1':
      return [piece(ahead(2 ** 31 - 1))];
    case 'incomplete-seq+2^31-1':
      return [piece(ahead(2 ** 31 - 1), 2)];
    case 'frame-seq+65537':
      return [piece(ahead(65537))];
    case 'frame-seq-1':
      return [piece(ahead(U32 - 1))];
    default:
      throw new RangeError(`unknown spoof ${kind}`);
  }
}

export const SPOOF_KINDS = ['end', 'end-far-ahead', 'frame-seq+2^31-1', 'incomplete-seq+2^31-1', 'frame-seq+65537', 'frame-seq-1'];

// encodeDatagramHeader() refuses out-of-range fields; a forger does not.
function writeHeader(d, h) {
  d.writeUInt16BE(0x5653, 0);
  d[2] = 1;
  d[3] = h.type;
  d.writeUInt32BE(h.streamId >>> 0, 4);
  d.writeUInt32BE(h.frameSeq >>> 0, 8);
  d.writeUInt16BE(h.pieceIndex & 0xffff, 12);
  d.writeUInt16BE(h.pieceCount & 0xffff, 14);
  d.writeUInt32BE(h.frameLength >>> 0, 16);
  d.writeUInt32BE(h.offset >>> 0, 20);
}
