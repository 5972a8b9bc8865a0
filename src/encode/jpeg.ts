/** The JPEG encode stage for still images (`--dir`), with sharp. */
import { loadSharp, type Sharp } from '../native/sharp.js';
import type { Size } from '../frame/frame.js';
import { decodeBmp, isBmp } from './bmp.js';

export interface JpegEncodeOptions {
  /** libjpeg quality 1-100. */
  quality: number;
  /** Resize to exactly this size, stretching if the aspect differs (as ffmpeg's scale does for video). */
  size?: Size;
}

export function isJpeg(bytes: Buffer): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

/** Decodes any image sharp reads, or a BMP, and encodes it as a baseline 4:2:0 JPEG. */
export async function encodeJpeg(image: Buffer, { quality, size }: JpegEncodeOptions): Promise<Buffer> {
  const sharp = await loadSharp();
  const input = isBmp(image) ? sharpFromBmp(sharp, image) : sharp(image);
  // Metadata is not carried over, so apply the EXIF orientation now or the picture turns sideways.
  let pipeline = input.rotate();
  if (size) pipeline = pipeline.resize(size.width, size.height, { fit: 'fill' });
  return pipeline.jpeg({ quality }).toBuffer();
}

function sharpFromBmp(sharp: Sharp, image: Buffer): ReturnType<Sharp> {
  const { data, width, height, channels } = decodeBmp(image);
  return sharp(data, { raw: { width, height, channels } });
}
