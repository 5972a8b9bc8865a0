#!/usr/bin/env node
// `npm run bench`: every figure vstream is measured by, in one command. A thin driver over bench/lib/
// (one implementation per measurement, each documented in its own header); this file only
// chooses sizes, frame counts and runs, prints markdown tables on stdout (progress goes to
// stderr) and writes the same data as JSON to bench/results/<timestamp>.json.
//
//   1. Throughput on the same H.264 clip at 640x480 and 1280x720: the Python/OpenCV reference,
//      GStreamer, vstream over TCP (decoding every frame, and pass-through) and UDP, and the
//      limits (ffmpeg encoding alone, H.264 decoding alone, the JPEG encode and decode alone) and
//      the ceiling they put on any program; ratios and the performance goals.
//   2. Latency of a live 640x480 @ 30 frames/s pattern.
//   3. Many streams: live senders one headless receiver keeps up with.
//   4. Receiver memory: 8 senders, a flood, a slow sink (file and live).
//   5. UDP: frames/s (from 1) and the delivered-frame ratio under datagram loss.
//   6. Hostile peers: memory, slowloris, UDP flood, short connections and the seeded fuzzer
//      against one receiver beside a good sender (bench/lib/attacks.mjs).
//   7. Passthrough: CPU ms a frame of `send` for an MJPEG file passed through vs re-encoded
//      (bench/lib/passthrough.mjs).
//   8. The HTTP viewer: frames/s to each of 0, 1 and 10 MJPEG clients and recv's CPU (bench/lib/http-viewer.mjs).
//   9. Shared secret: TCP and UDP throughput and latency at 640x480 with and without --secret-file (bench/lib/secret-cost.mjs).
//
// Environment (all optional): BENCH_RUNS (runs per figure, default 3), BENCH_FRAMES (clip frames
// at 640x480, default 600; 1280x720 uses half), BENCH_SECONDS (measured seconds of each live
// scenario, default 5), BENCH_LEVELS (sender counts, default 1,4,8,12,16), BENCH_ONLY (comma
// list of throughput,latency,streams,memory,udp-loss,attacks,passthrough,http,secret), BENCH_UDP_DECODE=1 (adds UDP rows
// that decode every frame), BENCH_ATTACK_SECONDS (length of the timed attacks, default 10),
// FUZZ_CASES and FUZZ_SEED (the attacks' fuzzer runs, default 20000 cases per transport, seed 1),
// BENCH_ATTACKS (words of the attacks to run, e.g. secret,slowloris; default all).
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { makeClip } from './lib/clip.mjs';
import { ceiling, ffmpegEncodeRate, h264DecodeRate, rawEncodeRate, sharpDecodeRate } from './lib/encode-limits.mjs';
import { gstreamerRate } from './lib/gstreamer.mjs';
import { httpViewer } from './lib/http-viewer.mjs';
import { attacks } from './lib/attacks.mjs';
import { latency } from './lib/latency.mjs';
import { manyStreams } from './lib/many-streams.mjs';
import { memory } from './lib/memory.mjs';
import { passthroughCpu } from './lib/passthrough.mjs';
import { cpuAccount, otherCores, poolRuns, snapshotBuild, vstream } from '../tools/proc.mjs';
import { pythonReferenceRate } from './lib/python-reference.mjs';
import { fmt, markdownTable, median } from '../tools/table.mjs';
import { udpLoss } from './lib/udp-loss.mjs';
import { secretCost } from './lib/secret-cost.mjs';
import { vstreamRate } from './lib/vstream-rates.mjs';

const { locateFfmpeg, ffmpegVersion } = await import('../dist/source/ffmpeg/locate.js');

const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const RUNS = num('BENCH_RUNS', 3);
const FRAMES = num('BENCH_FRAMES', 600);
const SHORT_FRAMES = 30;
const SECONDS = num('BENCH_SECONDS', 5);
const LEVELS = (process.env.BENCH_LEVELS ?? '1,4,8,12,16').split(',').map(Number);
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const UDP_DECODE = process.env.BENCH_UDP_DECODE === '1';
const QUALITY = 80;
const SIZES = [
  { size: '640x480', frames: FRAMES },
  { size: '1280x720', frames: Math.round(FRAMES / 2) },
];
const wanted = (section) => !ONLY || ONLY.has(section);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const t0 = performance.now();
const elapsed = () => (performance.now() - t0) / 1000;
const progress = (text) => process.stderr.write(`[${elapsed().toFixed(0).padStart(3)} s] ${text}\n`);
const out = (text = '') => process.stdout.write(`${text}\n`);

/** Runs one measurement; a failure becomes { error } in its row instead of ending the bench. */
async function attempt(label, f) {
  progress(label);
  try {
    return await f();
  } catch (err) {
    progress(`  failed: ${err.message.split('\n', 1)[0]}`);
    return { error: err.message.slice(0, 2000) };
  }
}

// The CLI processes run a private copy of bin/ and dist/ made now (just after `npm run bench`
// compiled it), so that someone rebuilding dist/ meanwhile cannot change what is measured.
const snapshot = await snapshotBuild();
process.on('exit', () => rmSync(snapshot.dir, { recursive: true, force: true }));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));
const git = (...args) => spawnSync('git', args, { cwd: fileURLToPath(new URL('..', import.meta.url)), encoding: 'utf8' }).stdout?.trim() ?? '';
const build = { commit: git('rev-parse', '--short', 'HEAD') || 'unknown', srcModified: git('status', '--porcelain', '--', 'src').length > 0 };

const ffmpeg = locateFfmpeg();
const cpuList = cpus();
const machine = {
  cpus: cpuList.length,
  model: cpuList[0]?.model.trim(),
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  ffmpeg: `${await ffmpegVersion(ffmpeg.path)} (${ffmpeg.path}, ${ffmpeg.reason})`,
  loadAverageAtStart: loadavg().map((x) => Number(x.toFixed(2))),
};
// Other work on the machine (other users, builds, tests) skews every figure: measured for 2 s
// before starting, then per section as the machine's busy CPU minus this process tree's.
const before = cpuAccount();
await sleep(2000);
const otherLoad = { before: otherCores(before, cpuAccount()) };
let mark = cpuAccount();
const section = (name) => {
  const now = cpuAccount();
  otherLoad[name] = otherCores(mark, now);
  mark = now;
};
machine.otherLoadCores = otherLoad;
const results = {
  startedAt: new Date().toISOString(),
  build,
  machine,
  config: { runs: RUNS, frames: Object.fromEntries(SIZES.map((s) => [s.size, s.frames])), shortFrames: SHORT_FRAMES, seconds: SECONDS, levels: LEVELS, quality: QUALITY, udpDecode: UDP_DECODE, only: ONLY && [...ONLY] },
};

// ---------------------------------------------------------------- 1. throughput
/** The rows of the throughput table, in print order. `ref` is the vstream row ratios refer to. */
const ROWS = [
  { key: 'python', label: 'Python/OpenCV reference (TCP, imdecode every frame; q90)', run: (c) => pythonReferenceRate(c) },
  { key: 'gstreamer', label: 'GStreamer (jpegenc, multipartmux, TCP, jpegdec every frame)', run: (c) => gstreamerRate({ ...c, width: c.width, height: c.height, quality: QUALITY, ffmpegPath: ffmpeg.path }) },
  { key: 'tcpDecode', label: 'vstream TCP, decode every frame (`--format rgb24 --output /dev/null`)', run: (c) => vstreamRate({ ...c, transport: 'tcp', sink: 'decode' }) },
  { key: 'tcpPass', label: 'vstream TCP pass-through (`--output /dev/null`)', run: (c) => vstreamRate({ ...c, transport: 'tcp', sink: 'passthrough' }) },
  { key: 'udpPass', label: 'vstream UDP pass-through (default 1200-byte datagrams)', run: (c) => vstreamRate({ ...c, transport: 'udp', sink: 'passthrough', packetSize: 1200 }) },
  { key: 'udpPass65k', label: 'vstream UDP pass-through (`--packet-size 65000`)', run: (c) => vstreamRate({ ...c, transport: 'udp', sink: 'passthrough', packetSize: 65000 }) },
  ...(UDP_DECODE ? [{ key: 'udpDecode', label: 'vstream UDP, decode every frame (`--packet-size 65000`)', run: (c) => vstreamRate({ ...c, transport: 'udp', sink: 'decode', packetSize: 65000 }) }] : []),
  { key: 'ffmpegEncode', label: 'limit: ffmpeg alone, clip to MJPEG to /dev/null (its own encoder: send\'s arguments without the addon)', run: (c) => ffmpegEncodeRate({ ...c, ffmpegPath: ffmpeg.path, quality: QUALITY }) },
  { key: 'h264Decode', label: 'limit: ffmpeg only decoding the H.264 clip, one thread (`-threads 1 -f null`)', run: (c) => h264DecodeRate({ ...c, ffmpegPath: ffmpeg.path }) },
  { key: 'encode1', once: true, label: 'limit: send\'s JPEG encode alone (libjpeg-turbo addon, raw 4:2:0 frames), 1 at a time', run: (c) => rawEncodeRate({ ffmpegPath: ffmpeg.path, clip: c.clip, frames: c.frames / 2, runs: RUNS, quality: QUALITY }) },
  { key: 'sharp1', once: true, label: 'limit: recv\'s decode alone (decodePixels: libjpeg-turbo addon, else sharp), 1 at a time', run: (c) => sharpDecodeRate({ ffmpegPath: ffmpeg.path, clip: c.clip, size: c.size, frames: c.frames / 2, runs: RUNS, concurrency: 1, quality: QUALITY, pipeline: 'vstream' }) },
  { key: 'sharp2', once: true, label: 'limit: recv\'s decode alone (decodePixels: libjpeg-turbo addon, else sharp), 2 at once', run: (c) => sharpDecodeRate({ ffmpegPath: ffmpeg.path, clip: c.clip, size: c.size, frames: c.frames / 2, runs: RUNS, concurrency: 2, quality: QUALITY, pipeline: 'vstream' }) },
];
const REF = 'tcpDecode';

if (wanted('throughput')) {
  // Interleaved: run 1 of every row at both sizes, then run 2, ...; each call makes one long and
  // one short transfer and poolRuns() combines them (see proc.mjs for why). The sharp rows run
  // in this process without other programs, all their runs in one call.
  const plan = [];
  for (const { size, frames } of SIZES) {
    const [width, height] = size.split('x').map(Number);
    const clip = await makeClip({ ffmpegPath: ffmpeg.path, width, height, frames });
    const shortClip = await makeClip({ ffmpegPath: ffmpeg.path, width, height, frames: SHORT_FRAMES });
    plan.push({ size, common: { clip, frames, shortClip, shortFrames: SHORT_FRAMES, size, width, height }, parts: Object.fromEntries(ROWS.map((r) => [r.key, []])) });
  }
  for (let i = 0; i < RUNS; i += 1) {
    for (const { size, common, parts } of plan) {
      for (const row of ROWS) {
        if ((row.once && i > 0) || parts[row.key].some((p) => p.skipped)) continue;
        const r = await attempt(`throughput ${size}, run ${i + 1}/${RUNS}: ${row.key}`, () => row.run({ ...common, runs: row.once ? RUNS : 1 }));
        parts[row.key].push(r);
        if (Number.isFinite(r.wallFps ?? r.fps)) progress(`  ${fmt(r.wallFps ?? r.fps)} frames/s${r.wallFps ? ' (wall)' : ''}`);
      }
    }
  }
  results.throughput = {};
  for (const { size, common, parts } of plan) {
    results.throughput[size] = {
      clip: common.clip,
      frames: common.frames,
      shortFrames: SHORT_FRAMES,
      rows: Object.fromEntries(ROWS.map((r) => [r.key, poolRuns(parts[r.key])])),
    };
  }
}

if (wanted('throughput')) section('throughput');

// ---------------------------------------------------------------- 2. latency
if (wanted('latency')) {
  // Each figure: the median over RUNS runs of that run's percentile.
  const runs = { tcp: [], udp: [] };
  for (let i = 0; i < RUNS; i += 1) {
    runs.tcp.push(await attempt(`latency TCP, run ${i + 1}/${RUNS}`, () => latency({ size: '640x480', fps: 30, seconds: SECONDS, transport: 'tcp', decoded: true })));
    runs.udp.push(await attempt(`latency UDP, run ${i + 1}/${RUNS}`, () => latency({ size: '640x480', fps: 30, seconds: SECONDS, transport: 'udp', decoded: false })));
  }
  const summarise = (list, part) => {
    const ok = list.filter((r) => r[part] && Number.isFinite(r[part].p50));
    if (ok.length === 0) return { skipped: list.find((r) => r[part]?.skipped)?.[part].skipped ?? list.find((r) => r.error)?.error ?? 'no data' };
    const m = (k) => median(ok.map((r) => r[part][k]));
    return { p50: m('p50'), p99: m('p99'), max: m('max'), framesPerRun: m('n'), runs: ok.length, measured: ok[0][part].measured, ...(part === 'decoded' && { paired: ok.every((r) => r.decoded.paired) }) };
  };
  results.latency = {
    size: '640x480',
    fps: 30,
    seconds: SECONDS,
    tcpArrival: summarise(runs.tcp, 'arrival'),
    tcpDecoded: summarise(runs.tcp, 'decoded'),
    udpArrival: summarise(runs.udp, 'arrival'),
    perRun: runs,
  };
}

if (wanted('latency')) section('latency');

// ---------------------------------------------------------------- 3. many streams
if (wanted('streams')) {
  results.manyStreams = await attempt(`many streams: ${LEVELS.join(', ')} senders`, () => manyStreams({ levels: LEVELS, maxSenders: Math.max(...LEVELS), size: '640x480', fps: 30, seconds: SECONDS }));
}

if (wanted('streams')) section('streams');

// ---------------------------------------------------------------- 4. memory
if (wanted('memory')) {
  const clip = await makeClip({ ffmpegPath: ffmpeg.path, width: 640, height: 480, frames: FRAMES });
  results.memory = await attempt('memory: 8 senders, flood, slow sink (file and live)', () => memory({ clip, seconds: SECONDS, size: '640x480', senders: 8 }));
}

if (wanted('memory')) section('memory');

// ---------------------------------------------------------------- 5. UDP loss
if (wanted('udp-loss')) {
  results.udpLoss = await attempt('UDP delivered ratio at 0, 1, 5 % datagram loss', () => udpLoss({ rates: [0, 0.01, 0.05], frames: 300, fps: 100, size: '640x480', quality: QUALITY, runs: RUNS }));
}

if (wanted('udp-loss')) section('udp-loss');

// ---------------------------------------------------------------- 6. attacks
if (wanted('attacks')) {
  results.attacks = await attempt('attacks: hostile peers beside a good sender', () =>
    attacks({ seconds: num('BENCH_ATTACK_SECONDS', 10), fuzzCases: num('FUZZ_CASES', 20_000), seed: num('FUZZ_SEED', 1), only: process.env.BENCH_ATTACKS, progress }),
  );
}

if (wanted('attacks')) section('attacks');

// ---------------------------------------------------------------- 7. passthrough
if (wanted('passthrough')) {
  results.passthrough = await attempt('passthrough: send CPU a frame, MJPEG file passed through vs re-encoded', () =>
    passthroughCpu({ ffmpegPath: ffmpeg.path, sizes: SIZES.map(({ size, frames }) => ({ size, frames: Math.min(frames, 300) })), shortFrames: SHORT_FRAMES, runs: RUNS, quality: QUALITY }));
}
if (wanted('passthrough')) section('passthrough');

// ---------------------------------------------------------------- 8. HTTP viewer
if (wanted('http')) {
  results.httpViewer = await attempt('HTTP viewer: 0, 1 and 10 clients of a 640x480 pattern', () => httpViewer({ clients: [0, 1, 10], size: '640x480', fps: 30, seconds: SECONDS }));
}

if (wanted('http')) section('http');

if (wanted('secret')) {
  const clip = await makeClip({ ffmpegPath: ffmpeg.path, width: 640, height: 480, frames: FRAMES });
  const shortClip = await makeClip({ ffmpegPath: ffmpeg.path, width: 640, height: 480, frames: SHORT_FRAMES });
  results.secret = await secretCost({ clip, frames: FRAMES, shortClip, shortFrames: SHORT_FRAMES, runs: RUNS, seconds: SECONDS, attempt });
  section('secret');
}
machine.loadAverageAtEnd = loadavg().map((x) => Number(x.toFixed(2)));

// ================================================================ output
const mb = (x) => (Number.isFinite(x) ? x : null);
const rate = (r) => (r && Number.isFinite(r.fps) ? r.fps : null);
const why = (r) => r?.skipped ?? (r?.error ? `failed: ${r.error.split('\n', 1)[0].slice(0, 200)}` : null);

out(`# vstream benchmark, ${results.startedAt}`);
out();
out(`machine: ${machine.cpus} x ${machine.model}, ${machine.memoryGiB} GiB, Node ${machine.node}`);
out(`other work on the machine (CPU not used by this benchmark, in cores of ${machine.cpus}): ${Object.entries(otherLoad).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}${Object.values(otherLoad).some((v) => v > 0.2) ? ' -- the machine was shared: figures are less reliable' : ''}`);
out(`ffmpeg: ${machine.ffmpeg}`);
{
  // Which JPEG codec the vstream rows use: the snapshot's own answer, not this process's.
  const r = spawnSync(...vstream('doctor'), { encoding: 'utf8' });
  out(`vstream ${/^jpeg:.*$/m.exec(r.stdout)?.[0] ?? 'jpeg: unknown'}`);
}
out(`vstream: commit ${build.commit}${build.srcModified ? ' with uncommitted changes in src/' : ''}, compiled dist/ copied at the start`);
out(`every figure is the median of ${RUNS} runs unless said otherwise (throughput rows interleaved: run 1 of every row, then run 2, ...); loopback, headless, JPEG quality ${QUALITY} (the Python reference: 90)`);

const targets = [];
if (results.throughput) {
  const sizes = Object.keys(results.throughput);
  const get = (size, key) => results.throughput[size].rows[key];
  out();
  out(`## 1. Throughput, same H.264 clip (testsrc2), frames/s`);
  out();
  out(`Steady state: each run transfers the clip (${SIZES.map((s) => `${s.frames} frames at ${s.size}`).join(', ')}) and a ${SHORT_FRAMES}-frame clip of the same content, and the rate is (frames - ${SHORT_FRAMES}) / (median time long - median time short), which cancels both programs' start-up. Ratio column: the row's rate / **vstream TCP decode** at that size. RSS: the receiver's peak (VmHWM).`);
  out();
  const columns = [['row', (r) => r.label, 'l']];
  for (const size of sizes) {
    const ref = rate(get(size, REF));
    columns.push([`${size} frames/s`, (r) => rate(get(size, r.key))]);
    columns.push([`x vstream TCP decode`, (r) => (rate(get(size, r.key)) && ref ? rate(get(size, r.key)) / ref : null)]);
    columns.push([`RSS MB`, (r) => mb(get(size, r.key)?.peakRssMb)]);
  }
  out(markdownTable(columns, ROWS));
  const notes = [];
  for (const row of ROWS) {
    const reasons = new Set(sizes.map((s) => why(get(s, row.key))).filter(Boolean));
    for (const reason of reasons) notes.push(`- ${row.key}: ${reason}`);
    for (const size of sizes) {
      const r = get(size, row.key);
      if (r?.failedRuns) notes.push(`- ${row.key} at ${size}: ${r.failedRuns} run(s) failed and left out: ${r.firstFailure.split('\n', 1)[0].slice(0, 200)}`);
      if (r && !why(r) && !Number.isFinite(r.fps) && Number.isFinite(r.wallFps)) {
        notes.push(`- ${row.key} at ${size}: no steady-state rate (the short run took as long as the long one: noise); wall rate, start-up included: ${fmt(r.wallFps)} frames/s`);
      }
    }
  }
  const gst = get(sizes[0], 'gstreamer');
  if (gst?.decoder) notes.push(`- GStreamer decodes the clip with ${gst.decoder}.`);
  for (const size of sizes) {
    const drops = ['udpPass', 'udpPass65k', 'udpDecode'].map((k) => [k, get(size, k)?.dropped]).filter(([, d]) => Number.isFinite(d) && d > 0);
    if (drops.length) notes.push(`- UDP frames lost on the way at ${size} (median per run; the looping sender makes up for them): ${drops.map(([k, d]) => `${k} ${d}`).join(', ')}`);
  }
  if (notes.length) out(`\n${notes.join('\n')}`);

  // What the "2x the Python reference" target asks against what this machine can do at all.
  const lines = [];
  for (const size of sizes) {
    const h264 = rate(get(size, 'h264Decode'));
    // CPU time, not wall: one call at a time also waits for the thread pool to hand over.
    const encodeMs = get(size, 'encode1')?.cpuMsPerFrame;
    const decodeMs = get(size, 'sharp1')?.cpuMsPerFrame;
    if (!h264 || !Number.isFinite(encodeMs) || !Number.isFinite(decodeMs)) continue;
    const c = ceiling({ h264Ms: 1000 / h264, encodeMs, decodeMs, cores: machine.cpus });
    results.throughput[size].ceiling = c;
    const python = rate(get(size, 'python'));
    lines.push(
      `- ${size}: H.264 decode ${fmt(c.h264Ms)} + JPEG encode ${fmt(c.encodeMs)} + JPEG decode ${fmt(c.decodeMs)} = ${fmt(c.msPerFrame)} ms of CPU a frame, so at most **${fmt(c.fps)} frames/s** on ${c.cores} cores` +
        (python ? `; 2x the Python reference is ${fmt(2 * python)} frames/s (${fmt((2 * python) / c.fps)}x the ceiling); vstream TCP decode reached ${fmt((rate(get(size, REF)) ?? NaN) / c.fps)}x of it.` : '.'),
    );
  }
  if (lines.length) {
    out();
    out('Ceiling: the most frames/s any program could reach doing the three steps every row does (decode the H.264 clip, JPEG-encode, JPEG-decode to pixels) with the fastest code measured here, one frame per core at a time, with no transport, copies or scheduling at all:');
    out();
    out(lines.join('\n'));
  }

  for (const size of sizes) {
    const ratio = (a, b) => (rate(get(size, a)) && rate(get(size, b)) ? rate(get(size, a)) / rate(get(size, b)) : null);
    targets.push(
      { target: `vstream TCP decode / Python reference, ${size}`, value: ratio('tcpDecode', 'python'), goal: '>= 2', met: (v) => v >= 2 },
      { target: `vstream TCP decode / GStreamer, ${size}`, value: ratio('tcpDecode', 'gstreamer'), goal: 'aim >= 1', met: (v) => v >= 1 },
      { target: `vstream TCP pass-through / ffmpeg encode alone, ${size}`, value: ratio('tcpPass', 'ffmpegEncode'), goal: '>= 0.9', met: (v) => v >= 0.9 },
      { target: `vstream UDP pass-through (1200 B) / ffmpeg encode alone, ${size}`, value: ratio('udpPass', 'ffmpegEncode'), goal: '>= 0.9', met: (v) => v >= 0.9 },
    );
  }
}

if (results.latency) {
  const l = results.latency;
  out();
  out(`## 2. Latency, live pattern ${l.size} @ ${l.fps} frames/s, ${SECONDS} s per run after 1 s warm-up (ms)`);
  out();
  out('"capture" is when the sender\'s Node process took the complete frame from ffmpeg\'s stdout: the raw frame when the libjpeg-turbo addon encodes (its JPEG encode is then included), the JPEG when ffmpeg encodes (its encode is not); ffmpeg\'s pattern generation is never included. Sender and receiver share one clock. Each figure is the median over runs of that run\'s percentile.');
  out();
  const rows = [
    { what: 'TCP: capture to arrival (frame parsed by recv, no decode; `latencyMs` of `recv --json`)', ...l.tcpArrival },
    { what: 'TCP: capture to decoded (last byte of the frame\'s rgb24 pixels read from `recv --format rgb24 --output FIFO`)', ...l.tcpDecoded },
    { what: 'UDP: capture to arrival (default 1200-byte datagrams)', ...l.udpArrival },
  ];
  out(markdownTable([['measured', 'what', 'l'], ['p50', 'p50'], ['p99', 'p99'], ['max', 'max'], ['frames per run', 'framesPerRun']], rows));
  const skipped = rows.filter((r) => r.skipped).map((r) => `- ${r.what}: ${r.skipped}`);
  if (skipped.length) out(`\n${skipped.join('\n')}`);
  if (l.tcpDecoded.paired === false) out('\n- warning: decoded pixel frames and JSON lines did not pair one to one in some run');
  targets.push(
    { target: 'latency p50, capture to decoded, TCP 640x480 @ 30', value: l.tcpDecoded.p50, unit: 'ms', goal: '< 10 ms', met: (v) => v < 10 },
    { target: 'latency p99, capture to decoded, TCP 640x480 @ 30', value: l.tcpDecoded.p99, unit: 'ms', goal: '< 25 ms', met: (v) => v < 25 },
  );
}

if (results.manyStreams) {
  const m = results.manyStreams;
  out();
  out(`## 3. Many streams: N live senders (640x480 @ 30 frames/s, each with its own ffmpeg) into one headless receiver (\`--json --output /dev/null\`), ${SECONDS} s per level, one run per level`);
  out();
  if (m.error) {
    out(`failed: ${m.error.split('\n', 1)[0]}`);
  } else {
    const pct = (x) => (Number.isFinite(x) ? x * 100 : null);
    out(markdownTable([
      ['N', 'n'],
      ['per-stream frames/s min', (r) => r.perStreamFps.min],
      ['frames missing %', 'dropPct'],
      ['latency p50 ms', (r) => r.latencyMs.p50],
      ['latency p99 ms, 1st half -> 2nd half', (r) => `${fmt(r.latencyMs.firstHalf.p99)} -> ${fmt(r.latencyMs.secondHalf.p99)}`],
      ['receiver CPU (cores)', 'receiverCpuCores'],
      ['senders CPU (cores)', 'senderCpuCores'],
      ['machine busy %', (r) => pct(r.machineBusy)],
      ['receiver RSS MB', 'receiverPeakRssMb'],
      ['dropped by senders / by receiver (whole run)', (r) => `${r.wholeRun?.senderDropped ?? '-'} / ${r.wholeRun?.receiverDropped ?? '-'}`],
      ['keeps up', (r) => (r.keepsUp ? 'yes' : 'no'), 'l'],
    ], m.levels));
    const fail = m.levels.find((r) => !r.keepsUp);
    out();
    out(`**Largest N kept up: ${m.maxKeepingUp}** of ${Math.max(...LEVELS)} tried (aim 16; kept up = every stream seen, frames missing < 1 % (gaps in seq, which counts frames the sender's source dropped too), p99 latency not growing).${fail ? ` First level missed: N = ${fail.n} (${fmt(fail.dropPct)} % missing, machine ${fmt(fail.machineBusy * 100)} % busy, receiver ${fmt(fail.receiverCpuCores)} cores).` : ''}`);
    targets.push({ target: 'many streams: 640x480 @ 30 senders kept up', value: m.maxKeepingUp, goal: 'aim 16', met: (v) => v >= 16 });
  }
}

if (results.memory) {
  const m = results.memory;
  out();
  out(`## 4. Receiver memory, ${SECONDS} s per scenario after the first frames (one run each)`);
  out();
  if (m.error) {
    out(`failed: ${m.error.split('\n', 1)[0]}`);
  } else {
    const scenarios = [
      ['senders8', '8 live senders, `--output /dev/null`'],
      ['flood', 'flood: `send --file --fps max --loop`, `--output /dev/null`'],
      ['slowSink', 'slow sink, file sender (flood into `--output -` read at 1.3 MB/s)'],
      ['slowSinkLive', 'slow sink, 4 live senders (into `--output -` read at 1.3 MB/s)'],
    ].map(([key, label]) => ({ key, label, ...m[key] }));
    out(markdownTable([
      ['scenario', 'label', 'l'],
      ['peak RSS MB', 'peakRssMb'],
      ['max RSS 1st half -> 2nd half MB', (r) => `${fmt(r.firstHalfMaxMb)} -> ${fmt(r.secondHalfMaxMb)}`],
      ['RSS stable', (r) => (r.stabilised ? 'yes' : 'no'), 'l'],
      ['latency p50 first -> last second, ms', (r) => `${fmt(r.latencyP50Ms?.first)} -> ${fmt(r.latencyP50Ms?.last)}`],
      ['received', 'received'],
      ['receiver dropped', 'receiverDropped'],
      ['senders sent / dropped', (r) => (r.sent !== undefined ? `${r.sent} / ${r.senderDropped}` : '-')],
    ], scenarios));
    const peak = Math.max(...scenarios.map((r) => r.peakRssMb).filter(Number.isFinite));
    out();
    out(`Largest receiver peak RSS: ${fmt(peak)} MB, against ${fmt(m.idle?.peakRssMb)} MB for a receiver waiting with no sender. RSS stable: the largest sample of the second half is within 10 % (and 2 MB) of the first half's; in a ${SECONDS}-second window V8's heap may still be growing to its working size, so a "no" calls for a longer run (BENCH_SECONDS=30 BENCH_ONLY=memory), not a conclusion.`);
    out();
    out('Latency here is capture to arrival at the receiver (the worst sender\'s p50 in the first and the last `--stats` second), not to the slow reader: it shows a queue in front of the receiver (socket buffers, a paused sender), not frames waiting in the pipe to the reader. A file is not live: its sender is slowed down, never dropped, so its frames wait; live frames are replaced instead.');
  }
}

if (results.udpLoss || results.throughput) {
  out();
  out('## 5. UDP');
  out();
  if (results.throughput) {
    const sizes = Object.keys(results.throughput);
    const get = (size, key) => results.throughput[size].rows[key];
    const keys = ['udpPass', 'udpPass65k', ...(UDP_DECODE ? ['udpDecode'] : []), 'tcpPass'];
    out('Frames/s over loopback (from table 1, same clip, steady state):');
    out();
    out(markdownTable([
      ['row', (r) => ROWS.find((x) => x.key === r).label, 'l'],
      ...sizes.map((s) => [`${s} frames/s`, (r) => rate(get(s, r))]),
      ...sizes.map((s) => [`${s} frames lost per run`, (r) => (r.startsWith('udp') ? get(s, r)?.dropped : null)]),
    ], keys));
    out();
  }
  if (results.udpLoss?.error) {
    out(`loss table failed: ${results.udpLoss.error.split('\n', 1)[0]}`);
  } else if (results.udpLoss) {
    const first = results.udpLoss[0];
    out(`Delivered frames through a relay dropping datagrams at random (nothing duplicated or reordered; seeds 1..${first.runs}, one per run), ${first.size} pattern, ${first.frames} frames at ${first.fps} frames/s, default 1200-byte datagrams:`);
    out();
    out(markdownTable([
      ['datagram loss p', (r) => `${fmt(r.p * 100)} %`],
      ['pieces per frame k (mean)', 'piecesPerFrame'],
      ['ideal (1-p)^k', 'ideal'],
      ['delivered ratio', 'ratio'],
      ['delivered / sent', (r) => `${r.delivered} / ${r.frames}`],
      ['relay says deliverable', 'relayExpected'],
      ['delivered = deliverable in every run', (r) => (r.matchesRelay ? 'yes' : 'NO'), 'l'],
    ], results.udpLoss));
  }
}

if (results.attacks) {
  out();
  out('## 6. Hostile peers, one receiver each, beside a good sender');
  out();
  if (results.attacks.error) {
    out(`failed: ${results.attacks.error.split('\n', 1)[0]}`);
  } else {
    out(`recv with its defaults (\`--no-window --json --output /dev/null\`; the fuzzer: every sink). Good sender: \`send --dir\` of 100 JPEGs (320x240) at 20 frames/s, label "good" (the fuzzer: a raw client sending one frame after each batch of cases and waiting for it). Peak RSS: recv's VmHWM. "recv died": it exited before the attack ended (the fuzzer starts a new recv and goes on, counting each death).`);
    out();
    out(markdownTable([
      ['attack', 'attack', 'l'],
      ['conditions', 'conditions', 'l'],
      ['peak RSS MB', 'peakRssMb'],
      ['RSS start -> end MB', (r) => (Number.isFinite(r.startRssMb) ? `${fmt(r.startRssMb)} -> ${fmt(r.endRssMb)}` : '-')],
      ['good frames arrived', (r) => (r.error ? `failed: ${r.error}` : `${r.goodArrived ?? '-'} / ${r.goodSent ?? '-'}`), 'l'],
      ['first good frame s', 'firstGoodFrameS'],
      ['recv died', (r) => r.recvDied ?? (r.error ? '-' : 'no'), 'l'],
      ['stderr MB (lines)', (r) => (Number.isFinite(r.stderrMb) ? `${fmt(r.stderrMb)} (${r.stderrLines})` : '-')],
    ], results.attacks));
    const notes = results.attacks.map((r) => {
      const facts = [
        r.fillSeconds !== undefined && `the attackers sent for ${fmt(r.fillSeconds)} s`,
        r.attackersConnected !== undefined && `${r.attackersConnected} attackers connected`,
        r.attackersOpenAtEnd !== undefined && `${r.attackersOpenAtEnd} still open at the end`,
        r.attackDatagrams !== undefined && `${r.attackDatagrams} datagrams sent`,
        r.attackSeconds !== undefined && `connections made in ${fmt(r.attackSeconds)} s`,
        r.deaths !== undefined && `${r.deaths} deaths${r.deaths ? ` (${Object.entries(r.deathsByCause ?? {}).map(([c, n]) => `${n} x ${c}`).join('; ')})` : ''}, ${r.unexpectedCloses} intact connections closed, ${r.goodRestarted} good UDP frames on a restarted stream`,
        r.goodSenderExit !== undefined && r.goodSenderExit !== 0 && `good sender exit ${r.goodSenderExit}${r.goodSenderError ? `: ${r.goodSenderError}` : ''}`,
      ].filter(Boolean);
      return facts.length ? `- ${r.attack}: ${facts.join('; ')}` : null;
    }).filter(Boolean);
    if (notes.length) out(`\n${notes.join('\n')}`);
  }
}

if (results.passthrough?.rows) {
  out();
  out('## send CPU a frame, MJPEG source: passed through vs re-encoded (`--quality 80`)');
  out();
  out(`${results.passthrough.cpu}; start-up cancelled out with a ${SHORT_FRAMES}-frame clip; median of ${RUNS} runs.`);
  out();
  out(markdownTable([
    ['size', 'size', 'l'],
    ['send', 'mode', 'l'],
    ['CPU ms/frame', 'cpuMsPerFrame'],
    ['CPU ms/frame incl. start-up', 'cpuMsPerFrameWithStartup'],
    ['frames/s (wall)', 'wallFps'],
  ], results.passthrough.rows));
}

if (results.httpViewer) {
  out();
  out('## 8. HTTP viewer: `recv --no-window --http PORT`, one `send --pattern` at 640x480, 30 frames/s');
  out();
  if (results.httpViewer.error) out(`failed: ${results.httpViewer.error.split('\n', 1)[0]}`);
  else {
    out(markdownTable([
      ['/stream clients', 'clients'],
      ['stream frames/s at recv', 'streamFps'],
      ['frames/s per client (min / median)', (r) => (r.clients ? `${fmt(r.clientFps.min)} / ${fmt(r.clientFps.median)}` : '-')],
      ['recv CPU cores', 'recvCpuCores'],
      ['recv CPU ms per frame', 'recvCpuMsPerFrame'],
    ], results.httpViewer.levels));
  }
}

if (results.secret) {
  const rows = results.secret;
  const plain = (r) => rows.find((o) => o.transport === r.transport && !o.secret);
  out();
  out('## 9. Shared secret: the cost at 640x480, same run');
  out();
  out(`Throughput: the clip at --fps max, pass-through to /dev/null (steady state as in section 1). Latency: the pattern at 30 frames/s for ${SECONDS} s, capture to arrival. Added: the row with a secret against the row without, same transport.`);
  out();
  out(markdownTable([
    ['row', 'label', 'l'],
    ['frames/s', (r) => rate(r.rate)],
    ['throughput lost %', (r) => (r.secret && rate(r.rate) && rate(plain(r)?.rate) ? (1 - rate(r.rate) / rate(plain(r).rate)) * 100 : null)],
    ['latency p50 ms', (r) => r.latency?.arrival?.p50 ?? null],
    ['latency p99 ms', (r) => r.latency?.arrival?.p99 ?? null],
    ['p50 added ms', (r) => (r.secret && r.latency?.arrival && plain(r)?.latency?.arrival ? r.latency.arrival.p50 - plain(r).latency.arrival.p50 : null)],
    ['note', (r) => r.skipped ?? why(r.rate) ?? why(r.latency) ?? '', 'l'],
  ], rows));
  for (const row of rows.filter((r) => r.secret && !r.skipped)) {
    const base = plain(row);
    if (rate(row.rate) && rate(base?.rate)) targets.push({ target: `${row.transport.toUpperCase()} throughput lost to the secret at 640x480`, value: (1 - rate(row.rate) / rate(base.rate)) * 100, unit: '%', goal: 'under 10 %', met: (v) => v < 10 });
    if (row.latency?.arrival && base?.latency?.arrival) targets.push({ target: `${row.transport.toUpperCase()} p50 latency added by the secret at 640x480`, value: row.latency.arrival.p50 - base.latency.arrival.p50, unit: 'ms', goal: 'under 1 ms', met: (v) => v < 1 });
  }
}

if (targets.length) {
  results.targets = targets.map(({ met, ...t }) => ({ ...t, met: Number.isFinite(t.value) ? met(t.value) : null }));
  out();
  out('## Performance goals, from the figures above');
  out();
  out(markdownTable([
    ['target', 'target', 'l'],
    ['measured', (r) => (Number.isFinite(r.value) ? `${fmt(r.value)}${r.unit ? ` ${r.unit}` : ''}` : 'not measured')],
    ['goal', 'goal'],
    ['met', (r) => (r.met === null ? '-' : r.met ? 'yes' : 'no'), 'l'],
  ], results.targets));
}

results.elapsedSeconds = elapsed();
const dir = fileURLToPath(new URL('./results/', import.meta.url));
await mkdir(dir, { recursive: true });
const file = `${dir}${results.startedAt.replace(/[:.]/g, '-')}.json`;
await writeFile(file, `${JSON.stringify(results, null, 2)}\n`);
out();
out(`elapsed: ${elapsed().toFixed(0)} s; JSON: ${file}`);
