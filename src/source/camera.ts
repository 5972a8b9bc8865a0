/**
 * `--camera N|DEVICE`: live capture through ffmpeg (v4l2, avfoundation or dshow). On Linux a
 * missing device is reported before ffmpeg starts, with the cameras that do exist.
 */
import { readdir, stat } from 'node:fs/promises';
import { SourceError } from '../errors.js';
import { cameraDevice } from './ffmpeg/args.js';
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
    spec: { kind: 'camera', device: options.device, platform, size, fps, quality },
    subject: { kind: 'camera', device },
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
