// CPU a frame costs `send` for an MJPEG source: its JPEGs passed through (ffmpeg copies them out
// of the container) against re-encoded (`--quality 80` makes ffmpeg decode each one and vstream
// encode it again), at 640x480 and 1280x720. The source is an MJPEG AVI made by ffmpeg from its
// testsrc2 pattern, sent with `send --file CLIP --fps max` to a headless `recv --output
// /dev/null --frames N` on loopback.
//
// CPU is user + system time of the `send` process and of its ffmpeg child together, as the
// kernel totals them once both have been waited for: `send` runs under a small Node wrapper that
// waits for it and then reads the cutime and cstime fields of its own /proc/self/stat (the CPU
// of the children it reaped, which includes the ffmpeg `send` reaped). The receiver is not
// counted. Start-up (Node, ffmpeg, the file's probe) is cancelled out as for the throughput
// rows: each run also sends a short clip of the same content, and
//   cpu ms/frame = (cpu(long) - cpu(short)) / (frames(long) - frames(short)),
// medians over the runs. wallFps is the long clip's frames over its wall time.
import { spawnSync } from 'node:child_process';
import { startReceiver, start, vstream } from '../../tools/proc.mjs';
import { median } from '../../tools/table.mjs';
import { makeClip } from './clip.mjs';

// Runs argv[1..] to its end and writes "CHILD_CPU_TICKS <cutime+cstime>" on stderr.
const WRAPPER = `
const { spawnSync } = require('node:child_process');
const { readFileSync } = require('node:fs');
const r = spawnSync(process.argv[1], process.argv.slice(2), { stdio: 'inherit' });
const stat = readFileSync('/proc/self/stat', 'utf8');
const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
process.stderr.write('CHILD_CPU_TICKS ' + (f[13] + f[14]) + '\\n');
process.exitCode = r.status ?? 1;
`;

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/** One transfer: { cpuSeconds, seconds, bytes } of `send` (with its ffmpeg) for `frames` frames. */
async function sendOnce(file, frames, extra) {
  const { p: recv, port } = await startReceiver(['--no-window', '--output', '/dev/null', '--frames', String(frames)]);
  const [node, args] = vstream('send', '--file', file, '--fps', 'max', '--to', `127.0.0.1:${port}`, ...extra);
  const t0 = performance.now();
  const send = start(process.execPath, ['-e', WRAPPER, node, ...args]);
  const sent = await send.exited;
  const received = await recv.exited;
  const ticks = Number(/CHILD_CPU_TICKS (\d+)/.exec(send.err)?.[1]);
  const got = Number(/received (\d+) frames/.exec(recv.err)?.[1]);
  if (sent.code !== 0 || received.code !== 0 || got !== frames || !Number.isFinite(ticks)) {
    throw new Error(`passthrough run failed (send ${sent.code}, recv ${received.code}, ${got}/${frames} frames): ${send.err}${recv.err}`.trim());
  }
  return { cpuSeconds: ticks / TICKS, seconds: (sent.at - t0) / 1000 };
}

/**
 * Rows { size, mode: 'passthrough' | 'reencoded', cpuMsPerFrame, wallFps, runs, frames } for each
 * size ({ size: 'WxH', frames }); `shortFrames` frames make the start-up clip.
 */
export async function passthroughCpu({ ffmpegPath, sizes, shortFrames = 30, runs = 3, quality = 80 }) {
  const rows = [];
  for (const { size, frames } of sizes) {
    const [width, height] = size.split('x').map(Number);
    const long = await makeClip({ ffmpegPath, width, height, frames, codec: 'mjpeg' });
    const short = await makeClip({ ffmpegPath, width, height, frames: shortFrames, codec: 'mjpeg' });
    for (const [mode, extra] of [
      ['passthrough', []],
      ['reencoded', ['--quality', String(quality)]],
    ]) {
      const longRuns = [];
      const shortRuns = [];
      for (let i = 0; i < runs; i += 1) {
        longRuns.push(await sendOnce(long, frames, extra));
        shortRuns.push(await sendOnce(short, shortFrames, extra));
      }
      const cpuLong = median(longRuns.map((r) => r.cpuSeconds));
      const cpuShort = median(shortRuns.map((r) => r.cpuSeconds));
      rows.push({
        size,
        mode,
        frames,
        runs,
        cpuMsPerFrame: ((cpuLong - cpuShort) * 1000) / (frames - shortFrames),
        cpuMsPerFrameWithStartup: (cpuLong * 1000) / frames,
        startupCpuMs: cpuShort * 1000 - (((cpuLong - cpuShort) * 1000) / (frames - shortFrames)) * shortFrames,
        wallFps: frames / median(longRuns.map((r) => r.seconds)),
      });
    }
  }
  return { rows, cpu: 'user+sys of send and its ffmpeg (reaped children of a wrapper, /proc/self/stat cutime+cstime)' };
}
