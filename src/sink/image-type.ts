/**
 * The file suffix for a payload, from its first bytes. A peer's file name may say `.png` for
 * what is now a JPEG (the sender re-encoded it), and a raw peer may send any bytes at all: the
 * suffix on disk must say what a viewer will find inside.
 */

export type ImageSuffix = 'jpg' | 'png' | 'bin';

const JPEG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export function imageSuffix(bytes: Buffer): ImageSuffix {
  if (startsWith(bytes, JPEG_MAGIC)) return 'jpg';
  if (startsWith(bytes, PNG_MAGIC)) return 'png';
  return 'bin';
}

function startsWith(bytes: Buffer, magic: Buffer): boolean {
  return bytes.length >= magic.length && bytes.compare(magic, 0, magic.length, 0, magic.length) === 0;
}
