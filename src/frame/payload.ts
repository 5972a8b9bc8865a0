/**
 * The bytes a frame travels as, whatever carries it: the image with vstream's metadata segment
 * inside. TCP puts a length header before them (framer.ts), UDP cuts them into datagrams
 * (udp-datagram.ts), the legacy UDP format into bare pieces (legacy-udp.ts); all three start
 * from `payloadParts`, so a receiver reads the same bytes whatever carried them.
 *
 * Parts, not one buffer: they are subarrays of the image plus the small segment, so a
 * multi-megabyte JPEG is never copied on its way to the socket.
 */
import { metadataInsertOffset, metadataSegment, withoutMetadata } from './metadata.js';
import { isPng } from './png-chunks.js';
import { pngMetadataChunk, pngMetadataInsertOffset } from './png-metadata.js';
import type { Frame, FrameMeta } from './frame.js';

/**
 * `[data]`, or with metadata `[data[0, k), segment, data[k, end)]` where k is
 * `metadataInsertOffset(data)`; a PNG gets a metadata chunk after IHDR instead. A segment
 * (chunk) already there is replaced, in its place. Throws
 * ProtocolError ERR_NOT_JPEG when metadata is asked for and the bytes are neither.
 */
export function payloadParts(frame: Frame | Buffer, meta?: FrameMeta): Buffer[] {
  const data = frameBytes(frame);
  if (meta === undefined) return [data];
  // An image passed through from another vstream (a relay of its HTTP viewer) already holds a
  // segment: this sender's takes its place, so a frame carries one whatever number of hops.
  const before = withoutMetadata(data);
  if (before.length === 2) {
    const segment = metadataSegment(meta);
    return [before[0]!, isPng(data) ? pngMetadataChunk(segment.subarray(4)) : segment, before[1]!];
  }
  if (isPng(data)) {
    const at = pngMetadataInsertOffset(data);
    // The JPEG segment is marker (2) + length (2) + the payload both formats share.
    return [data.subarray(0, at), pngMetadataChunk(metadataSegment(meta).subarray(4)), data.subarray(at)];
  }
  const at = metadataInsertOffset(data);
  return [data.subarray(0, at), metadataSegment(meta), data.subarray(at)];
}

/** The bytes of a frame, or the buffer itself for callers that send bare JPEGs. */
export function frameBytes(frame: Frame | Buffer): Buffer {
  return Buffer.isBuffer(frame) ? frame : frame.data;
}

/** Total bytes of some parts. */
export function partsLength(parts: readonly Buffer[]): number {
  let total = 0;
  for (const part of parts) total += part.length;
  return total;
}

/**
 * Reads consecutive runs of bytes out of a payload's parts without copying: each run is the
 * subarrays that hold it, so a run that spans two parts is two slices, not a new buffer.
 */
export class PartsCursor {
  private part = 0;
  private offset = 0;

  constructor(private readonly parts: readonly Buffer[]) {}

  /** Appends to `into` the slices that hold the next `length` bytes (fewer once the parts run out). */
  take(length: number, into: Buffer[]): void {
    let need = length;
    while (need > 0 && this.part < this.parts.length) {
      const source = this.parts[this.part]!;
      const take = Math.min(need, source.length - this.offset);
      if (take > 0) into.push(source.subarray(this.offset, this.offset + take));
      need -= take;
      this.offset += take;
      if (this.offset === source.length) {
        this.part++;
        this.offset = 0;
      }
    }
  }
}
