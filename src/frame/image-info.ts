/** What an image's first bytes say about it, read without decoding: its type and size. */
import { jpegSegments } from './jpeg-segments.js';
import type { Frame, ImageType, Size } from './frame.js';

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const DHT = 0xc4;
const JPG = 0xc8;
const DAC = 0xcc;

export interface ImageInfo {
  type: ImageType;
  width?: number;
  height?: number;
}

/** The type and (when the header says) size of an image: the fields every frame carries. */
export function imageInfo(bytes: Buffer): ImageInfo {
  if (startsWith(bytes, JPEG_MAGIC)) return { type: 'jpeg', ...jpegDimensions(bytes) };
  if (startsWith(bytes, PNG_MAGIC)) return { type: 'png', ...pngDimensions(bytes) };
  return { type: 'other' };
}

/** A frame of these bytes, its type and size read once here. */
export function makeFrame(data: Buffer, fields: Pick<Frame, 'captureTime' | 'name'> = {}): Frame {
  return { data, ...imageInfo(data), ...fields };
}

/**
 * Width and height from the first SOFn segment (C0..CF minus C4, C8, CC, which share the
 * range but are not frame headers). Undefined for anything that is not a JPEG with a
 * complete SOF before the scan, or whose height is deferred to a DNL marker (stored as 0).
 */
export function jpegDimensions(jpeg: Buffer): Size | undefined {
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

/** IHDR is the first chunk: length (4), "IHDR" (4), width (4), height (4), big-endian. */
function pngDimensions(png: Buffer): Size | undefined {
  if (png.length < 24 || png.toString('latin1', 12, 16) !== 'IHDR') return undefined;
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  return width > 0 && height > 0 ? { width, height } : undefined;
}

function startsWith(bytes: Buffer, magic: Buffer): boolean {
  return bytes.length >= magic.length && bytes.compare(magic, 0, magic.length, 0, magic.length) === 0;
}
