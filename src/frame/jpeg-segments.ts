/**
 * Walks the marker segments of a JPEG's header (everything before the entropy-coded scan),
 * without decoding. Shared by the metadata reader and `jpegDimensions`.
 *
 * The input comes from the network, so nothing in it is trusted: the walk stops quietly at
 * the first byte that is not a well-formed marker segment, and never yields a segment whose
 * declared length runs past the end of the buffer.
 */

export const SOI = 0xd8;
export const EOI = 0xd9;
export const SOS = 0xda;

export interface JpegSegment {
  /** The marker's second byte, e.g. 0xE0 for APP0. */
  marker: number;
  /** Offset of the segment's 0xFF marker byte (after any fill bytes). */
  start: number;
  /** Offset of the first payload byte, just after the 2-byte length. */
  payloadStart: number;
  /** Offset one past the segment's last byte. */
  end: number;
}

export function startsWithSoi(jpeg: Buffer): boolean {
  return jpeg.length >= 2 && jpeg[0] === 0xff && jpeg[1] === SOI;
}

/**
 * Yields each length-prefixed segment after SOI, up to but excluding SOS (or EOI). Yields
 * nothing if the buffer does not start with SOI.
 */
export function* jpegSegments(jpeg: Buffer): Generator<JpegSegment> {
  if (!startsWithSoi(jpeg)) return;
  let pos = 2;
  while (pos + 1 < jpeg.length) {
    if (jpeg[pos] !== 0xff) return;
    // Any number of 0xFF fill bytes may precede a marker (ITU T.81 B.1.1.2).
    while (pos + 1 < jpeg.length && jpeg[pos + 1] === 0xff) pos++;
    if (pos + 1 >= jpeg.length) return;
    const marker = jpeg[pos + 1]!;
    // TEM and RSTn stand alone; they are out of place in a header but harmless to skip.
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    // 0x00 is a stuffed byte, not a marker; SOI again means garbage.
    if (marker === SOS || marker === EOI || marker === SOI || marker === 0x00) return;
    if (pos + 4 > jpeg.length) return;
    const length = jpeg.readUInt16BE(pos + 2);
    const end = pos + 2 + length;
    if (length < 2 || end > jpeg.length) return;
    yield { marker, start: pos, payloadStart: pos + 4, end };
    pos = end;
  }
}
