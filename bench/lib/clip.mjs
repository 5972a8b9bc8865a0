// The one input clip every throughput row reads: H.264 (libx264, yuv420p, 30 frames/s) of
// ffmpeg's testsrc2 pattern, made once and cached.
import { spawn } from 'node:child_process';
import { mkdir, rename, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const defaultClipDir = fileURLToPath(new URL('../results/cache/', import.meta.url));

/** Path of a `frames`-frame width x height H.264 clip in `dir` (bench/results/cache/ by default), made if missing. */
export async function makeClip({ ffmpegPath, width, height, frames, dir = defaultClipDir }) {
  const file = path.join(dir, `testsrc2-${width}x${height}-${frames}f.mp4`);
  if ((await stat(file).catch(() => null))?.size > 0) return file;
  await mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp.mp4`;
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30`,
    '-frames:v', String(frames), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-y', tmp,
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
