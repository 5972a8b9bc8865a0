/** `--pattern`: ffmpeg's moving test pattern, live at `fps` (default 640x480 at 30 fps). */
import { buildFfmpegArgs, DEFAULT_PATTERN_FPS, DEFAULT_PATTERN_SIZE } from './ffmpeg/args.js';
import { spawnFfmpeg } from './ffmpeg/process.js';
import { mjpegStreamSource } from './mjpeg-stream.js';
import type { CommonSourceOptions, FrameSource } from './types.js';

export async function openPattern(options: CommonSourceOptions): Promise<FrameSource> {
  const { ffmpegPath, size = DEFAULT_PATTERN_SIZE, fps = DEFAULT_PATTERN_FPS, quality } = options;
  const args = buildFfmpegArgs({ kind: 'pattern', size, fps, quality });
  const ffmpeg = spawnFfmpeg({ ffmpegPath, args, subject: { kind: 'pattern' } });
  return mjpegStreamSource({
    input: ffmpeg.stdout,
    producer: ffmpeg,
    live: true,
    description: `pattern ${size.width}x${size.height}@${fps}`,
  });
}
