/**
 * Walks the chunks of a PNG without decoding it, for the metadata chunk (png-metadata.ts).
 *
 * The input comes from the network, so nothing in it is trusted: the walk stops quietly at the
 * first chunk whose declared length runs past the end of the buffer, and at IDAT, since
 * vstream's chunk goes before the image data and nothing after it is needed.
 */

export const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Length (4) + type (4) before a chunk's data, CRC (4) after it. */
export const CHUNK_OVERHEAD = 12;
/** The PNG limit on a chunk's length (2^31 - 1). */
const MAX_CHUNK_LENGTH = 0x7fffffff;

export interface PngChunk {
  /** Four ASCII letters, e.g. `IHDR`. */
  type: string;
  /** Offset of the chunk's length field. */
  start: number;
  /** Offset of the first data byte. */
  dataStart: number;
  /** Offset one past the data (where the CRC starts). */
  dataEnd: number;
  /** Offset one past the CRC. */
  end: number;
}

export function isPng(bytes: Buffer): boolean {
  return bytes.length >= PNG_SIGNATURE.length && bytes.compare(PNG_SIGNATURE, 0, PNG_SIGNATURE.length, 0, PNG_SIGNATURE.length) === 0;
}

/** Each complete chunk after the signature, up to and excluding IDAT (or IEND). */
export function* pngChunks(png: Buffer): Generator<PngChunk> {
  if (!isPng(png)) return;
  let pos = PNG_SIGNATURE.length;
  while (pos + CHUNK_OVERHEAD <= png.length) {
    const length = png.readUInt32BE(pos);
    const type = png.toString('latin1', pos + 4, pos + 8);
    if (length > MAX_CHUNK_LENGTH || type === 'IDAT' || type === 'IEND') return;
    const end = pos + CHUNK_OVERHEAD + length;
    if (end > png.length) return;
    yield { type, start: pos, dataStart: pos + 8, dataEnd: end - 4, end };
    pos = end;
  }
}

/** The CRC a chunk must end with: CRC-32 (ISO 3309) of its type and data. */
export function chunkCrc(png: Buffer, chunk: PngChunk): number {
  return crc32(png.subarray(chunk.start + 4, chunk.dataEnd));
}

export function hasValidCrc(png: Buffer, chunk: PngChunk): boolean {
  return png.readUInt32BE(chunk.dataEnd) === chunkCrc(png, chunk);
}

/** A complete chunk: length, type, data, CRC. */
export function makeChunk(type: string, data: Buffer): Buffer {
  const chunk = Buffer.allocUnsafe(CHUNK_OVERHEAD + data.length);
  chunk.writeUInt32BE(data.length, 0);
  chunk.write(type, 4, 4, 'latin1');
  data.copy(chunk, 8);
  chunk.writeUInt32BE(crc32(chunk.subarray(4, 8 + data.length)), 8 + data.length);
  return chunk;
}

// zlib.crc32 exists only from Node 20.15; vstream supports every Node 20.
const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
