/**
 * `--camera N|DEVICE`: live capture through ffmpeg (v4l2, avfoundation or dshow). On Linux a
 * missing device is reported before ffmpeg starts, with the cameras that do exist. The camera
 * is asked first which formats it gives (`--camera-format`, src/source/camera/choose.ts): its
 * own MJPEG is passed through when it is what is wanted.
 */
import { readdir, stat } from 'node:fs/promises';
import { SourceError, UsageError } from '../errors.js';
import { CAMERA_FORMAT_CHOICES, pickCameraFormat, type CameraFormatChoice, type CameraPick } from './camera/choose.js';
import { cameraLister, type CameraLister } from './camera/lister.js';
import { cameraDevice, cameraInputArgs, type FfmpegPlan } from './ffmpeg/args.js';
import type { FailureExplainer } from './ffmpeg/process.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { value } from '../options/schema.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

const options = {
  camera: value('--camera <n|device>', 'capture from a camera: index (0 = /dev/video0) or device', (text) => text),
  cameraFormat: value(
    '--camera-format <auto|mjpeg|raw>',
    "with --camera: the camera's own MJPEG, passed through (mjpeg), its raw frames (raw), or MJPEG when it gives it at --size and --fps (auto, the default)",
    parseCameraFormat,
    { needs: '--camera' },
  ),
};

export function parseCameraFormat(text: string): CameraFormatChoice {
  const choice = CAMERA_FORMAT_CHOICES.find((name) => name === text);
  if (!choice) throw new UsageError(`invalid --camera-format "${text}": expected ${CAMERA_FORMAT_CHOICES.join(', ')}`);
  return choice;
}

export interface CameraOptions {
  device: string;
  /** Default `auto`. */
  format?: CameraFormatChoice | undefined;
  /** How the camera's formats are found out (default: ask it, see src/source/camera/lister.ts). */
  listFormats?: CameraLister;
}

export const cameraSource: SourceKind<'camera', CameraOptions, typeof options> = {
  kind: 'camera',
  options,
  selector: 'camera',
  needsFfmpeg: true,
  fromSettings: (settings) => ({ device: settings.camera ?? '', ...(settings.cameraFormat && { format: settings.cameraFormat }) }),
  open: (source) => openCamera(source),
};

export async function openCamera(options: CommonSourceOptions & CameraOptions, platform: NodeJS.Platform = process.platform): Promise<FrameSource> {
  const { ffmpegPath, size, fps, quality, format = 'auto' } = options;
  const device = cameraDevice(options.device, platform);
  if (platform === 'linux') await assertVideoDevice(device);
  const pick = await pickFor({ ...options, device, format, platform });
  return ffmpegSource({
    ffmpegPath,
    encoder: pick.passthrough ? 'copy' : options.encoder,
    ...cameraFfmpeg({ device: options.device, platform, size, fps, quality, pick }),
    explainFailure: explainCameraFailure(device),
    live: true,
    description: `camera ${device}${pick.input ? ` (${pick.input.name}${pick.size ? ` ${pick.size.width}x${pick.size.height}` : ''}${pick.passthrough ? ', passed through' : ''})` : ''}`,
  });
}

/** What to ask of the camera: from its own list of formats, found out once, before capture. */
async function pickFor({
  ffmpegPath,
  device,
  format,
  platform,
  size,
  fps,
  quality,
  listFormats,
}: CommonSourceOptions & { device: string; format: CameraFormatChoice; platform: NodeJS.Platform; listFormats?: CameraLister | undefined }): Promise<CameraPick> {
  const numericFps = typeof fps === 'number' ? fps : undefined;
  if (platform === 'darwin') {
    // AVFoundation gives ffmpeg decoded frames only: there is no MJPEG to take.
    if (format === 'mjpeg') throw new SourceError(`camera ${device}: macOS cameras give no MJPEG to ffmpeg (avfoundation); use --camera-format raw or auto`, 'ERR_CAMERA_FORMAT');
    return { size, sizeListed: false, fps: numericFps, passthrough: false };
  }
  const lister = listFormats ?? cameraLister({ ffmpegPath, platform });
  const formats = await lister(device);
  return pickCameraFormat({ formats, choice: format, size, fps: numericFps, quality, device });
}

async function assertVideoDevice(device: string): Promise<void> {
  let isCharDevice: boolean;
  try {
    isCharDevice = (await stat(device)).isCharacterDevice();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new SourceError(`camera ${device} not found (${await describeCameras()})`, 'ERR_CAMERA_NOT_FOUND');
    }
    throw new SourceError(`cannot open camera ${device}: ${(error as Error).message}`, 'ERR_CAMERA_NOT_FOUND', { cause: error });
  }
  if (!isCharDevice) throw new SourceError(`${device} is not a camera device (${await describeCameras()})`, 'ERR_CAMERA_NOT_FOUND');
}

async function describeCameras(): Promise<string> {
  const names = await readdir('/dev').catch(() => [] as string[]);
  const cameras = names.filter((name) => /^video\d+$/.test(name)).sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  return cameras.length > 0 ? `cameras: ${cameras.map((name) => `/dev/${name}`).join(', ')}` : 'no cameras found';
}

/** ffmpeg's complaints about a camera, in the user's terms. */
export function explainCameraFailure(device: string): FailureExplainer {
  return ({ tail, detail, cause }) => {
    if (/busy/i.test(tail)) return new SourceError(`camera ${device} is busy: another program is using it`, 'ERR_CAMERA_BUSY', cause);
    if (/permission denied/i.test(tail)) {
      return new SourceError(`no permission to open camera ${device} (on Linux, join the "video" group)`, 'ERR_PERMISSION_DENIED', cause);
    }
    if (/no such (file or directory|device)|not found|inappropriate ioctl|not a (video )?capture device|could not find video device/i.test(tail)) {
      return new SourceError(`camera ${device} is not available${detail}`, 'ERR_CAMERA_NOT_FOUND', cause);
    }
    return undefined;
  };
}

/**
 * What ffmpeg reads and writes for a camera: at its own rate; the format, size and rate `pick`
 * chose (none: v4l2 is asked for `size`, the others get it from the scale filter). Passed
 * through, the camera's JPEGs are written as they come; else scaled to `size` when given.
 */
export function cameraFfmpeg({
  device,
  platform,
  size,
  fps,
  quality,
  pick,
}: Pick<CommonSourceOptions, 'size' | 'fps' | 'quality'> & { device: string; platform?: NodeJS.Platform; pick?: CameraPick }): FfmpegPlan {
  if (!pick) return { input: cameraInputArgs({ device, platform, size, fps }), output: { size, quality } };
  const input = cameraInputArgs({ device, platform, size: pick.size, fps: pick.fps, input: pick.input, sizeListed: pick.sizeListed });
  return { input, output: pick.passthrough ? {} : { size, quality } };
}
