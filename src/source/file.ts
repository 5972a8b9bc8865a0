/**
 * `--file PATH`: anything ffmpeg reads (a file, an image sequence pattern, a URL), at its own
 * rate unless `fps`; `'max'` as fast as the consumer takes frames. Not live: a slow consumer
 * pauses ffmpeg instead of losing frames.
 */
import { stat } from 'node:fs/promises';
import { SourceError } from '../errors.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { fileInputArgs, type FfmpegPlan } from './ffmpeg/args.js';
import type { FailureExplainer } from './ffmpeg/process.js';
import { frameCount, probeFile, probeFrameCount } from './ffmpeg/probe.js';
import { flag, value } from '../options/schema.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

const options = {
  file: value('--file <path>', 'read a video file (anything ffmpeg reads), at its own rate unless --fps', (text) => text),
  // `--serve` plays files too, one per client.
  loop: flag('--loop', 'with --file or --serve: start again at the end', { needs: ['--file', '--serve'], refusal: '--loop applies to --file only (and to --serve)' }),
};

export const fileSource: SourceKind<'file', { path: string; loop?: boolean }, typeof options> = {
  kind: 'file',
  options,
  selector: 'file',
  needsFfmpeg: true,
  fromSettings: (settings) => ({ path: settings.file ?? '', loop: settings.loop }),
  open: (source) => openFile(source),
};

export async function openFile(options: CommonSourceOptions & { path: string; loop?: boolean }): Promise<FrameSource> {
  const { ffmpegPath, path, loop, size, fps, quality } = options;
  if (!isUrl(path)) await assertReadableFile(path);
  // An MJPEG file's frames are JPEGs already: sent as they are unless a size, quality or rate
  // asks for new ones. Asked once, before ffmpeg starts; the answer also gives the total.
  const asIs = size === undefined && quality === undefined && typeof fps !== 'number' && !isUrl(path);
  const probed = asIs ? await probeFile({ ffmpegPath, path }) : undefined;
  return ffmpegSource({
    ffmpegPath,
    encoder: probed?.codec === 'mjpeg' ? 'copy' : options.encoder,
    ...fileFfmpeg({ path, loop, size, fps, quality }),
    explainFailure: explainFileFailure(path),
    live: false,
    description: `file ${path}`,
    // A looping file never ends: its progress has no total.
    total: loop ? async () => undefined : probed ? async () => frameCount(probed, fps) : () => probeFrameCount({ ffmpegPath, path, fps }),
  });
}

/** `rtsp://...`, `http:...`; a one-letter scheme is a Windows drive (`C:\...`). */
function isUrl(path: string): boolean {
  return /^[a-z][a-z0-9+.-]+:/i.test(path);
}

async function assertReadableFile(path: string): Promise<void> {
  let isDirectory: boolean;
  try {
    isDirectory = (await stat(path)).isDirectory();
  } catch (error) {
    // A printf pattern (frame%03d.png) names no single file; let ffmpeg judge it.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !/%\d*d/.test(path)) {
      throw new SourceError(`file not found: ${path}`, 'ERR_FILE_NOT_FOUND');
    }
    return;
  }
  if (isDirectory) throw new SourceError(`${path} is a folder: use --dir to send its images`, 'ERR_NOT_A_FILE');
}

/** ffmpeg's complaints about a file, in the user's terms. */
export function explainFileFailure(path: string): FailureExplainer {
  return ({ tail, line, cause }) => {
    if (/no such file or directory/i.test(tail)) return new SourceError(`file not found: ${path}`, 'ERR_FILE_NOT_FOUND', cause);
    if (/permission denied/i.test(tail)) return new SourceError(`cannot read ${path}: permission denied`, 'ERR_PERMISSION_DENIED', cause);
    if (/matches no streams/i.test(tail)) return new SourceError(`${path} has no video stream`, 'ERR_NO_VIDEO', cause);
    if (/invalid data found when processing input|moov atom not found|could not find codec parameters/i.test(tail)) {
      const reason = line.startsWith(`${path}: `) ? line.slice(path.length + 2) : line;
      return new SourceError(`cannot read ${path} as video: ${reason}`, 'ERR_FILE_UNREADABLE', cause);
    }
    return undefined;
  };
}

/** What ffmpeg reads and writes for a file: a numeric fps resamples, in real time (`-re`), before scaling. */
export function fileFfmpeg({ path, loop, size, fps, quality }: Pick<CommonSourceOptions, 'size' | 'fps' | 'quality'> & { path: string; loop?: boolean | undefined }): FfmpegPlan {
  return { input: fileInputArgs({ path, fps, loop }), output: { size, fps, quality } };
}
