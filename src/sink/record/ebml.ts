/**
 * EBML, the binary format of Matroska: each element is an ID, a size as a variable-length
 * integer (vint), then its data. Pure encoders; the IDs are written as their spec's bytes.
 */

/** A size no vint of 8 bytes can hold: the largest a file needs here is far below it. */
const MAX_VINT8 = 2 ** 56 - 2;

/** The size of an element still being written (a live Segment or Cluster): eight bytes, all value bits set. */
export const UNKNOWN_SIZE = Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

/** `size` as the shortest vint that holds it (a vint of all ones means "unknown", so it is skipped). */
export function vint(size: number): Buffer {
  if (!Number.isSafeInteger(size) || size < 0 || size > MAX_VINT8) throw new RangeError(`EBML size out of range: ${size}`);
  let length = 1;
  while (size >= 2 ** (7 * length) - 1) length += 1;
  return vintOfLength(size, length);
}

/** `size` as a vint of exactly `length` bytes: for sizes written first as unknown and patched later. */
export function vintOfLength(size: number, length: number): Buffer {
  if (length < 1 || length > 8 || size >= 2 ** (7 * length) - 1) throw new RangeError(`EBML size ${size} does not fit ${length} bytes`);
  const bytes = Buffer.alloc(length);
  let rest = size;
  for (let i = length - 1; i >= 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  bytes[0]! |= 0x80 >> (length - 1);
  return bytes;
}

/** An element whose data is `data`. */
export function element(id: number, data: Buffer | readonly Buffer[]): Buffer {
  const parts = Buffer.isBuffer(data) ? [data] : data;
  const size = parts.reduce((sum, part) => sum + part.length, 0);
  return Buffer.concat([idBytes(id), vint(size), ...parts]);
}

/** An unsigned integer element, in as few bytes as hold it (at least one). */
export function uintElement(id: number, value: number): Buffer {
  return element(id, uintBytes(value));
}

/** An unsigned integer in exactly `length` bytes, big-endian: for values patched in place later. */
export function uintBytes(value: number, length?: number): Buffer {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`EBML unsigned integer out of range: ${value}`);
  let needed = 1;
  while (needed < 8 && value >= 2 ** (8 * needed)) needed += 1;
  const size = length ?? needed;
  if (size < needed) throw new RangeError(`${value} does not fit ${size} bytes`);
  const bytes = Buffer.alloc(size);
  let rest = value;
  for (let i = size - 1; i >= 0 && rest > 0; i--) {
    bytes[i] = rest % 256;
    rest = Math.floor(rest / 256);
  }
  return bytes;
}

/** A signed 8-byte integer element (Matroska's dates). */
export function intElement(id: number, value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(value);
  return element(id, bytes);
}

/** An 8-byte float element. */
export function floatElement(id: number, value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleBE(value);
  return element(id, bytes);
}

/** A string element (ASCII or UTF-8, as the ID's type says). */
export function stringElement(id: number, value: string): Buffer {
  return element(id, Buffer.from(value, 'utf8'));
}

/**
 * A Void element of exactly `total` bytes (at least 2), which readers skip: room kept for an
 * element written once its value is known.
 */
export function voidElement(total: number): Buffer {
  if (total < 2) throw new RangeError(`a Void element takes at least 2 bytes, not ${total}`);
  // One size byte holds up to 126; beyond, eight bytes always fit.
  const sizeLength = total - 2 <= 126 ? 1 : 8;
  return Buffer.concat([Buffer.from([0xec]), vintOfLength(total - 1 - sizeLength, sizeLength), Buffer.alloc(total - 1 - sizeLength)]);
}

/** The bytes of an element ID: IDs carry their own length marker, so they are written as they are. */
export function idBytes(id: number): Buffer {
  const length = id >= 0x1000000 ? 4 : id >= 0x10000 ? 3 : id >= 0x100 ? 2 : 1;
  const bytes = Buffer.alloc(length);
  bytes.writeUIntBE(id, 0, length);
  return bytes;
}
