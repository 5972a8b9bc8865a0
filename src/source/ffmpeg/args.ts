/**
 * ffmpeg command lines for the ffmpeg-backed sources, as pure functions. Every option used here
 * exists in ffmpeg 4.1 (the @ffmpeg-installer binary) as well as in current releases: nothing
 * newer such as `-readrate` or `-fps_mode`.
 */
import { DEFAULT_QUALITY, qualityToQscale } from '../../encode/quality.js';
import type { Size } from '../types.js';

export const DEFAULT_PATTERN_SIZE: Size = { width: 640, height: 480 };
export const DEFAULT_PATTERN_FPS = 30;
/** avfoundation's own default (29.97) is refused by most Mac cameras; 30 is accepted by nearly all. */
export const DEFAULT_AVFOUNDATION_FPS = 30;

export interface OutputSettings {
  /** Scaled to exactly this size. */
  size?: Size | undefined;
  /** Resampled to this rate; `'max'` or unset: the input's frames as they come. */
  fps?: number | 'max' | undefined;
  quality?: number | undefined;
  /**
   * Who makes the JPEGs: ffmpeg's MJPEG encoder, or (`'raw'`) vstream's libjpeg-turbo addon,
   * from 4:2:0 frames ffmpeg writes as Y4M. The addon is about three times faster and skips
   * ffmpeg's range conversion; ffmpeg's encoder is the fallback where the addon is not built.
   */
  encoder?: 'ffmpeg' | 'raw' | 'copy' | undefined;
}

/** What one source has ffmpeg do: read `input` (its arguments), write frames as `output` says. */
export interface FfmpegPlan {
  input: readonly string[];
  output: Omit<OutputSettings, 'encoder'>;
}

/** The whole command line (without the binary): quiet, the source's input, frames on stdout. */
export function ffmpegArgs(input: readonly string[], output: OutputSettings = {}): string[] {
  if (output.encoder === 'copy') return [...globalArgs(), ...input, ...copyOutputArgs()];
  const write = output.encoder === 'raw' ? y4mOutputArgs : mjpegOutputArgs;
  const fps = typeof output.fps === 'number' ? output.fps : undefined;
  return [...globalArgs(), ...input, ...write({ size: output.size, quality: output.quality, fps })];
}

/** Quiet and non-interactive: stderr then holds only errors, which become our messages. */
export function globalArgs(): string[] {
  return ['-nostdin', '-hide_banner', '-nostats', '-loglevel', 'error'];
}

/**
 * lavfi `testsrc2` (a moving pattern with a frame counter). `-re` makes it live at `fps`;
 * with `'max'` it runs as fast as ffmpeg can encode (stamped 30 fps), which is how the
 * benchmark measures the ffmpeg-only encode rate.
 */
export function patternInputArgs({ size, fps }: { size?: Size; fps?: number | 'max' }): string[] {
  const { width, height } = size ?? DEFAULT_PATTERN_SIZE;
  const rate = typeof fps === 'number' ? fps : DEFAULT_PATTERN_FPS;
  return [...(fps === 'max' ? [] : ['-re']), '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${rate}`];
}

/**
 * A file (or anything ffmpeg opens: URL, device). `-re` plays it at its own rate unless `'max'`;
 * a numeric `fps` is applied by the output's fps filter, still paced by `-re`.
 */
export function fileInputArgs({ path, fps, loop }: { path: string; fps?: number | 'max'; loop?: boolean }): string[] {
  return [...(fps === 'max' ? [] : ['-re']), ...(loop ? ['-stream_loop', '-1'] : []), '-i', path];
}

/** `0` means /dev/video0 on Linux; other platforms take the index or name as given. */
export function cameraDevice(device: string, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return device.startsWith('video=') ? device : `video=${device}`;
  if (platform !== 'darwin' && /^\d+$/.test(device)) return `/dev/video${device}`;
  return device;
}

/**
 * v4l2 on Linux (and other Unixes), avfoundation on macOS, dshow on Windows. v4l2 is asked for
 * `size`: its driver picks the nearest mode it has. avfoundation and dshow refuse to open on a
 * size the camera lacks, so dshow gets it only when the camera listed it (`sizeListed`), and
 * otherwise the output filter alone scales. `input` names the format to read: MJPEG
 * (`-input_format mjpeg` for v4l2, `-vcodec mjpeg` for dshow) or a raw pixel format.
 */
export function cameraInputArgs({
  device,
  platform = process.platform,
  size,
  fps,
  input,
  sizeListed = false,
}: {
  device: string;
  platform?: NodeJS.Platform;
  size?: Size | undefined;
  fps?: number | 'max' | undefined;
  input?: { kind: 'mjpeg' | 'raw'; name: string } | undefined;
  sizeListed?: boolean;
}): string[] {
  const rate = typeof fps === 'number' ? ['-framerate', String(fps)] : [];
  const videoSize = size ? ['-video_size', `${size.width}x${size.height}`] : [];
  const source = ['-i', cameraDevice(device, platform)];
  switch (platform) {
    case 'darwin':
      return ['-f', 'avfoundation', '-framerate', String(typeof fps === 'number' ? fps : DEFAULT_AVFOUNDATION_FPS), ...source];
    case 'win32': {
      const format = input === undefined ? [] : input.kind === 'mjpeg' ? ['-vcodec', 'mjpeg'] : ['-pixel_format', input.name];
      return ['-f', 'dshow', ...format, ...(sizeListed ? videoSize : []), ...rate, ...source];
    }
    default:
      return ['-f', 'v4l2', ...(input ? ['-input_format', input.name] : []), ...rate, ...videoSize, ...source];
  }
}

/** The `-vf` chain for an output: resampled to `fps`, scaled to exactly `size`. */
function outputFilters({ size, fps }: { size?: Size | undefined; fps?: number | undefined }): string[] {
  const filters = [...(fps !== undefined ? [`fps=${fps}`] : []), ...(size ? [`scale=${size.width}:${size.height}`] : [])];
  return filters.length > 0 ? ['-vf', filters.join(',')] : [];
}

/**
 * Planar 4:2:0 frames as YUV4MPEG2 on stdout, for the libjpeg-turbo addon to encode: the first
 * video stream only, resampled and scaled as for MJPEG. `yuv420p` is what H.264 files and the
 * test pattern already are, so usually ffmpeg converts nothing; the Y4M header carries the
 * size (and, from ffmpeg 4.4, the colour range). Quality applies when the addon encodes.
 */
export function y4mOutputArgs({ size, fps }: { size?: Size | undefined; quality?: number | undefined; fps?: number | undefined }): string[] {
  return ['-map', '0:v:0', ...outputFilters({ size, fps }), '-an', '-pix_fmt', 'yuv420p', '-f', 'yuv4mpegpipe', '-flush_packets', '1', 'pipe:1'];
}

/**
 * MJPEG on stdout: the first video stream only, optionally resampled to `fps` and scaled to
 * exactly `size` (aspect not preserved, like `--dir`), as 4:2:0 baseline JPEGs with optimal
 * Huffman tables. `-flush_packets 1` hands each frame to the pipe at once instead of when
 * ffmpeg's 32 KB output buffer fills, which would add latency on live sources.
 */
export function mjpegOutputArgs({ size, quality = DEFAULT_QUALITY, fps }: { size?: Size | undefined; quality?: number | undefined; fps?: number | undefined }): string[] {
  return [
    '-map',
    '0:v:0',
    ...outputFilters({ size, fps }),
    '-an',
    '-pix_fmt',
    'yuvj420p',
    '-c:v',
    'mjpeg',
    '-q:v',
    String(qualityToQscale(quality)),
    '-huffman',
    'optimal',
    '-flush_packets',
    '1',
    '-f',
    'mjpeg',
    'pipe:1',
  ];
}

/**
 * The input's own JPEGs on stdout, not decoded or encoded again: for an MJPEG file whose frames
 * are wanted as they are (no size, quality or rate asked). ffmpeg only unwraps the container.
 */
export function copyOutputArgs(): string[] {
  return ['-map', '0:v:0', '-an', '-c:v', 'copy', '-flush_packets', '1', '-f', 'mjpeg', 'pipe:1'];
}

/** Frames a second a screen is grabbed at unless `--fps` says. */
export const DEFAULT_SCREEN_FPS = 30;

/**
 * The screen, the same way on each platform: x11grab on Linux and other Unixes (`display`: an X
 * display such as `:0`, default `$DISPLAY`), avfoundation on macOS (`display`: the screen's
 * index, `Capture screen N`), gdigrab on Windows (`desktop`, or `title=WINDOW`). The whole
 * screen, at `fps` (default 30).
 */
export function screenInputArgs({
  display,
  platform = process.platform,
  fps,
  env = process.env,
}: {
  display: string;
  platform?: NodeJS.Platform;
  fps?: number | 'max';
  env?: NodeJS.ProcessEnv;
}): string[] {
  const rate = String(typeof fps === 'number' ? fps : DEFAULT_SCREEN_FPS);
  switch (platform) {
    case 'darwin':
      return ['-f', 'avfoundation', '-framerate', rate, '-capture_cursor', '1', '-i', `Capture screen ${display || '0'}:none`];
    case 'win32':
      return ['-f', 'gdigrab', '-framerate', rate, '-i', display || 'desktop'];
    default:
      return ['-f', 'x11grab', '-framerate', rate, '-i', display || env.DISPLAY || ':0'];
  }
}
