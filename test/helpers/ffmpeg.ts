/** The ffmpeg binaries tests run against, and a few ways to use them. */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's ffmpeg (5.1 on bookworm). */
export const SYSTEM_FFMPEG = '/usr/bin/ffmpeg';
/** The static ffmpeg 4.1 shipped inside the @ffmpeg-installer npm package. */
export const BUNDLED_FFMPEG: string = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;

/** Every ffmpeg present on this machine, named for test titles. */
export const FFMPEGS: { name: string; path: string }[] = [
  { name: 'system ffmpeg', path: SYSTEM_FFMPEG },
  { name: 'bundled ffmpeg 4.1', path: BUNDLED_FFMPEG },
].filter(({ path }) => existsSync(path));

/** The ffmpeg to use when any will do. */
export const FFMPEG: string = FFMPEGS[0]?.path ?? 'ffmpeg';

/** Runs ffmpeg to completion and returns its stdout. */
export async function runFfmpeg(args: string[], ffmpegPath = FFMPEG): Promise<Buffer> {
  const { stdout } = await run(ffmpegPath, ['-nostdin', '-hide_banner', '-loglevel', 'error', ...args], {
    encoding: 'buffer',
    maxBuffer: 256 * 1024 * 1024,
  });
  return stdout;
}

/**
 * Writes a clip of exactly `frames` frames of testsrc2 into `dir` (H.264 when the ffmpeg has
 * libx264, else MPEG-4 part 2) and returns its path.
 */
export async function makeClip(
  dir: string,
  { frames = 50, width = 320, height = 240, rate = 25, name = 'clip.mp4' } = {},
  ffmpegPath = FFMPEG,
): Promise<string> {
  const encoders = (await run(ffmpegPath, ['-hide_banner', '-encoders'])).stdout;
  const codec = /\blibx264\b/.test(encoders) ? ['-c:v', 'libx264', '-preset', 'ultrafast'] : ['-c:v', 'mpeg4'];
  const path = join(dir, name);
  await runFfmpeg(
    ['-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=${rate}`, '-frames:v', String(frames), ...codec, '-pix_fmt', 'yuv420p', '-y', path],
    ffmpegPath,
  );
  return path;
}
