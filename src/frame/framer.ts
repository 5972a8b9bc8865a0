/**
 * Turns one JPEG into the buffers that go on the wire. Like ws's `Sender.frame`, it returns
 * pieces instead of one buffer: the writer puts them on the socket between cork() and
 * uncork() (or with writev), so a multi-megabyte JPEG is never copied.
 */
import { encodeHeader } from './header.js';
import { metadataInsertOffset, metadataSegment } from './metadata.js';
import type { FrameMeta } from './frame.js';

/**
 * `[header, jpeg]`, or with metadata `[header, jpeg[0, k), segment, jpeg[k, end)]` where k is
 * `metadataInsertOffset(jpeg)`. The header announces the total length of the pieces after
 * it. Throws ProtocolError ERR_NOT_JPEG when metadata is asked for and `jpeg` has no SOI.
 */
export function frame(jpeg: Buffer, meta?: FrameMeta): Buffer[] {
  if (meta === undefined) return [encodeHeader(jpeg.length), jpeg];
  const at = metadataInsertOffset(jpeg);
  const segment = metadataSegment(meta);
  return [encodeHeader(jpeg.length + segment.length), jpeg.subarray(0, at), segment, jpeg.subarray(at)];
}

/** Total bytes of a frame's pieces, header included: what one frame costs on the wire. */
export function framedLength(parts: readonly Buffer[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}
