/** `--pattern`: ffmpeg's moving test pattern, live at `fps` (default 640x480 at 30 fps). */
import { DEFAULT_PATTERN_FPS, DEFAULT_PATTERN_SIZE } from './ffmpeg/args.js';
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
    spec: { kind: 'pattern', size, fps, quality },
    subject: { kind: 'pattern' },
    live: true,
    description: `pattern ${size.width}x${size.height}@${fps}`,
  });
}
