/**
 * The reference UDP programs' format (docs/PROTOCOL.md, "Legacy UDP"): per image, its length as
 * a little-endian C `long` (or as ASCII digits) in a datagram of its own, then the image in bare
 * pieces with no header of their own. Their order is all that tells where a piece goes. The
 * same programs also send a whole image as one datagram, and JSON messages.
 */
import { PNG_SIGNATURE } from './png-chunks.js';
import { UsageError } from '../errors.js';
import { PartsCursor, partsLength } from './payload.js';

/** What the reference server reads per `recvfrom`; a longer datagram would be cut short there. */
export const LEGACY_PIECE_BYTES = 1024;
/** The largest UDP payload over IPv4. */
export const MAX_LEGACY_PIECE_BYTES = 65_507;
/** The largest length a 4-byte (32-bit signed) `long` holds. */
const MAX_INT32 = 0x7fffffff;

/**
 * The length datagram: 8 bytes is a `long` on 64-bit Linux and macOS, 4 on 32-bit ARM and
 * Windows. Throws UsageError for a length a 4-byte `long` cannot hold.
 */
export function legacyLengthDatagram(length: number, lengthBytes: 4 | 8): Buffer {
  if (lengthBytes === 4 && length > MAX_INT32) throw new UsageError(`a ${length}-byte image does not fit a 4-byte length`);
  const datagram = Buffer.alloc(lengthBytes);
  if (lengthBytes === 8) datagram.writeBigInt64LE(BigInt(length));
  else datagram.writeInt32LE(length);
  return datagram;
}

/**
 * The length a length datagram announces, when it is one from 1 to `maxFrameBytes`; undefined
 * for any other datagram or length (zero, negative, too large). See `announcedLength`.
 */
export function readLegacyLength(datagram: Buffer, maxFrameBytes: number): number | undefined {
  const announced = announcedLength(datagram)?.value;
  return announced !== undefined && announced >= 1 && announced <= maxFrameBytes ? announced : undefined;
}

export interface AnnouncedLength {
  /** Capped at 2^53 - 1: beyond it only "too large" matters. May be zero or negative. */
  value: number;
  /** Written as ASCII digits rather than as a binary `long`. */
  digits: boolean;
}

/**
 * What a length datagram says, in range or not: ASCII digits (`str(len(data)).encode()`, spaces
 * or NULs around them allowed), else a 4- or 8-byte little-endian `long`; undefined for a
 * datagram that is neither. Digits win over a binary reading: a `long` whose bytes are all
 * digits or spaces would announce over 800 MB.
 */
export function announcedLength(datagram: Buffer): AnnouncedLength | undefined {
  const digits = asciiLength(datagram);
  if (digits !== undefined) return { value: digits, digits: true };
  if (datagram.length === 8) {
    const big = datagram.readBigInt64LE(0);
    return { value: big > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(big), digits: false };
  }
  if (datagram.length === 4) return { value: datagram.readInt32LE(0), digits: false };
  return undefined;
}

/** Longest ASCII length datagram taken: 20 digits hold any 64-bit count, plus padding. */
const MAX_ASCII_LENGTH_BYTES = 32;

/** `*pad 1*DIGIT *pad` (pad: space, NUL, CR, LF), the value capped at 2^53 - 1; else undefined. */
function asciiLength(datagram: Buffer): number | undefined {
  if (datagram.length > MAX_ASCII_LENGTH_BYTES) return undefined;
  let start = 0;
  let end = datagram.length;
  while (start < end && isPad(datagram[start]!)) start++;
  while (end > start && isPad(datagram[end - 1]!)) end--;
  if (start === end) return undefined;
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = datagram[i]!;
    if (byte < 0x30 || byte > 0x39) return undefined;
    value = Math.min(value * 10 + (byte - 0x30), Number.MAX_SAFE_INTEGER);
  }
  return value;
}

function isPad(byte: number): boolean {
  return byte === 0x20 || byte === 0x00 || byte === 0x0d || byte === 0x0a;
}

/** The last 12 bytes of every PNG: the IEND chunk (length 0, type, its fixed CRC). */
const PNG_IEND = Buffer.from([0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82]);

/**
 * Whether the bytes are one whole image by their ends: a JPEG from SOI (FF D8) to EOI (FF D9),
 * or a PNG from its signature to its IEND chunk. Without sequence numbers a swapped or foreign
 * piece can only show at the ends; decoding is left to the consumer.
 */
export function isWholeImage(bytes: Buffer): boolean {
  const n = bytes.length;
  if (n >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[n - 2] === 0xff && bytes[n - 1] === 0xd9) return true;
  return (
    n >= PNG_SIGNATURE.length + PNG_IEND.length &&
    bytes.compare(PNG_SIGNATURE, 0, PNG_SIGNATURE.length, 0, PNG_SIGNATURE.length) === 0 &&
    bytes.compare(PNG_IEND, 0, PNG_IEND.length, n - PNG_IEND.length, n) === 0
  );
}

/** Largest datagram read as a JSON message: any UDP datagram, so in effect every one. */
export const MAX_LEGACY_MESSAGE_BYTES = 65_536;
/** Deepest nesting of a JSON message: printing it again must not exhaust the stack. */
export const MAX_LEGACY_MESSAGE_DEPTH = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The value of a datagram that is one JSON text (`sock.sendto(json.dumps(obj).encode(), addr)`):
 * valid UTF-8, at most MAX_LEGACY_MESSAGE_BYTES, nested at most MAX_LEGACY_MESSAGE_DEPTH deep.
 * `undefined` for anything else (JSON has no `undefined`, so it never means a value).
 */
export function readLegacyMessage(datagram: Buffer): unknown {
  if (datagram.length === 0 || datagram.length > MAX_LEGACY_MESSAGE_BYTES) return undefined;
  const first = firstNonSpace(datagram);
  // Cheap refusal of image pieces and binary noise before decoding anything.
  if (first === undefined || !JSON_STARTS.has(first)) return undefined;
  if (!withinDepth(datagram, MAX_LEGACY_MESSAGE_DEPTH)) return undefined;
  try {
    return JSON.parse(utf8.decode(datagram)) as unknown;
  } catch {
    return undefined;
  }
}

/** The bytes a JSON text can start with: `{ [ "`, a digit or `-`, `t`rue, `f`alse, `n`ull. */
const JSON_STARTS = new Set([...'{["-0123456789tfn'].map((c) => c.charCodeAt(0)));

function firstNonSpace(bytes: Buffer): number | undefined {
  for (const byte of bytes) if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d) return byte;
  return undefined;
}

/** Whether brackets outside strings nest at most `limit` deep. */
function withinDepth(bytes: Buffer, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const byte = bytes[i]!;
    if (inString) {
      if (byte === 0x5c) i++;
      else if (byte === 0x22) inString = false;
    } else if (byte === 0x22) {
      inString = true;
    } else if (byte === 0x7b || byte === 0x5b) {
      if (++depth > limit) return false;
    } else if (byte === 0x7d || byte === 0x5d) {
      depth--;
    }
  }
  return true;
}

/** The largest datagram a socket of this family can send: 65535 minus the UDP and (IPv4) IP headers. */
export function maxDatagramBytes(family: 'IPv4' | 'IPv6'): number {
  return family === 'IPv6' ? 65_527 : MAX_LEGACY_PIECE_BYTES;
}

/**
 * The payload cut into datagrams of `pieceSize` bytes (the last one shorter), each as the
 * slices of `payload` that hold it, for dgram's `socket.send(buffers)`: nothing is copied.
 */
export function legacyPieces(payload: readonly Buffer[], pieceSize: number): Buffer[][] {
  if (!Number.isSafeInteger(pieceSize) || pieceSize < 1 || pieceSize > MAX_LEGACY_PIECE_BYTES) {
    throw new RangeError(`piece size must be an integer from 1 to ${MAX_LEGACY_PIECE_BYTES}, got ${pieceSize}`);
  }
  const cursor = new PartsCursor(payload);
  const pieces: Buffer[][] = [];
  for (let left = partsLength(payload); left > 0; left -= pieceSize) {
    const piece: Buffer[] = [];
    cursor.take(pieceSize, piece);
    pieces.push(piece);
  }
  return pieces;
}
