#!/usr/bin/env node
// `npm run bench`: end-to-end frames/s of vstream (real CLI processes, loopback, headless)
// beside the ffmpeg-only encode rate measured in the same run, which bounds what the pipeline
// can reach. Each figure is the median of RUNS runs. Prints a table and writes JSON to
// bench/results/.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/vstream.js', import.meta.url));
const { locateFfmpeg, ffmpegVersion } = await import('../dist/source/ffmpeg/locate.js');
const { patternInputArgs, mjpegOutputArgs } = await import('../dist/source/ffmpeg/args.js');

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 600);
const SIZES = ['640x480'];
const QUALITY = 80;
const ffmpeg = locateFfmpeg();

function run(command, args, { onStderr } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, child }));
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** ffmpeg alone, with the very arguments `send --pattern` uses, writing to /dev/null. */
async function ffmpegEncodeRate(size) {
  const [width, height] = size.split('x').map(Number);
  const output = mjpegOutputArgs({ size: { width, height }, quality: QUALITY }).slice(0, -1);
  const t0 = performance.now();
  const { code, stderr } = await run(ffmpeg.path, [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    ...patternInputArgs({ size: { width, height }, fps: 'max' }),
    '-frames:v', String(FRAMES), ...output, '-y', '/dev/null',
  ]);
  if (code !== 0) throw new Error(`ffmpeg failed: ${stderr}`);
  return FRAMES / ((performance.now() - t0) / 1000);
}

/** vstream send --pattern --fps max -> vstream recv --no-window --output /dev/null. */
async function endToEndRate(size) {
  let started;
  let sender;
  const recv = run(process.execPath, [bin, 'recv', '--no-window', '--listen', '0', '--output', '/dev/null', '--frames', String(FRAMES)], {
    onStderr(text) {
      const port = /listening on .*?(\d+)(?:\s|$)/.exec(text)?.[1];
      if (port && !sender) {
        started = performance.now();
        sender = run(process.execPath, [bin, 'send', '--pattern', '--fps', 'max', '--size', size, '--quality', String(QUALITY), '--to', `127.0.0.1:${port}`, '--quiet']);
      }
    },
  });
  const { code, stderr } = await recv;
  const seconds = (performance.now() - started) / 1000;
  await sender;
  if (code !== 0) throw new Error(`recv failed: ${stderr}`);
  return FRAMES / seconds;
}

const rows = [];
for (const size of SIZES) {
  const encode = [];
  const e2e = [];
  for (let i = 0; i < RUNS; i += 1) {
    encode.push(await ffmpegEncodeRate(size));
    e2e.push(await endToEndRate(size));
  }
  rows.push({ size, frames: FRAMES, runs: RUNS, ffmpegEncodeFps: median(encode), vstreamTcpFps: median(e2e) });
}

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const ffmpegLine = `${await ffmpegVersion(ffmpeg.path)} (${ffmpeg.reason})`;
console.log(`machine: ${machine}\nffmpeg:  ${ffmpegLine}\n${FRAMES} frames per run, median of ${RUNS} runs, quality ${QUALITY}, loopback TCP, headless\n`);
console.log('| size | ffmpeg encode only (frames/s) | vstream TCP end to end (frames/s) | ratio |');
console.log('|---|---:|---:|---:|');
for (const r of rows) {
  console.log(`| ${r.size} | ${r.ffmpegEncodeFps.toFixed(0)} | ${r.vstreamTcpFps.toFixed(0)} | ${(r.vstreamTcpFps / r.ffmpegEncodeFps).toFixed(2)} |`);
}
const dir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(dir, { recursive: true });
const file = `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
await writeFile(file, JSON.stringify({ machine, ffmpeg: ffmpegLine, rows }, null, 2));
console.log(`\nwritten: ${file}`);
