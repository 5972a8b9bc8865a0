/**
 * Asks a camera what it offers, before capture: each program used here lists and exits, so the
 * device is free again by the time ffmpeg opens it to capture. Linux: `v4l2-ctl
 * --list-formats-ext` when v4l-utils is installed (it states rates), else ffmpeg's v4l2
 * `-list_formats all` (sizes only); Windows: dshow `-list_options true`; macOS: the modes
 * avfoundation prints when asked for a size no camera has.
 */
import { spawn } from 'node:child_process';
import { parseAvfoundationModes } from './avfoundation-listing.js';
import { parseDshowOptions } from './dshow-listing.js';
import { MAX_LISTING_CHARS, type CameraFormat } from './formats.js';
import { parseV4l2CtlFormats, parseV4l2ListFormats } from './v4l2-listing.js';

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
      const ctl = await runListing(v4l2Ctl, ['--list-formats-ext', '-d', device], timeoutMs);
      const formats = ctl && parseV4l2CtlFormats(ctl.stdout);
      if (formats && formats.length > 0) return formats;
    }
    const ffmpeg = await runListing(ffmpegPath, listFormatsArgs(device, platform), timeoutMs);
    if (!ffmpeg) return undefined;
    const parse = platform === 'darwin' ? parseAvfoundationModes : platform === 'win32' ? parseDshowOptions : parseV4l2ListFormats;
    const formats = parse(ffmpeg.stderr);
    return formats.length > 0 ? formats : undefined;
  };
}

/** What a listing program wrote (bounded); undefined when it could not be started. It is killed at the timeout. */
function runListing(file: string, args: string[], timeoutMs: number): Promise<{ stdout: string; stderr: string } | undefined> {
  return new Promise((resolve) => {
    let stdout = '';
    let stderr = '';
    const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      if (stdout.length < MAX_LISTING_CHARS) stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < MAX_LISTING_CHARS) stderr += chunk;
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    child.once('close', () => {
      clearTimeout(timer);
      resolve({ stdout, stderr });
    });
  });
}
