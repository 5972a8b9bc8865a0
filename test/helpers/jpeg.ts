/** Test images made with sharp, and small JPEG byte-level tools. */
import sharp from 'sharp';

export interface ImageOptions {
  width?: number;
  height?: number;
  /** Noise makes realistic entropy-coded data (with FF00 stuffing); a flat colour compresses to almost nothing. */
  noise?: boolean;
  /** Flat colour when `noise` is false. */
  color?: string;
  quality?: number;
  progressive?: boolean;
}

function base({ width = 64, height = 48, noise = true, color = '#3366cc' }: ImageOptions): ReturnType<typeof sharp> {
  return noise
    ? sharp({ create: { width, height, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 40 } } })
    : sharp({ create: { width, height, channels: 3, background: color } });
}

export async function makeJpeg(options: ImageOptions = {}): Promise<Buffer> {
  const { quality = 80, progressive = false } = options;
  return base(options).jpeg({ quality, progressive }).toBuffer();
}

export async function makePng(options: ImageOptions = {}): Promise<Buffer> {
  return base(options).png().toBuffer();
}

/** Width, height and format as sharp decodes them; throws if the bytes are not a decodable image. */
export async function imageInfo(bytes: Buffer): Promise<{ width: number; height: number; format: string }> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  if (data.length === 0) throw new Error('empty image');
  const { format } = await sharp(bytes).metadata();
  return { width: info.width, height: info.height, format: String(format) };
}

/**
 * Inserts an EXIF APP1 segment right after SOI holding `thumbnail` as the EXIF thumbnail (IFD1
 * JPEGInterchangeFormat), as cameras write it: the result contains a whole FFD8...FFD9 JPEG
 * inside its first segment.
 */
export function withExifThumbnail(jpeg: Buffer, thumbnail: Buffer): Buffer {
  // TIFF header (little-endian), empty IFD0 pointing to IFD1 with two LONG entries.
  const tiff = Buffer.alloc(8 + 6 + 30);
  tiff.write('II*\0', 0, 'latin1');
  tiff.writeUInt32LE(8, 4); // IFD0 offset
  tiff.writeUInt16LE(0, 8); // IFD0: no entries
  tiff.writeUInt32LE(14, 10); // next IFD: IFD1
  tiff.writeUInt16LE(2, 14); // IFD1: two entries
  tiff.writeUInt16LE(0x0201, 16); // JPEGInterchangeFormat
  tiff.writeUInt16LE(4, 18);
  tiff.writeUInt32LE(1, 20);
  tiff.writeUInt32LE(tiff.length, 24); // thumbnail right after the IFDs
  tiff.writeUInt16LE(0x0202, 28); // JPEGInterchangeFormatLength
  tiff.writeUInt16LE(4, 30);
  tiff.writeUInt32LE(1, 32);
  tiff.writeUInt32LE(thumbnail.length, 36);
  tiff.writeUInt32LE(0, 40); // no further IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff, thumbnail]);
  if (payload.length + 2 > 0xffff) throw new Error('thumbnail too large for one APP1 segment');
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([jpeg.subarray(0, 2), header, payload, jpeg.subarray(2)]);
}

/** An uncompressed 24-bit bottom-up BMP, from a pixel function. */
export function makeBmp24(width: number, height: number, pixel: (x: number, y: number) => [number, number, number]): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const out = Buffer.alloc(54 + stride * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(54, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(24, 28);
  for (let y = 0; y < height; y++) {
    const row = 54 + stride * (height - 1 - y);
    for (let x = 0; x < width; x++) {
      const [r, g, b] = pixel(x, y);
      out[row + x * 3] = b;
      out[row + x * 3 + 1] = g;
      out[row + x * 3 + 2] = r;
    }
  }
  return out;
}

/**
 * The scans of a JPEG: each from its SOS marker to the next marker that is neither a stuffed
 * byte (FF00) nor a restart (FFD0-FFD7). Offsets into `jpeg`.
 */
function scans(jpeg: Buffer): Array<{ start: number; end: number }> {
  const found: Array<{ start: number; end: number }> = [];
  let pos = 2;
  while (pos + 3 < jpeg.length) {
    if (jpeg[pos] !== 0xff) throw new Error(`no marker at ${pos}`);
    const marker = jpeg[pos + 1]!;
    if (marker === 0xd9) break;
    const segmentEnd = pos + 2 + jpeg.readUInt16BE(pos + 2);
    if (marker !== 0xda) {
      pos = segmentEnd;
      continue;
    }
    let end = segmentEnd;
    while (end + 1 < jpeg.length && !(jpeg[end] === 0xff && jpeg[end + 1] !== 0 && (jpeg[end + 1]! < 0xd0 || jpeg[end + 1]! > 0xd7))) end++;
    found.push({ start: pos, end });
    pos = end;
  }
  return found;
}

/**
 * A progressive JPEG with its last scan repeated until it has `total` scans: the shape of the
 * known denial of service (every scan is a pass over all coefficients), cheap to send.
 * libjpeg only warns about the repeated progression.
 */
export function withRepeatedScans(progressive: Buffer, total: number): Buffer {
  const all = scans(progressive);
  const last = all[all.length - 1];
  if (!last || all.length < 2) throw new Error('not a progressive JPEG');
  const repeat = progressive.subarray(last.start, last.end);
  const copies = Array.from({ length: Math.max(0, total - all.length) }, () => repeat);
  return Buffer.concat([progressive.subarray(0, last.end), ...copies, progressive.subarray(last.end)]);
}

/** How many scans (SOS segments) a JPEG has. */
export function scanCount(jpeg: Buffer): number {
  return scans(jpeg).length;
}

/** `jpeg` with its SOF (any SOFn) claiming `width` x `height`: the scan data stays as it was. */
export function claimingSize(jpeg: Buffer, width: number, height: number): Buffer {
  const copy = Buffer.from(jpeg);
  for (let i = 2; i + 9 < copy.length; i++) {
    const marker = copy[i + 1]!;
    if (copy[i] === 0xff && marker >= 0xc0 && marker <= 0xc2) {
      copy.writeUInt16BE(height, i + 5);
      copy.writeUInt16BE(width, i + 7);
      return copy;
    }
  }
  throw new Error('no SOF0, SOF1 or SOF2');
}
