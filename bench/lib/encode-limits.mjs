// The two limits of the pipeline, each measured alone: ffmpeg encoding the clip to MJPEG (what
// `send --file` runs) and sharp decoding those JPEGs to pixels (what a decoding `recv` does).
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import sharp from 'sharp';
import { measureRate } from './proc.mjs';

const { globalArgs, fileInputArgs, mjpegOutputArgs } = await import('../../dist/source/ffmpeg/args.js');
const { MjpegSplitter } = await import('../../dist/source/mjpeg-splitter.js');
const { decodePixels } = await import('../../dist/decode/pixels.js');

/** The ffmpeg command line `send --file CLIP --fps max --quality Q` runs, writing to `output`. */
function sendArgs(clip, quality, output) {
  const args = [...globalArgs(), ...fileInputArgs({ path: clip, fps: 'max' }), ...mjpegOutputArgs({ quality })];
  return [...args.slice(0, -1), '-y', output]; // 'pipe:1' -> output
}

function run(command, args, stdout = 'ignore') {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', stdout, 'pipe'] });
    const out = [];
    let err = '';
    child.stdout?.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${command} failed: ${err.trim()}`))));
  });
}

/**
 * ffmpeg alone: clip -> MJPEG -> /dev/null with send's own arguments (`size` is not passed: the
 * clip already has it, and send is run without --size too). Timed like every throughput row
 * (see measureRate): the process's wall time, start-up cancelled out when shortClip is given.
 */
export async function ffmpegEncodeRate({ ffmpegPath, clip, frames, shortClip, shortFrames, runs = 3, size, quality = 80 }) {
  const once = async (file) => {
    const t0 = performance.now();
    await run(ffmpegPath, sendArgs(file, quality, '/dev/null'));
    return { seconds: (performance.now() - t0) / 1000 };
  };
  return { ...(await measureRate({ clip, frames, shortClip, shortFrames, runs, once })), size, quality };
}

/**
 * sharp alone, in this process: decodes `frames` JPEGs (the clip's frames as send encodes them)
 * to raw pixels with `concurrency` calls in flight (1: one at a time, 2: two at once).
 * pipeline 'raw' is sharp(jpeg).raw().toBuffer() (RGB); 'vstream' is the receiver's own
 * decodePixels(jpeg, 'rgb24', size) from dist/decode/pixels.js. Ten warm-up decodes first.
 * Returns fps (frames decoded per second) and msPerCall (mean time of one call).
 */
export async function sharpDecodeRate({ ffmpegPath, clip, size, frames = 300, runs = 3, concurrency = 1, quality = 80, pipeline = 'raw' }) {
  const jpegs = new MjpegSplitter().push(await run(ffmpegPath, sendArgs(clip, quality, 'pipe:1'), 'pipe'));
  if (jpegs.length === 0) throw new Error(`no JPEGs from ${clip}`);
  const [width, height] = size.split('x').map(Number);
  let decode = (jpeg) => sharp(jpeg).raw().toBuffer();
  if (pipeline === 'vstream') decode = (jpeg) => decodePixels(jpeg, 'rgb24', { width, height });
  const batch = async (n) => {
    let next = 0;
    const worker = async () => {
      while (next < n) await decode(jpegs[next++ % jpegs.length]);
    };
    const t0 = performance.now();
    await Promise.all(Array.from({ length: concurrency }, worker));
    return (performance.now() - t0) / 1000;
  };
  await batch(10);
  const rates = [];
  for (let i = 0; i < runs; i += 1) rates.push(frames / (await batch(frames)));
  rates.sort((a, b) => a - b);
  const fps = rates[Math.floor(rates.length / 2)];
  return {
    fps,
    msPerCall: (1000 * concurrency) / fps,
    runs,
    frames,
    concurrency,
    pipeline,
    jpegBytes: Math.round(jpegs.reduce((s, j) => s + j.length, 0) / jpegs.length),
    threads: { libuv: Number(process.env.UV_THREADPOOL_SIZE ?? 4), vips: sharp.concurrency(), cores: cpus().length },
  };
}
