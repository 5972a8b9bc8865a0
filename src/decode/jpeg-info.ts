/** What a JPEG's header says about the image, read without decoding it. */
import { EOI, SOI, SOS, jpegSegments } from '../frame/jpeg-segments.js';

const DHT = 0xc4;
const JPG = 0xc8;
const DAC = 0xcc;

/**
 * Width and height from the first SOFn segment (C0..CF minus C4, C8, CC, which share the
 * range but are not frame headers). Undefined for anything that is not a JPEG with a
 * complete SOF before the scan, or whose height is deferred to a DNL marker (stored as 0).
 */
export function jpegDimensions(jpeg: Buffer): { width: number; height: number } | undefined {
  for (const { marker, payloadStart, end } of jpegSegments(jpeg)) {
    if (marker < 0xc0 || marker > 0xcf || marker === DHT || marker === JPG || marker === DAC) continue;
    // Payload: precision (1), height (2), width (2), component count (1), ...
    if (end - payloadStart < 6) return undefined;
    const height = jpeg.readUInt16BE(payloadStart + 1);
    const width = jpeg.readUInt16BE(payloadStart + 3);
    return width > 0 && height > 0 ? { width, height } : undefined;
  }
  return undefined;
}

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
