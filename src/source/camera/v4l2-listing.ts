/**
 * A V4L2 camera's formats, from the two listings Linux offers: `ffmpeg -f v4l2 -list_formats all`
 * (always there; sizes only) and `v4l2-ctl --list-formats-ext` (v4l-utils; sizes and rates).
 * Pure functions of the text.
 */
import { FormatList, listingLines, rate, size, type CameraFormat, type FormatKind, type FpsRange } from './formats.js';

// `Raw       :     yuyv422 :           YUYV 4:2:2 : 640x480 1280x720`; ffmpeg before 1.0 wrote `R : ...`.
const FFMPEG_LINE = /^(Raw|Compressed|R|C)\s*:\s*(\S+)\s*:\s(.*)$/;
// ffmpeg's two ways to print a size: `640x480`, and `{32-2592, 2}x{32-1944, 2}` for stepwise ones.
const FFMPEG_SIZES = /\{(\d+)-(\d+), (\d+)\}x\{(\d+)-(\d+), (\d+)\}|(\d+)x(\d+)/g;

/** The formats in what `ffmpeg -f v4l2 -list_formats all -i DEVICE` wrote on stderr. */
export function parseV4l2ListFormats(text: string): CameraFormat[] {
  const list = new FormatList();
  for (const line of listingLines(text)) {
    const match = FFMPEG_LINE.exec(line.trim());
    if (!match) continue;
    const compressed = match[1]!.startsWith('C');
    const name = match[2]!;
    // The description may hold colons (`YUYV 4:2:2`) but never " : ", which separates the
    // columns: description, maybe `Emulated`, then the sizes.
    const columns = `${match[3]!.trimEnd()} `.split(' : ');
    const sizes = columns.length > 1 ? columns.at(-1)! : '';
    const description = columns.length > 1 ? columns[0]!.trim() : match[3]!.replace(/:\s*$/, '').trim();
    const format = list.format(ffmpegKind(compressed, name), name, description);
    if (!format) continue;
    for (const found of sizes.matchAll(FFMPEG_SIZES)) {
      if (found[7] !== undefined) {
        const at = size(found[7], found[8]!);
        if (at) FormatList.mode(format, at);
      } else {
        const min = size(found[1]!, found[4]!);
        const max = size(found[2]!, found[5]!);
        const step = size(found[3]!, found[6]!) ?? { width: 1, height: 1 };
        if (min && max) format.range = { min, max, step, rates: [] };
      }
    }
  }
  return list.list();
}

function ffmpegKind(compressed: boolean, name: string): FormatKind {
  if (name === 'mjpeg') return 'mjpeg';
  // ffmpeg names a raw format it cannot read "Unsupported": of no use to it.
  return compressed || name === 'Unsupported' ? 'other' : 'raw';
}

/** V4L2 fourccs ffmpeg reads, by the name its `-input_format` takes. */
const FOURCC_NAMES: Readonly<Record<string, string>> = {
  MJPG: 'mjpeg',
  JPEG: 'mjpeg',
  YUYV: 'yuyv422',
  UYVY: 'uyvy422',
  YVYU: 'yvyu422',
  YU12: 'yuv420p',
  '422P': 'yuv422p',
  '411P': 'yuv411p',
  NV12: 'nv12',
  NV21: 'nv21',
  RGB3: 'rgb24',
  BGR3: 'bgr24',
  RGBP: 'rgb565le',
  GREY: 'gray',
  H264: 'h264',
  HEVC: 'hevc',
};

/** The formats in what `v4l2-ctl --list-formats-ext -d DEVICE` printed, in either of its layouts. */
export function parseV4l2CtlFormats(text: string): CameraFormat[] {
  const list = new FormatList();
  let format: CameraFormat | undefined;
  // Old layout: `Index`, `Pixel Format: 'MJPG' (compressed)`, then `Name : Motion-JPEG`.
  let pending: { fourcc: string; compressed: boolean } | undefined;
  let rates: FpsRange[] | undefined;
  const open = (fourcc: string, compressed: boolean, description: string): void => {
    const name = FOURCC_NAMES[fourcc] ?? fourcc.toLowerCase();
    const kind: FormatKind = name === 'mjpeg' ? 'mjpeg' : compressed || !(fourcc in FOURCC_NAMES) ? 'other' : 'raw';
    format = list.format(kind, name, description);
    rates = undefined;
  };
  for (const raw of listingLines(text)) {
    const line = raw.trim();
    let match: RegExpExecArray | null;
    if ((match = /^\[\d+\]: '([^']{1,4})' \((.*)\)$/.exec(line))) {
      const flags = match[2]!.split(', ');
      const compressed = flags.includes('compressed');
      open(match[1]!.trim(), compressed, flags.filter((flag) => flag !== 'compressed' && flag !== 'emulated').join(', '));
      pending = undefined;
    } else if (/^Index\s*:/.test(line)) {
      format = undefined;
      pending = undefined;
    } else if ((match = /^Pixel Format\s*: '([^']{1,4})'(?: \((.*)\))?$/.exec(line))) {
      pending = { fourcc: match[1]!.trim(), compressed: (match[2] ?? '').split(', ').includes('compressed') };
      open(pending.fourcc, pending.compressed, '');
    } else if (pending && (match = /^Name\s*: (.*)$/.exec(line))) {
      // JPEG and MJPG are one format to ffmpeg: the first one's name stays.
      if (format && format.description === '') format.description = match[1]!.trim();
    } else if (!format) {
      continue;
    } else if ((match = /^Size: Discrete (\d+)x(\d+)$/.exec(line))) {
      const at = size(match[1]!, match[2]!);
      rates = at ? FormatList.mode(format, at)?.rates : undefined;
    } else if ((match = /^Size: (?:Stepwise|Continuous) (\d+)x(\d+) - (\d+)x(\d+)(?: with step (\d+)\/(\d+))?$/.exec(line))) {
      const min = size(match[1]!, match[2]!);
      const max = size(match[3]!, match[4]!);
      const step = (match[5] !== undefined && size(match[5], match[6]!)) || { width: 1, height: 1 };
      if (min && max) {
        format.range = { min, max, step, rates: [] };
        rates = format.range.rates;
      }
    } else if (rates && (match = /^Interval: Discrete [\d.]+s \(([\d.]+) fps\)$/.exec(line))) {
      const fps = rate(match[1]!);
      if (fps !== undefined) FormatList.rate(rates, { min: fps, max: fps });
    } else if (rates && (match = /^Interval: (?:Stepwise|Continuous) .*\(([\d.]+)-([\d.]+) fps\)$/.exec(line))) {
      const low = rate(match[1]!);
      const high = rate(match[2]!);
      if (low !== undefined && high !== undefined) FormatList.rate(rates, { min: Math.min(low, high), max: Math.max(low, high) });
    }
  }
  return list.list();
}
