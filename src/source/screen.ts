/**
 * `--screen [DISPLAY|INDEX]`: the screen, grabbed live through ffmpeg (x11grab, avfoundation or
 * gdigrab: see screenInputArgs).
 */
import { SourceError } from '../errors.js';
import { screenInputArgs, type FfmpegPlan } from './ffmpeg/args.js';
import type { FailureExplainer } from './ffmpeg/process.js';
import { ffmpegSource } from './ffmpeg-source.js';
import { optionalValue } from '../options/schema.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

const options = {
  screen: optionalValue('--screen [display]', 'capture the screen: an X display (default $DISPLAY), a macOS screen index, or a Windows "desktop"', (raw) =>
    raw === true ? '' : raw,
  ),
};

export const screenSource: SourceKind<'screen', { display: string }, typeof options> = {
  kind: 'screen',
  options,
  selector: 'screen',
  needsFfmpeg: true,
  fromSettings: (settings) => ({ display: settings.screen ?? '' }),
  open: (source) => openScreen(source),
};

export function openScreen(options: CommonSourceOptions & { display: string }, platform: NodeJS.Platform = process.platform): Promise<FrameSource> {
  const { ffmpegPath, size, fps, quality } = options;
  const plan = screenFfmpeg({ display: options.display, platform, size, fps, quality });
  const where = plan.input.at(-1) ?? 'the screen';
  return Promise.resolve(
    ffmpegSource({
      ffmpegPath,
      encoder: options.encoder,
      ...plan,
      explainFailure: explainScreenFailure(where),
      live: true,
      description: `screen ${where}`,
    }),
  );
}

/** What ffmpeg reads and writes for the screen: grabbed at `fps`, scaled to `size` if given. */
export function screenFfmpeg({
  display,
  platform,
  size,
  fps,
  quality,
}: Pick<CommonSourceOptions, 'size' | 'fps' | 'quality'> & { display: string; platform?: NodeJS.Platform }): FfmpegPlan {
  return { input: screenInputArgs({ display, platform, fps }), output: { size, quality } };
}

/** ffmpeg's complaints about a screen, in the user's terms. */
export function explainScreenFailure(where: string): FailureExplainer {
  return ({ tail, cause }) => {
    if (/cannot open display|can't open display|no such file|input\/output error/i.test(tail)) {
      return new SourceError(`cannot capture the screen ${where}: no such display (is an X server running there? --screen :N)`, 'ERR_NO_SCREEN', cause);
    }
    return undefined;
  };
}
