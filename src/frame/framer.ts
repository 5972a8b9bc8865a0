/**
 * TCP framing: the 16-byte length header, then the payload. Like ws's `Sender.frame`, it returns
 * pieces instead of one buffer: the writer puts them on the socket between cork() and uncork()
 * (or with writev), so a multi-megabyte JPEG is never copied.
 */
import { encodeHeader } from './header.js';
import { partsLength, payloadParts } from './payload.js';
import type { FrameMeta } from './frame.js';

/** `[header, ...payload]`: the header announces the payload's total length. */
export function tcpFrame(payload: readonly Buffer[]): Buffer[] {
  return [encodeHeader(partsLength(payload)), ...payload];
}

/**
 * `[header, jpeg]`, or with metadata `[header, jpeg[0, k), segment, jpeg[k, end)]` (see
 * payloadParts). Throws ProtocolError ERR_NOT_JPEG when metadata is asked for and `jpeg` has
 * no SOI.
 */
export function frame(jpeg: Buffer, meta?: FrameMeta): Buffer[] {
  return tcpFrame(payloadParts(jpeg, meta));
}

/** Total bytes of a frame's pieces, header included: what one frame costs on the wire. */
export function framedLength(parts: readonly Buffer[]): number {
  return partsLength(parts);
}
