/** How many scans a JPEG has, counted without decoding it (its size is read once, in src/frame/image-info.ts). */
import { EOI, SOI, SOS } from '../frame/jpeg-segments.js';

/**
 * The scans (SOS markers) of a JPEG, counted up to `stopAfter + 1` without decoding: marker
 * segments are skipped by their length, entropy-coded data up to the first 0xFF followed by
 * neither a stuffed 0x00 nor a restart marker. Stops quietly at anything malformed (the decoder
 * reports that); a declared length past the end ends the count.
 */
export function jpegScanCount(jpeg: Buffer, stopAfter: number): number {
  if (jpeg.length < 2 || jpeg[0] !== 0xff || jpeg[1] !== SOI) return 0;
  let scans = 0;
  let pos = 2;
  while (pos + 1 < jpeg.length && scans <= stopAfter) {
    // Stray bytes between segments and fill bytes before a marker: decoders skip them too.
    if (jpeg[pos] !== 0xff || jpeg[pos + 1] === 0xff) {
      pos += 1;
      continue;
    }
    const marker = jpeg[pos + 1]!;
    if (marker === 0x00 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      pos += 2;
      continue;
    }
    if (marker === SOI || marker === EOI || pos + 3 >= jpeg.length) break;
    const length = jpeg.readUInt16BE(pos + 2);
    if (length < 2) break;
    pos += 2 + length;
    if (marker !== SOS) continue;
    scans += 1;
    pos = entropyEnd(jpeg, pos);
  }
  return scans;
}

/** Where the entropy-coded data starting at `from` ends: at the next marker proper. */
function entropyEnd(jpeg: Buffer, from: number): number {
  let pos = jpeg.indexOf(0xff, from);
  while (pos !== -1 && pos + 1 < jpeg.length) {
    const next = jpeg[pos + 1]!;
    if (next !== 0x00 && (next < 0xd0 || next > 0xd7)) return pos;
    pos = jpeg.indexOf(0xff, pos + 2);
  }
  return jpeg.length;
}
