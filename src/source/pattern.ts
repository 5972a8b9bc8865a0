/** `--pattern`: ffmpeg's moving test pattern, live at `fps` (default 640x480 at 30 fps). */
import { DEFAULT_PATTERN_FPS, DEFAULT_PATTERN_SIZE, patternInputArgs, type FfmpegPlan } from './ffmpeg/args.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { flag } from '../options/schema.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

const options = { pattern: flag('--pattern', 'a built-in moving test pattern (the default source)') };

export const patternSource: SourceKind<'pattern', object, typeof options> = {
  kind: 'pattern',
  options,
  selector: 'pattern',
  needsFfmpeg: true,
  fromSettings: () => ({}),
  open: (source) => openPattern(source),
};

export async function openPattern(options: CommonSourceOptions): Promise<FrameSource> {
  const { ffmpegPath, size = DEFAULT_PATTERN_SIZE, fps = DEFAULT_PATTERN_FPS, quality } = options;
  return ffmpegSource({
    ffmpegPath,
    encoder: options.encoder,
    ...patternFfmpeg({ size, fps, quality }),
    live: true,
    description: `pattern ${size.width}x${size.height}@${fps}`,
  });
}

/** What ffmpeg reads and writes for the pattern: generated at its size, so never scaled. */
export function patternFfmpeg({ size, fps, quality }: Pick<CommonSourceOptions, 'size' | 'fps' | 'quality'>): FfmpegPlan {
  return { input: patternInputArgs({ size, fps }), output: { quality } };
}
