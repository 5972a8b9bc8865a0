/**
 * vstream's UDP datagram: a 24-byte big-endian header, then one piece of a frame. Layout and
 * rules in docs/PROTOCOL.md ("UDP"). A frame's payload is the same bytes TCP carries after its
 * 16-byte header (the JPEG with the metadata segment inside), so the rest of the pipeline is
 * shared; only the framing differs.
 */
import { ProtocolError } from '../errors.js';
import { PartsCursor, partsLength } from './payload.js';

export const UDP_MAGIC = 0x5653;
export const UDP_VERSION = 1;
export const UDP_HEADER_SIZE = 24;
/**
 * Whole datagram (header + payload). 1200 fits the IPv6 minimum MTU (1280 - 40 IPv6 - 8 UDP)
 * with margin, so no IP fragmentation on ordinary networks, IPv4 or IPv6.
 */
export const DEFAULT_PACKET_SIZE = 1200;
/**
 * 40 payload bytes per datagram. Smaller only adds header overhead (already 37 % here) and
 * lowers the largest frame a sender can split (65535 pieces of 40 bytes is about 2.6 MB); no
 * real link needs datagrams this small, but tests use it to get many pieces from small frames.
 */
export const MIN_PACKET_SIZE = 64;
/** The largest UDP payload over IPv4 (65535 - 20 IPv4 - 8 UDP). */
export const MAX_PACKET_SIZE = 65507;
/** pieceIndex and pieceCount are uint16. */
export const MAX_PIECES = 0xffff;

const MAX_UINT32 = 0xffffffff;

export enum DatagramType {
  PIECE = 0,
  /** The sender closes the stream; no payload, and every field after frameSeq is 0. */
  END = 1,
}

export interface DatagramHeader {
  type: DatagramType;
  /** Random per sender run: tells apart two runs from the same address and port. */
  streamId: number;
  /** +1 per frame on this stream, wrapping at 2^32; compare with seqNewer(). */
  frameSeq: number;
  pieceIndex: number;
  pieceCount: number;
  /** Total payload bytes of the frame. */
  frameLength: number;
  /** Where this piece's payload goes in the frame. */
  offset: number;
}

/**
 * The 24 header bytes. Throws RangeError for a field out of its wire range: that is a bug in
 * the caller, not something a peer did.
 */
export function encodeDatagramHeader(header: DatagramHeader): Buffer {
  if (header.type !== DatagramType.PIECE && header.type !== DatagramType.END) {
    throw new RangeError(`datagram type must be PIECE (0) or END (1), got ${header.type}`);
  }
  checkRange('streamId', header.streamId, MAX_UINT32);
  checkRange('frameSeq', header.frameSeq, MAX_UINT32);
  checkRange('pieceIndex', header.pieceIndex, MAX_PIECES);
  checkRange('pieceCount', header.pieceCount, MAX_PIECES);
  checkRange('frameLength', header.frameLength, MAX_UINT32);
  checkRange('offset', header.offset, MAX_UINT32);
  const buf = Buffer.allocUnsafe(UDP_HEADER_SIZE);
  writeHeader(buf, 0, header);
  return buf;
}

/**
 * Parses and validates one datagram; never trusts a field. Throws ProtocolError:
 * ERR_UDP_SHORT (under 24 bytes), ERR_UDP_MAGIC, ERR_UDP_VERSION, ERR_UDP_TYPE,
 * ERR_FRAME_TOO_LARGE (frameLength > maxFrameBytes), ERR_UDP_HEADER (anything else: an empty
 * frame or piece, index >= count, a piece that does not sit where the piece layout puts it,
 * a count that does not match frameLength, an END with non-zero fields or a payload).
 *
 * The layout check makes every valid piece tell the receiver exactly which bytes of the frame
 * it holds, so a frame is complete when all pieceCount indices have arrived and the pieces
 * agree on (pieceCount, frameLength, piece size): no overlap or hole is possible.
 * `payload` is a subarray of `datagram` (no copy).
 */
export function parseDatagram(datagram: Buffer, maxFrameBytes: number): { header: DatagramHeader; payload: Buffer } {
  if (datagram.length < UDP_HEADER_SIZE) {
    throw new ProtocolError(`datagram of ${datagram.length} bytes is shorter than the ${UDP_HEADER_SIZE}-byte header`, 'ERR_UDP_SHORT');
  }
  const magic = datagram.readUInt16BE(0);
  if (magic !== UDP_MAGIC) {
    throw new ProtocolError(`datagram does not start with "VS" (got 0x${hex(magic, 4)})`, 'ERR_UDP_MAGIC');
  }
  const version = datagram[2]!;
  if (version !== UDP_VERSION) {
    throw new ProtocolError(`datagram version ${version} is not supported (this receiver speaks ${UDP_VERSION})`, 'ERR_UDP_VERSION');
  }
  const type = datagram[3]!;
  if (type !== DatagramType.PIECE && type !== DatagramType.END) {
    throw new ProtocolError(`datagram type ${type} is unknown (0 = piece, 1 = end)`, 'ERR_UDP_TYPE');
  }
  const header: DatagramHeader = {
    type,
    streamId: datagram.readUInt32BE(4),
    frameSeq: datagram.readUInt32BE(8),
    pieceIndex: datagram.readUInt16BE(12),
    pieceCount: datagram.readUInt16BE(14),
    frameLength: datagram.readUInt32BE(16),
    offset: datagram.readUInt32BE(20),
  };
  const payload = datagram.subarray(UDP_HEADER_SIZE);
  const why = type === DatagramType.END ? endProblem(header, payload.length) : pieceProblem(header, payload.length, maxFrameBytes);
  if (why !== undefined) throw why;
  return { header, payload };
}

/**
 * Splits one frame into datagrams of at most `packetSize` bytes. `parts` are the frame's
 * payload (payload.ts's `payloadParts`). Each datagram is `[header, ...slices]` for dgram's
 * `socket.send(buffers)`; slices are subarrays, so the JPEG is never copied. Every piece but the last carries exactly packetSize - 24 bytes.
 * Throws RangeError for an empty frame, a packetSize outside MIN..MAX_PACKET_SIZE, or a frame
 * that needs more than 65535 pieces at this size.
 */
export function splitFrame(
  parts: readonly Buffer[],
  options: { streamId: number; frameSeq: number; packetSize: number },
): Buffer[][] {
  const { streamId, frameSeq, packetSize } = options;
  if (!Number.isSafeInteger(packetSize) || packetSize < MIN_PACKET_SIZE || packetSize > MAX_PACKET_SIZE) {
    throw new RangeError(`packet size must be an integer from ${MIN_PACKET_SIZE} to ${MAX_PACKET_SIZE}, got ${packetSize}`);
  }
  checkRange('streamId', streamId, MAX_UINT32);
  checkRange('frameSeq', frameSeq, MAX_UINT32);
  const frameLength = partsLength(parts);
  if (frameLength < 1 || frameLength > MAX_UINT32) {
    throw new RangeError(`frame length must be from 1 to ${MAX_UINT32} bytes, got ${frameLength}`);
  }
  const pieceSize = packetSize - UDP_HEADER_SIZE;
  const pieceCount = Math.ceil(frameLength / pieceSize);
  if (pieceCount > MAX_PIECES) {
    throw new RangeError(
      `a frame of ${frameLength} bytes needs ${pieceCount} pieces at packet size ${packetSize}, over the limit of ${MAX_PIECES}; raise the packet size`,
    );
  }

  // One allocation for all the headers instead of one per datagram.
  const headers = Buffer.allocUnsafe(pieceCount * UDP_HEADER_SIZE);
  const datagrams: Buffer[][] = [];
  const payload = new PartsCursor(parts);
  for (let index = 0; index < pieceCount; index++) {
    const offset = index * pieceSize;
    const header = headers.subarray(index * UDP_HEADER_SIZE, (index + 1) * UDP_HEADER_SIZE);
    writeHeader(header, 0, { type: DatagramType.PIECE, streamId, frameSeq, pieceIndex: index, pieceCount, frameLength, offset });
    const datagram: Buffer[] = [header];
    payload.take(pieceSize, datagram);
    datagrams.push(datagram);
  }
  return datagrams;
}

/**
 * The END datagram of a stream. `frameSeq` is the seq the sender's next frame would have had
 * (last sent + 1), so a receiver can count trailing frames of which nothing arrived.
 */
export function endDatagram(streamId: number, frameSeq: number): Buffer {
  return encodeDatagramHeader({ type: DatagramType.END, streamId, frameSeq, pieceIndex: 0, pieceCount: 0, frameLength: 0, offset: 0 });
}

/**
 * True when uint32 sequence number `a` comes after `b` (serial-number arithmetic, RFC 1982):
 * within 2^31 - 1 ahead, across the 2^32 wrap. Exactly 2^31 apart is neither newer.
 */
export function seqNewer(a: number, b: number): boolean {
  const ahead = (a - b) >>> 0;
  return ahead !== 0 && ahead < 0x80000000;
}

/** How far `a` is ahead of `b` modulo 2^32 (0 .. 2^32 - 1); meaningful when seqNewer(a, b). */
export function seqDistance(a: number, b: number): number {
  return (a - b) >>> 0;
}

/** `seq + delta` modulo 2^32 (delta may be negative). */
export function seqAdd(seq: number, delta: number): number {
  return (seq + delta) >>> 0;
}

/**
 * The piece size a valid piece implies (see pieceProblem), or 0 when it cannot tell: a frame
 * of one piece, whose only piece has no full-sized sibling.
 */
export function impliedPieceSize(header: DatagramHeader, payloadLength: number): number {
  if (header.pieceIndex < header.pieceCount - 1) return payloadLength;
  return header.pieceIndex === 0 ? 0 : header.offset / header.pieceIndex;
}

function pieceProblem(h: DatagramHeader, payloadLength: number, maxFrameBytes: number): ProtocolError | undefined {
  const at = `piece ${h.pieceIndex}/${h.pieceCount} of frame ${h.frameSeq} (${h.frameLength} bytes, offset ${h.offset}, ${payloadLength} payload bytes)`;
  if (h.frameLength === 0) return badHeader(`${at}: empty frame`);
  if (h.frameLength > maxFrameBytes) {
    return new ProtocolError(`${at}: frame is over the limit of ${maxFrameBytes} bytes (--max-frame-bytes)`, 'ERR_FRAME_TOO_LARGE');
  }
  if (h.pieceCount === 0) return badHeader(`${at}: piece count 0`);
  if (h.pieceIndex >= h.pieceCount) return badHeader(`${at}: index beyond the count`);
  if (payloadLength === 0) return badHeader(`${at}: no payload`);
  if (h.offset + payloadLength > h.frameLength) return badHeader(`${at}: runs past the end of the frame`);
  const last = h.pieceIndex === h.pieceCount - 1;
  if (!last) {
    // Every piece but the last is full, so its length is the frame's piece size.
    if (h.offset !== h.pieceIndex * payloadLength) return badHeader(`${at}: offset is not index * piece size`);
    if (Math.ceil(h.frameLength / payloadLength) !== h.pieceCount) return badHeader(`${at}: count does not match the frame length`);
  } else {
    if (h.offset + payloadLength !== h.frameLength) return badHeader(`${at}: last piece does not end the frame`);
    if (h.pieceIndex === 0) return undefined;
    // The last piece implies the piece size as offset / index, and may be shorter than it.
    if (h.offset % h.pieceIndex !== 0 || payloadLength > h.offset / h.pieceIndex) {
      return badHeader(`${at}: last piece does not match any piece size`);
    }
  }
  return undefined;
}

function endProblem(h: DatagramHeader, payloadLength: number): ProtocolError | undefined {
  if (h.pieceIndex !== 0 || h.pieceCount !== 0 || h.frameLength !== 0 || h.offset !== 0 || payloadLength !== 0) {
    return badHeader(`end datagram of stream ${h.streamId} has non-zero piece fields or a payload`);
  }
  return undefined;
}

function writeHeader(buf: Buffer, at: number, h: DatagramHeader): void {
  buf.writeUInt16BE(UDP_MAGIC, at);
  buf[at + 2] = UDP_VERSION;
  buf[at + 3] = h.type;
  buf.writeUInt32BE(h.streamId, at + 4);
  buf.writeUInt32BE(h.frameSeq, at + 8);
  buf.writeUInt16BE(h.pieceIndex, at + 12);
  buf.writeUInt16BE(h.pieceCount, at + 14);
  buf.writeUInt32BE(h.frameLength, at + 16);
  buf.writeUInt32BE(h.offset, at + 20);
}

function checkRange(name: string, value: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${name} must be an integer from 0 to ${max}, got ${value}`);
  }
}

function badHeader(why: string): ProtocolError {
  return new ProtocolError(`bad datagram: ${why}`, 'ERR_UDP_HEADER');
}

function hex(value: number, digits: number): string {
  return value.toString(16).padStart(digits, '0');
}
