/**
 * A BMP reader for the uncompressed variants (1/4/8-bit palette, 16/24/32-bit, BI_BITFIELDS),
 * because sharp's libvips has no BMP loader and `--dir` promises .bmp. RLE-compressed BMPs are
 * refused with a clear error. Alpha is ignored: the result becomes a JPEG.
 */
export interface RawRgb {
  data: Buffer;
  width: number;
  height: number;
  channels: 3;
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
/** sharp's own default pixel limit. */
const MAX_PIXELS = 0x3fff * 0x3fff;

export function isBmp(bytes: Buffer): boolean {
  return bytes.length >= 26 && bytes[0] === 0x42 && bytes[1] === 0x4d;
}

export function decodeBmp(bytes: Buffer): RawRgb {
  if (!isBmp(bytes)) throw new Error('not a BMP file');
  const pixelOffset = bytes.readUInt32LE(10);
  const headerSize = bytes.readUInt32LE(14);
  const core = headerSize === 12; // OS/2 BITMAPCOREHEADER: 16-bit sizes, 3-byte palette entries
  if (!core && (headerSize < 40 || bytes.length < 14 + headerSize)) throw new Error('invalid BMP header');
  const width = core ? bytes.readUInt16LE(18) : bytes.readInt32LE(18);
  const rawHeight = core ? bytes.readUInt16LE(20) : bytes.readInt32LE(22);
  const bpp = core ? bytes.readUInt16LE(24) : bytes.readUInt16LE(28);
  const compression = core ? BI_RGB : bytes.readUInt32LE(30);
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0 || width * height > MAX_PIXELS) throw new Error(`unsupported BMP size ${width}x${height}`);
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new Error(`compressed BMP (method ${compression}) is not supported; save it uncompressed or as PNG`);
  }
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (pixelOffset + stride * height > bytes.length) throw new Error('truncated BMP');

  const pixel = pixelReader(bytes, bpp, compression, headerSize, core);
  const data = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    // Positive heights are stored bottom row first.
    const row = pixelOffset + stride * (rawHeight > 0 ? height - 1 - y : y);
    for (let x = 0; x < width; x++) pixel(row, x, data, (y * width + x) * 3);
  }
  return { data, width, height, channels: 3 };
}

type PixelReader = (row: number, x: number, out: Buffer, at: number) => void;

function pixelReader(bytes: Buffer, bpp: number, compression: number, headerSize: number, core: boolean): PixelReader {
  if (bpp === 24) {
    return (row, x, out, at) => {
      const p = row + x * 3;
      out[at] = bytes[p + 2]!;
      out[at + 1] = bytes[p + 1]!;
      out[at + 2] = bytes[p]!;
    };
  }
  if (bpp === 16 || bpp === 32) {
    const masks =
      compression === BI_RGB
        ? bpp === 16
          ? [0x7c00, 0x03e0, 0x001f]
          : [0xff0000, 0x00ff00, 0x0000ff]
        : [bytes.readUInt32LE(54), bytes.readUInt32LE(58), bytes.readUInt32LE(62)];
    const channels = masks.map(channelOf);
    return (row, x, out, at) => {
      const value = bpp === 16 ? bytes.readUInt16LE(row + x * 2) : bytes.readUInt32LE(row + x * 4);
      for (let c = 0; c < 3; c++) out[at + c] = channels[c]!(value);
    };
  }
  if (bpp === 1 || bpp === 4 || bpp === 8) {
    const entrySize = core ? 3 : 4;
    const paletteAt = 14 + headerSize;
    const colours = core ? 1 << bpp : bytes.readUInt32LE(46) || 1 << bpp;
    const perByte = 8 / bpp;
    return (row, x, out, at) => {
      const byte = bytes[row + Math.floor(x / perByte)]!;
      const index = (byte >> (8 - bpp * (1 + (x % perByte)))) & ((1 << bpp) - 1);
      if (index >= colours) throw new Error('BMP palette index out of range');
      const entry = paletteAt + index * entrySize;
      out[at] = bytes[entry + 2]!;
      out[at + 1] = bytes[entry + 1]!;
      out[at + 2] = bytes[entry]!;
    };
  }
  throw new Error(`unsupported BMP depth: ${bpp} bits per pixel`);
}

/** Extracts one colour channel from a packed pixel and scales it to 0..255. */
function channelOf(mask: number): (value: number) => number {
  if (mask === 0) return () => 0;
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  const max = mask >>> shift;
  return (value) => Math.round((((value & mask) >>> shift) * 255) / max);
}
