/**
 * Asks a camera what it offers, before capture: each program used here lists and exits, so the
 * device is free again by the time ffmpeg opens it to capture. Linux: `v4l2-ctl
 * --list-formats-ext` when v4l-utils is installed (it states rates), else ffmpeg's v4l2
 * `-list_formats all` (sizes only); Windows: dshow `-list_options true`; macOS: the modes
 * avfoundation prints when asked for a size no camera has.
 */
import { parseAvfoundationModes } from './avfoundation-listing.js';
import { parseDshowOptions } from './dshow-listing.js';
import { MAX_LISTING_CHARS, type CameraFormat } from './formats.js';
import { parseV4l2CtlFormats, parseV4l2ListFormats } from './v4l2-listing.js';
import { runBriefly } from '../ffmpeg/run-briefly.js';

/** A camera's formats; undefined when they cannot be found out (no such program, not a camera). */
export type CameraLister = (device: string) => Promise<CameraFormat[] | undefined>;

/** A listing takes tens of milliseconds; a driver that hangs must not hold `send` up for long. */
export const LIST_TIMEOUT_MS = 4000;

export interface ListerOptions {
  ffmpegPath: string;
  platform?: NodeJS.Platform;
  /** `v4l2-ctl`, looked up on PATH; `null` to use ffmpeg's listing only. */
  v4l2Ctl?: string | null;
  timeoutMs?: number;
}

/** The arguments that make ffmpeg list a camera's formats (`device` as cameraDevice gives it) and exit. */
export function listFormatsArgs(device: string, platform: NodeJS.Platform): string[] {
  const quiet = ['-hide_banner', '-nostdin'];
  switch (platform) {
    case 'darwin':
      // No camera has a 1x1 mode: avfoundation refuses it and prints the modes there are.
      return [...quiet, '-f', 'avfoundation', '-video_size', '1x1', '-i', device];
    case 'win32':
      return [...quiet, '-f', 'dshow', '-list_options', 'true', '-i', device];
    default:
      return [...quiet, '-f', 'v4l2', '-list_formats', 'all', '-i', device];
  }
}

export function cameraLister({ ffmpegPath, platform = process.platform, v4l2Ctl = 'v4l2-ctl', timeoutMs = LIST_TIMEOUT_MS }: ListerOptions): CameraLister {
  return async (device) => {
    if (platform !== 'darwin' && platform !== 'win32' && v4l2Ctl !== null) {
      const ctl = await runBriefly(v4l2Ctl, ['--list-formats-ext', '-d', device], { timeoutMs, maxChars: MAX_LISTING_CHARS });
      const formats = ctl && parseV4l2CtlFormats(ctl.stdout);
      if (formats && formats.length > 0) return formats;
    }
    const ffmpeg = await runBriefly(ffmpegPath, listFormatsArgs(device, platform), { timeoutMs, maxChars: MAX_LISTING_CHARS });
    if (!ffmpeg) return undefined;
    const parse = platform === 'darwin' ? parseAvfoundationModes : platform === 'win32' ? parseDshowOptions : parseV4l2ListFormats;
    const formats = parse(ffmpeg.stderr);
    return formats.length > 0 ? formats : undefined;
  };
}
