/** What a JPEG's header says about the image, read without decoding it. */
import { jpegSegments } from '../frame/jpeg-segments.js';

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
