// The input clips of the bench: H.264 (libx264, yuv420p, 30 frames/s) of ffmpeg's testsrc2
// pattern for every throughput row, an MJPEG AVI of it for the passthrough rows; each made once
// and cached.
import { spawn } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultClipDir = fileURLToPath(new URL('../results/cache/', import.meta.url));

/** What a clip is encoded as: its file suffix and ffmpeg's output arguments. */
const CODECS = {
  h264: { suffix: '.mp4', args: ['-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p'] },
  // The passthrough rows: an MJPEG AVI, whose JPEGs `send --file` passes through as they are.
  mjpeg: { suffix: '-mjpeg.avi', args: ['-c:v', 'mjpeg', '-q:v', '3'] },
};

/**
 * Path of a `frames`-frame width x height clip (H.264 unless `codec: 'mjpeg'`) in `dir`
 * (bench/results/cache/ by default), made if missing.
 */
export async function makeClip({ ffmpegPath, width, height, frames, codec = 'h264', dir = defaultClipDir }) {
  const { suffix, args: codecArgs } = CODECS[codec];
  const file = path.join(dir, `testsrc2-${width}x${height}-${frames}f${suffix}`);
  if ((await stat(file).catch(() => null))?.size > 0) return file;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp${path.extname(file)}`;
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30`,
    '-frames:v', String(frames), ...codecArgs, '-y', tmp,
  ];
  await new Promise((resolve, reject) => {
    const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`making ${file} failed: ${err.trim()}`))));
  });
  await rename(tmp, file);
  return file;
}
