/**
 * What a camera says it can give: its formats (MJPEG, raw pixel formats, others), each with the
 * sizes and frame rates it offers. Filled by the listing parsers (v4l2, dshow, avfoundation);
 * read by the choice of format and by `vstream doctor`.
 */
import type { Size } from '../types.js';

/** `mjpeg`: the camera's own JPEGs; `raw`: pixels ffmpeg reads; `other`: H.264 and the like, never chosen. */
export type FormatKind = 'mjpeg' | 'raw' | 'other';

/** A span of frame rates; a single rate has `min === max`. */
export interface FpsRange {
  min: number;
  max: number;
}

/** One size and the rates offered at it; `rates` is empty when the listing does not say (ffmpeg's v4l2 listing). */
export interface CameraMode extends Size {
  rates: FpsRange[];
}

/** Any size from min to max in steps (stepwise and continuous V4L2 sizes). */
export interface SizeRange {
  min: Size;
  max: Size;
  step: Size;
  rates: FpsRange[];
}

export interface CameraFormat {
  kind: FormatKind;
  /** ffmpeg's name for it, as `-input_format` (v4l2), `-vcodec` or `-pixel_format` (dshow) take it: `mjpeg`, `yuyv422`, `h264`. */
  name: string;
  /** The driver's words for it (`Motion-JPEG`, `YUYV 4:2:2`); may be empty. */
  description: string;
  modes: CameraMode[];
  range?: SizeRange;
}

/** A listing is text from a program that is not ours: no more than this much of it is read. */
export const MAX_LISTING_CHARS = 64 * 1024;
/** ... nor more formats, or modes in one format, than these. */
export const MAX_FORMATS = 64;
export const MAX_MODES = 512;
/** Sides beyond this are not a camera's (and would not fit ffmpeg's size option anyway). */
const MAX_SIDE = 16384;

/** Rates closer than this (relative) are the same: drivers say 30.000030 or 29.97 for 30. */
const RATE_TOLERANCE = 0.01;

export function sameRate(a: number, b: number): boolean {
  return Math.abs(a - b) <= RATE_TOLERANCE * Math.max(a, b);
}

export function offersRate(rates: readonly FpsRange[], fps: number): boolean {
  return rates.some(({ min, max }) => fps >= min * (1 - RATE_TOLERANCE) && fps <= max * (1 + RATE_TOLERANCE));
}

/** The highest rate offered, or undefined when the listing does not say. */
export function topRate(rates: readonly FpsRange[]): number | undefined {
  return rates.length === 0 ? undefined : Math.max(...rates.map(({ max }) => max));
}

/** The format's own rates at `size`, or undefined when it does not offer that size. */
export function ratesAt(format: CameraFormat, size: Size): FpsRange[] | undefined {
  const mode = format.modes.find(({ width, height }) => width === size.width && height === size.height);
  if (mode) return mode.rates;
  const range = format.range;
  if (range && within(size.width, range.min.width, range.max.width, range.step.width) && within(size.height, range.min.height, range.max.height, range.step.height)) {
    return range.rates;
  }
  return undefined;
}

function within(value: number, min: number, max: number, step: number): boolean {
  return value >= min && value <= max && (step <= 1 || (value - min) % step === 0);
}

/** Whether the format gives `size` (any size when unset) at `fps` (any rate when unset; a rate the listing does not state is taken as offered). */
export function offers(format: CameraFormat, size: Size | undefined, fps: number | undefined): boolean {
  if (size === undefined) {
    if (fps === undefined) return format.modes.length > 0 || format.range !== undefined;
    const all = [...format.modes.map(({ rates }) => rates), ...(format.range ? [format.range.rates] : [])];
    return all.some((rates) => rates.length === 0 || offersRate(rates, fps));
  }
  const rates = ratesAt(format, size);
  if (rates === undefined) return false;
  return fps === undefined || rates.length === 0 || offersRate(rates, fps);
}

/** A size from text, when both sides are plausible. */
export function size(width: string, height: string): Size | undefined {
  const w = Number(width);
  const h = Number(height);
  return w >= 1 && h >= 1 && w <= MAX_SIDE && h <= MAX_SIDE ? { width: w, height: h } : undefined;
}

/** A rate from text, when it is one. */
export function rate(text: string): number | undefined {
  const value = Number(text);
  return Number.isFinite(value) && value > 0 && value < 100_000 ? value : undefined;
}

/**
 * Collects formats as a parser finds them: one entry per (kind, name), modes merged by size,
 * rates deduplicated, everything capped.
 */
export class FormatList {
  private readonly formats: CameraFormat[] = [];

  format(kind: FormatKind, name: string, description: string): CameraFormat | undefined {
    const found = this.formats.find((format) => format.kind === kind && format.name === name);
    if (found) return found;
    if (this.formats.length >= MAX_FORMATS) return undefined;
    const format: CameraFormat = { kind, name, description, modes: [] };
    this.formats.push(format);
    return format;
  }

  static mode(format: CameraFormat, { width, height }: Size, rates: readonly FpsRange[] = []): CameraMode | undefined {
    let mode = format.modes.find((m) => m.width === width && m.height === height);
    if (!mode) {
      if (format.modes.length >= MAX_MODES) return undefined;
      mode = { width, height, rates: [] };
      format.modes.push(mode);
    }
    for (const range of rates) FormatList.rate(mode.rates, range);
    return mode;
  }

  static rate(rates: FpsRange[], range: FpsRange): void {
    if (rates.length >= MAX_MODES) return;
    if (!rates.some(({ min, max }) => sameRate(min, range.min) && sameRate(max, range.max))) rates.push(range);
  }

  list(): CameraFormat[] {
    return this.formats.filter((format) => format.modes.length > 0 || format.range !== undefined);
  }
}

/** The listing's lines, bounded, without ffmpeg's `[name @ 0x...]` prefixes. */
export function listingLines(text: string): string[] {
  return text
    .slice(0, MAX_LISTING_CHARS)
    .split(/\r\n|\r|\n/)
    .map((line) => line.replace(/^\[[^\]]*\]\s?/, ''));
}

/** `30`, `29.97`, `7.5`: a rate as people write it. */
export function formatRate(value: number): string {
  return String(Number(value.toFixed(2)));
}

function formatRates(rates: readonly FpsRange[]): string {
  return rates.map(({ min, max }) => (sameRate(min, max) ? formatRate(max) : `${formatRate(min)}-${formatRate(max)}`)).join('/');
}

/** One line per format, for `vstream doctor`: `mjpeg (Motion-JPEG): 1920x1080@30 1280x720@60/30 ...`. */
export function describeFormat(format: CameraFormat): string {
  const modes = format.modes.map((mode) => `${mode.width}x${mode.height}${mode.rates.length > 0 ? `@${formatRates(mode.rates)}` : ''}`);
  if (format.range) {
    const { min, max, step, rates } = format.range;
    const steps = step.width > 1 || step.height > 1 ? ` in steps of ${step.width}x${step.height}` : '';
    modes.push(`${min.width}x${min.height} to ${max.width}x${max.height}${steps}${rates.length > 0 ? `@${formatRates(rates)}` : ''}`);
  }
  const name = format.name || format.kind;
  const description = format.description && format.description !== format.name ? ` (${format.description})` : '';
  return `${name}${description}: ${modes.join(' ')}`;
}

/** `mjpeg, yuyv422, h264`: the formats' names, for messages. */
export function formatNames(formats: readonly CameraFormat[]): string {
  return formats.length === 0 ? 'none listed' : formats.map((format) => format.name || format.kind).join(', ');
}
