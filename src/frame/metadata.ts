/**
 * Per-frame metadata carried inside the JPEG, in an APP7 segment that decoders skip, so the
 * TCP stream stays `str(len).ljust(16)` + JPEG for reference peers. Byte layout in
 * docs/PROTOCOL.md ("Metadata segment").
 */
import { ProtocolError } from '../errors.js';
import { jpegSegments, startsWithSoi } from './jpeg-segments.js';
import { isPng } from './png-chunks.js';
import { findPngMetadata } from './png-metadata.js';
import type { FrameMeta } from './frame.js';

/** APP7: unused by JFIF (APP0), Exif/XMP (APP1), ICC (APP2), Adobe (APP14) and friends. */
export const METADATA_MARKER = 0xe7;
export const METADATA_IDENTIFIER = Buffer.from('VSTREAM\0', 'latin1');
export const METADATA_VERSION = 1;
/**
 * Cap on each of `label` and `name`, in UTF-8 bytes. Even if every byte needed a 6-byte JSON
 * escape, two capped strings plus the numbers stay far below the 65535-byte segment limit,
 * and 4 KiB is 16 times the longest file name common filesystems allow.
 */
export const MAX_TEXT_BYTES = 4096;

/** Longest stream id a receiver takes (vstream sends 16 hex digits). */
export const MAX_STREAM_ID_LENGTH = 64;
const STREAM_ID = /^[0-9A-Za-z_-]{1,64}$/;

const APP0 = 0xe0;
const APP1 = 0xe1;
/** Marker (2) + length (2) + identifier + version. */
const PREFIX_SIZE = 4 + METADATA_IDENTIFIER.length + 1;
const MAX_SEGMENT_LENGTH = 0xffff;

/** The complete segment: FF E7, big-endian length, `VSTREAM\0`, version, compact JSON. */
export function metadataSegment(meta: FrameMeta): Buffer {
  if (!Number.isSafeInteger(meta.seq) || meta.seq < 0) {
    throw new RangeError(`metadata seq must be a non-negative integer, got ${meta.seq}`);
  }
  if (!Number.isFinite(meta.captureTime)) {
    throw new RangeError(`metadata captureTime must be a finite number, got ${meta.captureTime}`);
  }
  const wire: FrameMeta = { seq: meta.seq, captureTime: meta.captureTime };
  if (meta.label !== undefined) wire.label = truncateUtf8(meta.label, MAX_TEXT_BYTES);
  if (meta.name !== undefined) wire.name = truncateUtf8(meta.name, MAX_TEXT_BYTES);
  if (meta.live === true) wire.live = true;
  if (meta.waitsForReply === true) wire.waitsForReply = true;
  if (meta.stream !== undefined) {
    if (!isStreamId(meta.stream)) throw new RangeError(`metadata stream must be 1 to ${MAX_STREAM_ID_LENGTH} of [0-9A-Za-z_-], got ${JSON.stringify(meta.stream)}`);
    wire.stream = meta.stream;
    if (meta.ack === true) wire.ack = true;
  }
  const json = Buffer.from(JSON.stringify(wire), 'utf8');

  const segment = Buffer.allocUnsafe(PREFIX_SIZE + json.length);
  segment[0] = 0xff;
  segment[1] = METADATA_MARKER;
  // The length counts itself but not the marker; MAX_TEXT_BYTES keeps it <= 0xFFFF.
  segment.writeUInt16BE(segment.length - 2, 2);
  METADATA_IDENTIFIER.copy(segment, 4);
  segment[4 + METADATA_IDENTIFIER.length] = METADATA_VERSION;
  json.copy(segment, PREFIX_SIZE);
  return segment;
}

/**
 * Where the segment goes: after the APP0 (JFIF, JFXX) and APP1 (Exif) segments that directly
 * follow SOI, because those standards require to come first; else right after SOI.
 */
export function metadataInsertOffset(jpeg: Buffer): number {
  if (!startsWithSoi(jpeg)) {
    const head = JSON.stringify(jpeg.subarray(0, 4).toString('hex'));
    throw new ProtocolError(`frame is not a JPEG (starts with ${head}, not ffd8)`, 'ERR_NOT_JPEG');
  }
  let offset = 2;
  for (const segment of jpegSegments(jpeg)) {
    if (segment.marker !== APP0 && segment.marker !== APP1) break;
    offset = segment.end;
  }
  return offset;
}

/**
 * The metadata of the first vstream segment in the JPEG's header (or chunk in the PNG's, see
 * png-metadata.ts), or undefined when there is none, it is from a newer incompatible version,
 * or it is malformed. Never throws.
 */
export function readMetadata(jpeg: Buffer): FrameMeta | undefined {
  if (isPng(jpeg)) {
    const found = findPngMetadata(jpeg, METADATA_IDENTIFIER);
    return found && metadataFromBody(found.body, 0, found.body.length);
  }
  const segment = findMetadataSegment(jpeg);
  if (segment === undefined) return undefined;
  return metadataFromBody(jpeg, segment.payloadStart + METADATA_IDENTIFIER.length, segment.end);
}

/** The metadata in `bytes[versionAt, end)`: the version byte, then the JSON. */
function metadataFromBody(bytes: Buffer, versionAt: number, end: number): FrameMeta | undefined {
  if (bytes[versionAt] !== METADATA_VERSION) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString('utf8', versionAt + 1, end));
  } catch {
    return undefined;
  }
  return validMeta(value);
}

/**
 * The JPEG (or PNG) without the first vstream segment (or chunk), as subarrays of `jpeg` (no
 * copy): written back to back they are byte-identical to what the sender read from its source.
 */
export function withoutMetadata(jpeg: Buffer): Buffer[] {
  const segment = isPng(jpeg) ? findPngMetadata(jpeg, METADATA_IDENTIFIER)?.chunk : findMetadataSegment(jpeg);
  if (segment === undefined) return [jpeg];
  return [jpeg.subarray(0, segment.start), jpeg.subarray(segment.end)];
}

function findMetadataSegment(jpeg: Buffer): { start: number; payloadStart: number; end: number } | undefined {
  for (const segment of jpegSegments(jpeg)) {
    if (
      segment.marker === METADATA_MARKER &&
      segment.end - segment.payloadStart > METADATA_IDENTIFIER.length &&
      jpeg.compare(METADATA_IDENTIFIER, 0, METADATA_IDENTIFIER.length, segment.payloadStart, segment.payloadStart + METADATA_IDENTIFIER.length) === 0
    ) {
      return segment;
    }
  }
  return undefined;
}

function validMeta(value: unknown): FrameMeta | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const { seq, captureTime, label, name, live, waitsForReply, stream, ack } = value as Record<string, unknown>;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return undefined;
  if (typeof captureTime !== 'number' || !Number.isFinite(captureTime)) return undefined;
  if (label !== undefined && typeof label !== 'string') return undefined;
  if (name !== undefined && typeof name !== 'string') return undefined;
  // Unknown keys are ignored on purpose: later senders may add fields within version 1.
  const meta: FrameMeta = { seq, captureTime };
  if (typeof label === 'string') meta.label = label;
  if (typeof name === 'string') meta.name = name;
  if (live === true) meta.live = true;
  if (waitsForReply === true) meta.waitsForReply = true;
  // A stream id is echoed in the reply: anything but short plain text is not one.
  if (isStreamId(stream)) {
    meta.stream = stream;
    if (ack === true) meta.ack = true;
  }
  return meta;
}

/** Whether `value` can be a stream id: the receiver echoes it in its reply, so it is short and plain. */
export function isStreamId(value: unknown): value is string {
  return typeof value === 'string' && STREAM_ID.test(value);
}

/**
 * At most `maxBytes` of UTF-8, cut at a character boundary. Lone surrogates become U+FFFD,
 * so the JSON carries only well-formed text.
 */
function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= maxBytes) return bytes.toString('utf8');
  let end = maxBytes;
  // Back off continuation bytes (10xxxxxx) so the cut falls before a lead byte.
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

// Checked once at load so that raising MAX_TEXT_BYTES can never produce a segment whose
// length field overflows: worst case is a 6-byte JSON escape per byte of both strings.
const WORST_CASE = PREFIX_SIZE + 2 * 6 * MAX_TEXT_BYTES + 200 + MAX_STREAM_ID_LENGTH + 32;
if (WORST_CASE > MAX_SEGMENT_LENGTH) throw new Error('MAX_TEXT_BYTES is too large for one JPEG segment');
