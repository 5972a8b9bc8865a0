/**
 * `--camera N|DEVICE`: live capture through ffmpeg (v4l2, avfoundation or dshow). On Linux a
 * missing device is reported before ffmpeg starts, with the cameras that do exist.
 */
import { readdir, stat } from 'node:fs/promises';
import { SourceError } from '../errors.js';
import { cameraDevice, cameraInputArgs, type FfmpegPlan } from './ffmpeg/args.js';
import type { FailureExplainer } from './ffmpeg/process.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { value } from '../options/schema.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

const options = { camera: value('--camera <n|device>', 'capture from a camera: index (0 = /dev/video0) or device', (text) => text) };

export const cameraSource: SourceKind<'camera', { device: string }, typeof options> = {
  kind: 'camera',
  options,
  selector: 'camera',
  needsFfmpeg: true,
  fromSettings: (settings) => ({ device: settings.camera ?? '' }),
  open: (source) => openCamera(source),
};

export async function openCamera(
  options: CommonSourceOptions & { device: string },
  platform: NodeJS.Platform = process.platform,
): Promise<FrameSource> {
  const { ffmpegPath, size, fps, quality } = options;
  const device = cameraDevice(options.device, platform);
  if (platform === 'linux') await assertVideoDevice(device);
  return ffmpegSource({
    ffmpegPath,
    encoder: options.encoder,
    ...cameraFfmpeg({ device: options.device, platform, size, fps, quality }),
    explainFailure: explainCameraFailure(device),
    live: true,
    description: `camera ${device}`,
  });
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

/** What ffmpeg reads and writes for a camera: at its own rate; v4l2 is asked for the size, the others get it from the scale filter. */
export function cameraFfmpeg({
  device,
  platform,
  size,
  fps,
  quality,
}: Pick<CommonSourceOptions, 'size' | 'fps' | 'quality'> & { device: string; platform?: NodeJS.Platform }): FfmpegPlan {
  return { input: cameraInputArgs({ device, platform, size, fps }), output: { size, quality } };
}
