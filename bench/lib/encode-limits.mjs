// The limits of the pipeline, each measured alone: ffmpeg encoding the clip to MJPEG (send's
// path without the addon), ffmpeg only decoding the H.264 clip on one thread, the addon's JPEG
// encode of raw frames (send's path with it) and recv's decode of those JPEGs to pixels. The last
// three are the steps any program doing this job must take; see ceiling().
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import sharp from 'sharp';
import { measureRate } from '../../tools/proc.mjs';

const { globalArgs, fileInputArgs, mjpegOutputArgs, y4mOutputArgs } = await import('../../dist/source/ffmpeg/args.js');
const { MjpegSplitter } = await import('../../dist/source/mjpeg-splitter.js');
const { Y4mSplitter } = await import('../../dist/source/y4m-splitter.js');
const { decodePixels } = await import('../../dist/decode/pixels.js');
const { makeFrame } = await import('../../dist/frame/image-info.js');
const { canEncodeRaw, encodeRawFrame } = await import('../../dist/encode/yuv-jpeg.js');

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
 * ffmpeg only decoding the clip (`-threads 1 ... -f null -`): the H.264 part of every program in
 * the table, on one core. One thread because the ceiling adds up CPU time: ffmpeg's threaded
 * decoder finishes sooner on an idle machine but spends more CPU in all (measured: 1.32 s of CPU
 * for 1800 frames at 640x480 on two threads, 1.11 s on one). Timed like ffmpegEncodeRate.
 */
export async function h264DecodeRate({ ffmpegPath, clip, frames, shortClip, shortFrames, runs = 3 }) {
  const once = async (file) => {
    const t0 = performance.now();
    await run(ffmpegPath, [...globalArgs(), '-threads', '1', '-i', file, '-map', '0:v:0', '-f', 'null', '-']);
    return { seconds: (performance.now() - t0) / 1000 };
  };
  return measureRate({ clip, frames, shortClip, shortFrames, runs, once });
}

/**
 * send's JPEG encode alone, in this process: the clip's raw 4:2:0 frames (as send's ffmpeg writes
 * them) encoded by the libjpeg-turbo addon one at a time, `frames` calls per run after ten
 * warm-up calls. { skipped } without the addon.
 */
export async function rawEncodeRate({ ffmpegPath, clip, frames = 300, runs = 3, quality = 80 }) {
  if (!canEncodeRaw()) return { skipped: 'the libjpeg-turbo addon is not built (npm run build:jpeg)' };
  const raw = await rawFrames(ffmpegPath, clip);
  const batch = async (n) => {
    for (let i = 0; i < n; i += 1) await encodeRawFrame(raw[i % raw.length], quality);
  };
  await batch(10);
  const { fps, cpuMsPerFrame } = await timedRuns(() => batch(frames), frames, runs);
  return { fps, msPerCall: 1000 / fps, cpuMsPerFrame, runs, frames, quality };
}

/**
 * Runs `batch` (`frames` frames) `runs` times; the median rate, and the median CPU time of this
 * process (all its threads: the codec on the thread pool and the calls from JavaScript) a frame.
 */
async function timedRuns(batch, frames, runs) {
  const rates = [];
  const cpu = [];
  for (let i = 0; i < runs; i += 1) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await batch();
    rates.push(frames / ((performance.now() - t0) / 1000));
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000 / frames);
  }
  const mid = (list) => list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return { fps: mid(rates), cpuMsPerFrame: mid(cpu) };
}

/**
 * The most frames/s any program could move through H.264 decode -> JPEG encode -> JPEG decode
 * on `cores` cores with the CPU costs measured here (ms a frame) and nothing else: no
 * transport, no copies, no scheduling, every core busy all the time.
 */
export function ceiling({ h264Ms, encodeMs, decodeMs, cores }) {
  const ms = h264Ms + encodeMs + decodeMs;
  return { fps: (1000 * cores) / ms, msPerFrame: ms, h264Ms, encodeMs, decodeMs, cores };
}

/** The clip's frames as raw 4:2:0 planes, the way send's ffmpeg writes them. */
async function rawFrames(ffmpegPath, clip) {
  const args = [...globalArgs(), ...fileInputArgs({ path: clip, fps: 'max' }), ...y4mOutputArgs({})];
  const raw = new Y4mSplitter().push(await run(ffmpegPath, args, 'pipe'));
  if (raw.length === 0) throw new Error(`no raw frames from ${clip}`);
  return raw;
}

/** The clip's frames as the JPEGs send sends: the addon's when it is built, else ffmpeg's. */
async function sentJpegs({ ffmpegPath, clip, quality }) {
  const jpegs = canEncodeRaw()
    ? await Promise.all((await rawFrames(ffmpegPath, clip)).map((frame) => encodeRawFrame(frame, quality)))
    : new MjpegSplitter().push(await run(ffmpegPath, sendArgs(clip, quality, 'pipe:1'), 'pipe'));
  if (jpegs.length === 0) throw new Error(`no JPEGs from ${clip}`);
  return jpegs;
}

/**
 * sharp alone, in this process: decodes `frames` JPEGs (the clip's frames as send encodes them: see sentJpegs)
 * to raw pixels with `concurrency` calls in flight (1: one at a time, 2: two at once).
 * pipeline 'raw' is sharp(jpeg).raw().toBuffer() (RGB); 'vstream' is the receiver's own
 * decodePixels(frame, 'rgb24', size) from dist/decode/pixels.js (the frame's type and size read
 * beforehand, as recv reads them once on arrival). Ten warm-up decodes first.
 * Returns fps (frames decoded per second) and msPerCall (mean time of one call).
 */
export async function sharpDecodeRate({ ffmpegPath, clip, size, frames = 300, runs = 3, concurrency = 1, quality = 80, pipeline = 'raw' }) {
  const jpegs = await sentJpegs({ ffmpegPath, clip, quality });
  const [width, height] = size.split('x').map(Number);
  // recv decodes into a few reused buffers (RawOutputSink): a fresh megabyte a frame costs
  // about as much again in page faults. Each worker here reuses its own, like recv.
  const decode = (jpeg) => sharp(jpeg).raw().toBuffer();
  const parsed = jpegs.map((jpeg) => makeFrame(jpeg));
  const decodeInto = (frame, into) => decodePixels(frame, 'rgb24', { width, height }, into);
  const batch = async (n) => {
    let next = 0;
    const worker = async () => {
      const into = pipeline === 'vstream' ? Buffer.alloc(width * height * 3) : undefined;
      while (next < n) {
        const i = next++ % jpegs.length;
        await (into ? decodeInto(parsed[i], into) : decode(jpegs[i]));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  };
  await batch(10);
  const { fps, cpuMsPerFrame } = await timedRuns(() => batch(frames), frames, runs);
  return {
    fps,
    msPerCall: (1000 * concurrency) / fps,
    cpuMsPerFrame,
    runs,
    frames,
    concurrency,
    pipeline,
    jpegBytes: Math.round(jpegs.reduce((s, j) => s + j.length, 0) / jpegs.length),
    threads: { libuv: Number(process.env.UV_THREADPOOL_SIZE ?? 4), vips: sharp.concurrency(), cores: cpus().length },
  };
}
