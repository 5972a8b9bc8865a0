#!/usr/bin/env node
// `npm run bench`: end-to-end frames/s of vstream (real CLI processes, loopback, headless)
// beside the ffmpeg-only encode rate measured in the same run, which bounds what the pipeline
// can reach, over TCP and UDP; and the share of frames UDP delivers through a lossy relay
// beside the ideal (1-p)^k. Each rate is the median of RUNS runs. Prints tables and writes
// JSON to bench/results/.
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../bin/vstream.js', import.meta.url));
const { locateFfmpeg, ffmpegVersion } = await import('../dist/source/ffmpeg/locate.js');
const { patternInputArgs, mjpegOutputArgs } = await import('../dist/source/ffmpeg/args.js');
const { parseDatagram } = await import('../dist/frame/udp-datagram.js');
const { LossyRelay } = await import('./lossy-relay.mjs');

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const FRAMES = Number(process.env.BENCH_FRAMES ?? 600);
const SIZES = ['640x480', '1280x720'];
const LOSS_RATES = [0, 0.01, 0.05];
const LOSS_FRAMES = Number(process.env.BENCH_LOSS_FRAMES ?? 300);
const QUALITY = 80;
const ffmpeg = locateFfmpeg();

/** Runs a command to its end; the promise also carries `child`, to stop it early. */
function run(command, args, { onStderr } = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const done = new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (c) => {
      stderr += c;
      onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stderr, child }));
  });
  return Object.assign(done, { child });
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

/**
 * vstream send --pattern --fps max -> vstream recv --no-window --output /dev/null, over TCP or
 * (`udp`) UDP at the default settings. Over UDP the pattern is a live source that runs until
 * stopped, and the rate counts the frames delivered; `udpDropped` is the receiver's count of
 * frames it never delivered.
 */
async function endToEndRate(size, { udp = false } = {}) {
  let started;
  let sender;
  const transport = udp ? ['--udp'] : [];
  const recv = run(process.execPath, [bin, 'recv', ...transport, '--no-window', '--listen', '0', '--output', '/dev/null', '--frames', String(FRAMES)], {
    onStderr(text) {
      const port = /listening on .*?(\d+)(?:\s|$)/.exec(text)?.[1];
      if (port && !sender) {
        started = performance.now();
        sender = run(process.execPath, [bin, 'send', ...transport, '--pattern', '--fps', 'max', '--size', size, '--quality', String(QUALITY), '--to', `127.0.0.1:${port}`, '--quiet']);
      }
    },
  });
  const { code, stderr } = await recv;
  const seconds = (performance.now() - started) / 1000;
  // A live UDP sender does not stop when the receiver goes (it warns and goes on): stop it.
  if (udp) sender.child.kill('SIGINT');
  await sender;
  if (code !== 0) throw new Error(`recv failed: ${stderr}`);
  const udpDropped = Number(/UDP loss: (\d+) frames dropped/.exec(stderr)?.[1] ?? 0);
  return udp ? { fps: FRAMES / seconds, udpDropped } : FRAMES / seconds;
}

/** Resolves with the first match of `re` in the text `onStderr` sees. */
function matcher(re) {
  let found;
  const matched = new Promise((resolve) => (found = resolve));
  return { matched, onStderr: (text) => { const m = re.exec(text); if (m) found(m); } };
}

/**
 * send --udp --pattern (640x480, 1200-byte datagrams) -> a relay dropping each datagram with
 * probability p (fixed seed; nothing duplicated or reordered) -> recv --udp. A frame of k
 * pieces then arrives whole with probability (1-p)^k, and the receiver must deliver exactly
 * those frames and no partial one: the measured ratio should sit on the ideal, and on the
 * count the relay's own record says must be delivered.
 */
async function deliveredRatio(p) {
  const listening = matcher(/listening on .*?(\d+)(?:\s|$)/);
  const gone = matcher(/disconnected after (\d+) frames/);
  const recv = run(process.execPath, [bin, 'recv', '--udp', '--no-window', '--listen', '0', '--output', '/dev/null', '--max-age', '2000'], {
    onStderr: (text) => {
      listening.onStderr(text);
      gone.onStderr(text);
    },
  });
  const port = Number((await listening.matched)[1]);
  const relay = await LossyRelay.start({ target: { host: '127.0.0.1', port }, drop: p, seed: 1, keepPayloads: false, parse: (d) => parseDatagram(d, 2 ** 30) });
  const { code } = await run(process.execPath, [bin, 'send', '--udp', '--pattern', '--size', '640x480', '--fps', '60', '--frames', String(LOSS_FRAMES), '--quality', String(QUALITY), '--to', `127.0.0.1:${relay.port}`, '--quiet']);
  if (code !== 0) throw new Error(`send failed (${code})`);
  const delivered = Number((await gone.matched)[1]);
  recv.child.kill('SIGINT');
  await recv;
  const [[key, expected]] = [...relay.expected()];
  const pieces = [...relay.streams.get(key).frames.values()].map((f) => f.pieceCount);
  await relay.close();
  const k = pieces.reduce((a, b) => a + b, 0) / pieces.length;
  const ideal = pieces.reduce((sum, n) => sum + (1 - p) ** n, 0) / pieces.length;
  return { p, frames: LOSS_FRAMES, piecesPerFrame: k, ideal, delivered, ratio: delivered / LOSS_FRAMES, relayExpected: expected.delivered.length, datagramsDropped: relay.counts.dropped };
}

const rows = [];
for (const size of SIZES) {
  const encode = [];
  const tcp = [];
  const udp = [];
  for (let i = 0; i < RUNS; i += 1) {
    encode.push(await ffmpegEncodeRate(size));
    tcp.push(await endToEndRate(size));
    udp.push(await endToEndRate(size, { udp: true }));
  }
  const udpMedian = [...udp].sort((a, b) => a.fps - b.fps)[Math.floor(udp.length / 2)];
  rows.push({ size, frames: FRAMES, runs: RUNS, ffmpegEncodeFps: median(encode), vstreamTcpFps: median(tcp), vstreamUdpFps: udpMedian.fps, udpFramesDropped: udpMedian.udpDropped });
}
const lossRows = [];
for (const p of LOSS_RATES) lossRows.push(await deliveredRatio(p));

const machine = `${cpus().length} x ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
const ffmpegLine = `${await ffmpegVersion(ffmpeg.path)} (${ffmpeg.reason})`;
console.log(`machine: ${machine}\nffmpeg:  ${ffmpegLine}\n${FRAMES} frames per run, median of ${RUNS} runs, quality ${QUALITY}, loopback, headless; UDP at the default settings (1200-byte datagrams, paced at 50 MB/s)\n`);
console.log('| size | ffmpeg encode only (frames/s) | vstream TCP end to end (frames/s) | ratio | vstream UDP end to end (frames/s) | ratio | UDP frames dropped |');
console.log('|---|---:|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = (x) => (x / r.ffmpegEncodeFps).toFixed(2);
  console.log(`| ${r.size} | ${r.ffmpegEncodeFps.toFixed(0)} | ${r.vstreamTcpFps.toFixed(0)} | ${ratio(r.vstreamTcpFps)} | ${r.vstreamUdpFps.toFixed(0)} | ${ratio(r.vstreamUdpFps)} | ${r.udpFramesDropped} |`);
}
console.log(`\nUDP through a relay dropping datagrams at random (seed 1), 640x480 pattern, ${LOSS_FRAMES} frames at 60 frames/s, 1200-byte datagrams:\n`);
console.log('| datagram loss p | pieces per frame k (mean) | ideal (1-p)^k | delivered | delivered ratio | relay says deliverable |');
console.log('|---:|---:|---:|---:|---:|---:|');
for (const r of lossRows) {
  console.log(`| ${(r.p * 100).toFixed(0)} % | ${r.piecesPerFrame.toFixed(1)} | ${r.ideal.toFixed(3)} | ${r.delivered} / ${r.frames} | ${r.ratio.toFixed(3)} | ${r.relayExpected} |`);
}
const dir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(dir, { recursive: true });
const file = `${dir}${new Date().toISOString().replace(/[:.]/g, '-')}.json`;
await writeFile(file, JSON.stringify({ machine, ffmpeg: ffmpegLine, rows, udpLoss: lossRows }, null, 2));
console.log(`\nwritten: ${file}`);
