import { UsageError } from '../errors.js';
import { MAX_DIMENSION, MAX_FRAME_PIXELS } from './limits.js';

/** Command-line value parsers: each turns text into a typed value or throws a UsageError. */

export function parseIntInRange(name: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`invalid ${name} "${text}": expected a whole number from ${min} to ${max}`);
  }
  return value;
}

export function parseSize(text: string): { width: number; height: number } {
  const match = /^(\d{1,5})[xX](\d{1,5})$/.exec(text.trim());
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 2 || height < 2 || width > MAX_DIMENSION || height > MAX_DIMENSION) {
    throw new UsageError(`invalid --size "${text}": expected WIDTHxHEIGHT, e.g. 640x480`);
  }
  if (width * height > MAX_FRAME_PIXELS) throw new UsageError(`invalid --size "${text}": more than ${MAX_FRAME_PIXELS} pixels (16384x16384)`);
  // Encoders with 4:2:0 chroma need even dimensions.
  if (width % 2 || height % 2) throw new UsageError(`invalid --size "${text}": width and height must be even`);
  return { width, height };
}

export function parseFps(text: string): number | 'max' {
  if (text.trim() === 'max') return 'max';
  const value = Number(text.trim());
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(value > 0) || value > 1000) {
    throw new UsageError(`invalid --fps "${text}": expected a number of frames per second (0-1000) or "max"`);
  }
  return value;
}

/** Byte counts such as `64M`, `512k`, `1000000`. */
export function parseBytes(name: string, text: string): number {
  const match = /^(\d+)([kKmMgG]?)i?[bB]?$/.exec(text.trim());
  if (!match) throw new UsageError(`invalid ${name} "${text}": expected a size such as 16M or 500000`);
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g'];
  const value = Number(match[1]) * unit;
  if (value < 1 || value > 2 ** 31) throw new UsageError(`invalid ${name} "${text}": must be between 1 byte and 2 GiB`);
  return value;
}

/** A duration in seconds (`10`, `0.5`), up to a day; returned in milliseconds. */
export function parseSeconds(name: string, text: string, { zero = false }: { zero?: boolean } = {}): number {
  const value = Number(text.trim());
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(value > 0 || (zero && value === 0)) || value > 86_400) {
    const range = zero ? ' from 0 to 86400' : ', more than 0 and up to 86400';
    throw new UsageError(`invalid ${name} "${text}": expected a number of seconds${range}`);
  }
  return Math.round(value * 1000);
}
