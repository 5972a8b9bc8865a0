/**
 * The reference UDP programs' format (docs/PROTOCOL.md, "Legacy UDP"): per image, its length as
 * a little-endian C `long` in a datagram of its own, then the image in bare pieces with no
 * header of their own. Their order is all that tells where a piece goes.
 */
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
 * The length a 4- or 8-byte datagram announces, when it is one from 1 to `maxFrameBytes`;
 * undefined for any other datagram or length (zero, negative, too large).
 */
export function readLegacyLength(datagram: Buffer, maxFrameBytes: number): number | undefined {
  let value: number;
  if (datagram.length === 8) {
    const big = datagram.readBigInt64LE(0);
    if (big > BigInt(maxFrameBytes)) return undefined;
    value = Number(big);
  } else if (datagram.length === 4) {
    value = datagram.readInt32LE(0);
  } else {
    return undefined;
  }
  return value >= 1 && value <= maxFrameBytes ? value : undefined;
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
