/**
 * Which of a camera's formats to capture, and whether its JPEGs can be sent as they are.
 *
 * `auto` takes MJPEG when the camera offers it at the asked size and rate (most USB cameras
 * give 720p and 1080p at 30 frames/s only as MJPEG, the raw formats being limited by USB
 * bandwidth), else the raw format that does, else lets the driver pick as before. With no size
 * asked, MJPEG is taken at the
 * largest size up to 1920x1080 that reaches 25 frames/s, at its highest rate up to 30: the
 * camera's best picture at a usual video rate, while larger sizes (4K) at passthrough bitrates
 * are more than most links and viewers want. The JPEGs pass through untouched unless a
 * `--quality`, or a `--size` the camera does not give, asks for new ones.
 */
import { SourceError } from '../../errors.js';
import type { Size } from '../types.js';
import { formatNames, offers, offersRate, ratesAt, type CameraFormat, type CameraMode, type FpsRange } from './formats.js';

export const CAMERA_FORMAT_CHOICES = ['auto', 'mjpeg', 'raw'] as const;
export type CameraFormatChoice = (typeof CAMERA_FORMAT_CHOICES)[number];

/** The default mode's bounds (see above). */
const DEFAULT_MAX_PIXELS = 1920 * 1080;
const DEFAULT_MIN_FPS = 25;
const DEFAULT_MAX_FPS = 30;

export interface CameraPick {
  /** The format ffmpeg is told to read (`-input_format`, `-vcodec`, `-pixel_format`); unset: the driver's choice. */
  input?: { kind: 'mjpeg' | 'raw'; name: string };
  /** The size asked of the camera, and whether the camera listed it (dshow refuses sizes it lacks). */
  size?: Size;
  sizeListed: boolean;
  fps?: number;
  /** The camera's JPEGs are what is wanted: sent as they are, not decoded or encoded again. */
  passthrough: boolean;
}

export interface PickOptions {
  /** What the camera listed; undefined when that could not be found out. */
  formats: readonly CameraFormat[] | undefined;
  choice: CameraFormatChoice;
  /** `--size`, `--fps`, `--quality` as given (unset when not). */
  size?: Size | undefined;
  fps?: number | undefined;
  quality?: number | undefined;
  /** For messages: `camera /dev/video0`. */
  device: string;
}

export function pickCameraFormat({ formats, choice, size, fps, quality, device }: PickOptions): CameraPick {
  const asked = { size, sizeListed: false, fps, passthrough: false };
  if (formats === undefined || formats.length === 0) {
    // Nothing listed: as before, unless MJPEG is insisted on; then ffmpeg is asked for it blindly.
    if (choice !== 'mjpeg') return asked;
    return { ...asked, input: { kind: 'mjpeg', name: 'mjpeg' }, passthrough: quality === undefined && size === undefined };
  }
  const mjpeg = formats.filter((format) => format.kind === 'mjpeg');
  const raw = formats.filter((format) => format.kind === 'raw');
  if (choice === 'mjpeg' && mjpeg.length === 0) {
    throw new SourceError(`camera ${device} gives no MJPEG (its formats: ${formatNames(formats)}); use --camera-format raw or auto`, 'ERR_CAMERA_FORMAT');
  }
  if (choice === 'raw' && raw.length === 0) {
    throw new SourceError(`camera ${device} gives no raw format ffmpeg reads (its formats: ${formatNames(formats)}); use --camera-format mjpeg or auto`, 'ERR_CAMERA_FORMAT');
  }
  const candidates = choice === 'mjpeg' ? mjpeg : choice === 'raw' ? raw : [...mjpeg, ...raw];
  const chosen = candidates.find((format) => offers(format, size, fps));

  if (size !== undefined) {
    if (chosen) return pick(chosen, { size, sizeListed: true, fps, quality });
    // Not offered as asked: the driver takes the nearest mode and the output is scaled to size.
    return choice === 'auto' ? asked : { ...asked, input: inputOf(candidates[0]!) };
  }
  const format = chosen ?? candidates[0]!;
  // A raw format with nothing asked stays the driver's choice, as before MJPEG was looked for.
  if (choice === 'auto' && format.kind === 'raw') return asked;
  const mode = defaultMode(format, fps);
  if (!mode) return { ...asked, input: inputOf(format), passthrough: format.kind === 'mjpeg' && quality === undefined };
  return pick(format, { size: { width: mode.width, height: mode.height }, sizeListed: true, fps: fps ?? defaultRate(mode.rates), quality });
}

function pick(format: CameraFormat, { size, sizeListed, fps, quality }: { size: Size; sizeListed: boolean; fps: number | undefined; quality: number | undefined }): CameraPick {
  return {
    input: inputOf(format),
    size,
    sizeListed,
    ...(fps !== undefined && { fps }),
    passthrough: format.kind === 'mjpeg' && quality === undefined,
  };
}

function inputOf(format: CameraFormat): { kind: 'mjpeg' | 'raw'; name: string } {
  return { kind: format.kind === 'mjpeg' ? 'mjpeg' : 'raw', name: format.name };
}

/** The format's mode when nothing is asked: see the top of this file. */
export function defaultMode(format: CameraFormat, fps?: number): CameraMode | undefined {
  const modes = [...format.modes];
  if (format.range) {
    // Any size in a range: its largest if not too large, else the largest usual size it takes.
    const { max, rates } = format.range;
    const sizes = [max, { width: 1920, height: 1080 }, { width: 1280, height: 720 }, { width: 640, height: 480 }];
    const fits = sizes.find((at) => at.width * at.height <= DEFAULT_MAX_PIXELS && ratesAt(format, at) !== undefined);
    if (fits) modes.push({ ...fits, rates });
  }
  if (modes.length === 0) return undefined;
  const small = modes.filter(({ width, height }) => width * height <= DEFAULT_MAX_PIXELS);
  const pool = small.length > 0 ? small : modes;
  const fast = pool.filter(({ rates }) => (fps !== undefined ? rates.length === 0 || offersRate(rates, fps) : rates.length === 0 || rates.some(({ max }) => max >= DEFAULT_MIN_FPS)));
  const choices = fast.length > 0 ? fast : pool;
  return choices.reduce((best, mode) => {
    const area = mode.width * mode.height - best.width * best.height;
    return area > 0 || (area === 0 && (defaultRate(mode.rates) ?? 0) > (defaultRate(best.rates) ?? 0)) ? mode : best;
  });
}

/** The highest rate up to 30, else the lowest above it; undefined when the listing gives none. */
function defaultRate(rates: readonly FpsRange[]): number | undefined {
  if (rates.length === 0) return undefined;
  const upTo = rates.filter(({ min }) => min <= DEFAULT_MAX_FPS).map(({ max }) => Math.min(max, DEFAULT_MAX_FPS));
  if (upTo.length > 0) return Math.max(...upTo);
  return Math.min(...rates.map(({ min }) => min));
}
