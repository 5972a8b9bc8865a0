// Process helpers for the bench modules: spawn and wait for a line, a free port, memory and CPU
// read from /proc (Linux), and the one way every throughput row is timed.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { median } from './table.mjs';

const root = fileURLToPath(new URL('../', import.meta.url));
export let vstreamBin = path.join(root, 'bin/vstream.js');

/** argv for `node bin/vstream.js ...` (the snapshot's, once snapshotBuild() made one). */
export const vstream = (...args) => [process.execPath, [vstreamBin, ...args]];

/**
 * Copies bin/, dist/, package.json and the built libjpeg-turbo addon (native/jpeg/build, which
 * dist/ finds by relative path) to a temporary directory (node_modules linked) and makes
 * vstream() run that copy, so that a rebuild of dist/ while the bench runs (other work on the
 * same checkout) cannot change or break the program being measured half-way. Returns
 * { dir, remove }.
 */
export async function snapshotBuild() {
  const dir = await mkdtemp(path.join(tmpdir(), 'vstream-bench-build-'));
  for (const entry of ['bin', 'dist', 'package.json', 'native/jpeg/build']) {
    if (existsSync(path.join(root, entry))) await cp(path.join(root, entry), path.join(dir, entry), { recursive: true });
  }
  await symlink(path.join(root, 'node_modules'), path.join(dir, 'node_modules'), 'dir');
  vstreamBin = path.join(dir, 'bin/vstream.js');
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/**
 * Spawns `command args`, collecting stdout and stderr as text (stdout only when `stdout` is
 * 'pipe', the default; 'handover' leaves child.stdout unread, to be another process's stdin).
 * `exited` resolves with { code, signal, at } where `at` is the performance.now() of the exit;
 * `waitFor(re)` resolves with the first match of `re` in the collected stderr (or stdout), and
 * rejects if the process ends first or after `timeoutMs`.
 */
export function start(command, args, { stdin = 'ignore', stdout = 'pipe', extra = [], env } = {}) {
  const handover = stdout === 'handover';
  const child = spawn(command, args, { stdio: [stdin, handover ? 'pipe' : stdout, 'pipe', ...extra], ...(env && { env }) });
  const p = { child, pid: child.pid, out: '', err: '', listeners: new Set() };
  const notify = () => p.listeners.forEach((f) => f());
  if (!handover) child.stdout?.setEncoding('utf8').on('data', (c) => { p.out += c; notify(); });
  child.stderr.setEncoding('utf8').on('data', (c) => { p.err += c; notify(); });
  p.exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    // A handed-over stdout closes when its reader is done, so 'close' may never come: then
    // exit plus the end of stderr is enough.
    const stderrEnded = new Promise((r) => child.stderr.once('close', r));
    child.on('exit', (code, signal) => {
      p.exitAt = performance.now();
      if (handover) {
        stderrEnded.then(() => {
          p.closed = true;
          notify();
          resolve({ code, signal, at: p.exitAt });
        });
      }
    });
    child.on('close', (code, signal) => {
      p.closed = true;
      notify();
      resolve({ code, signal, at: p.exitAt ?? performance.now() });
    });
  });
  p.waitFor = (re, { stream = 'err', timeoutMs = 20_000 } = {}) =>
    new Promise((resolve, reject) => {
      const check = () => {
        const m = re.exec(p[stream]);
        if (m) return done(() => resolve(m));
        if (p.closed) {
          return done(() => reject(new Error(`${command} exited before ${re}: ${p.err.trim().slice(-500)}`)));
        }
      };
      const timer = setTimeout(() => done(() => reject(new Error(`timeout waiting for ${re} from ${command}: ${p.err.trim().slice(-500)}`))), timeoutMs);
      const done = (f) => { clearTimeout(timer); p.listeners.delete(check); f(); };
      p.listeners.add(check);
      check();
    });
  p.kill = (signal = 'SIGTERM') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal); };
  return p;
}

/** Starts `vstream recv ...args --listen 0` and resolves once it listens: { p, port }. */
export async function startReceiver(args, options) {
  const p = start(...vstream('recv', '--listen', '0', ...args), options);
  try {
    const [, port] = await p.waitFor(/listening on port (\d+)/);
    return { p, port: Number(port) };
  } catch (err) {
    p.kill();
    throw err;
  }
}

/** A port that was free a moment ago (for programs that cannot listen on port 0 and say which). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Whether `command` runs (e.g. `has('gst-launch-1.0', ['--version'])`). */
export function has(command, args = ['--version']) {
  const r = spawnSync(command, args, { stdio: 'ignore', timeout: 15_000 });
  return r.status === 0;
}

/** { rssKb, hwmKb } of a live process from /proc/PID/status (VmHWM is the kernel's peak RSS); null once gone. */
export function memoryOf(pid) {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k) => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(s)?.[1]);
    const m = { rssKb: kb('VmRSS'), hwmKb: kb('VmHWM') };
    return Number.isFinite(m.rssKb) ? m : null; // a zombie has no memory lines
  } catch {
    return null;
  }
}

/**
 * Samples a process's memory every `intervalMs` (plus whenever sample() is called, e.g. on its
 * summary line, just before it exits). stop() returns { peakKb, samples: [{ t, rssKb }] } with
 * t in ms from the start; peakKb is the last VmHWM read, so growth after it is missed.
 */
export function watchMemory(pid, intervalMs = 100) {
  const t0 = performance.now();
  const samples = [];
  let peakKb = NaN;
  const sample = () => {
    const m = memoryOf(pid);
    if (!m) return;
    samples.push({ t: performance.now() - t0, rssKb: m.rssKb });
    peakKb = Number.isFinite(peakKb) ? Math.max(peakKb, m.hwmKb) : m.hwmKb;
  };
  sample();
  const timer = setInterval(sample, intervalMs);
  return { sample, stop: () => (clearInterval(timer), { peakKb, samples }) };
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;

/**
 * CPU seconds so far of the whole machine (busy: all of /proc/stat's first line but idle and
 * iowait) and of this process with its reaped descendants (/proc/self/stat utime, stime,
 * cutime, cstime: every program the bench started and waited for, and what they waited for).
 * The difference between two readings, divided by the wall time, is the CPU that other work
 * used meanwhile, in cores.
 */
export function cpuAccount() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  const machine = (f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4]) / TICKS;
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const g = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number); // fields from 3 (state) on
  const own = (g[11] + g[12] + g[13] + g[14]) / TICKS; // fields 14-17
  return { machine, own, at: performance.now() };
}

/** Cores other work used between two cpuAccount() readings (never below 0). */
export function otherCores(a, b) {
  return Math.max(0, (b.machine - a.machine - (b.own - a.own)) / ((b.at - a.at) / 1000));
}

/** The process's and its live descendants' user+system CPU seconds so far (/proc/PID/stat). */
export function cpuSeconds(pid) {
  let total = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields from 3 (state) on
    total += (Number(f[11]) + Number(f[12])) / TICKS; // utime, stime (fields 14, 15)
    for (const child of readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').split(' ').filter(Boolean)) {
      total += cpuSeconds(Number(child));
    }
  } catch {
    // gone
  }
  return total;
}

/**
 * How every throughput row is timed. `once(clip, frames)` runs one complete transfer and returns
 * { seconds, ... }: wall time from starting the sender (the receiver already listening) to the
 * receiver's exit after the last frame. That includes both programs' start-up (0.1 to 0.5 s for
 * Node, Python + OpenCV or gst-launch), which would dominate a short clip, so when `shortClip`
 * (`shortFrames` frames of the same content) is given each run also transfers it and
 *   fps = (frames - shortFrames) / (median seconds(clip) - median seconds(shortClip)),
 * the steady-state rate with start-up and teardown cancelled out; startupMs is what the short
 * run spent beyond its frames at that rate. Without shortClip, fps is the wall rate. wallFps is
 * frames / median seconds(clip) either way; perRun the long runs' wall rates; details and
 * shortSeconds what each long and short run returned (poolRuns combines several calls).
 */
export async function measureRate({ clip, frames, shortClip, shortFrames, runs = 3, once }) {
  const long = [];
  const short = [];
  for (let i = 0; i < runs; i += 1) {
    long.push(await once(clip, frames));
    if (shortClip) short.push(await once(shortClip, shortFrames));
  }
  const tLong = median(long.map((r) => r.seconds));
  const tShort = shortClip ? median(short.map((r) => r.seconds)) : NaN;
  return {
    ...rateFrom({ frames, shortFrames: shortClip ? shortFrames : undefined, tLong, tShort }),
    runs,
    frames,
    shortFrames: shortClip ? shortFrames : null,
    perRun: long.map((r) => frames / r.seconds),
    details: long,
    shortSeconds: short.map((r) => r.seconds),
  };
}

/** measureRate's arithmetic from the median times of the long and the short transfers. */
function rateFrom({ frames, shortFrames, tLong, tShort }) {
  const hasShort = shortFrames !== undefined && shortFrames !== null;
  const steady = (frames - shortFrames) / (tLong - tShort);
  return {
    fps: hasShort ? (steady > 0 ? steady : NaN) : frames / tLong,
    timed: hasShort ? `steady state: ${frames} minus ${shortFrames} frames` : `wall, ${frames} frames, start-up included`,
    wallFps: frames / tLong,
    startupMs: hasShort && steady > 0 ? 1000 * (tShort - shortFrames / steady) : null,
  };
}

/**
 * Pools results of the same measurement made several times with runs: 1 into one result, as if
 * one call had made all the runs: the measureRate timing from the median long and short times
 * of all of them, every other numeric field (peakRssMb, dropped, msPerCall, ...) as the median
 * over the calls. This lets a driver interleave rows (run 1 of every row, then run 2, ...), so
 * that a burst of outside load spoils one run of each row, which the medians reject, instead of
 * every run of one row. Calls that failed ({ error }) are left out and counted in failedRuns;
 * { skipped } results pass through.
 */
export function poolRuns(parts) {
  const ok = parts.filter((p) => p && !p.skipped && !p.error);
  if (ok.length === 0) return parts.find((p) => p?.skipped) ?? parts[parts.length - 1];
  const pooled = { ...ok[0] };
  for (const [key, value] of Object.entries(pooled)) if (typeof value === 'number') pooled[key] = median(ok.map((p) => p[key]));
  if (ok.every((p) => Array.isArray(p.details))) {
    const details = ok.flatMap((p) => p.details);
    const shortSeconds = ok.flatMap((p) => p.shortSeconds ?? []);
    const { frames, shortFrames } = ok[0];
    Object.assign(pooled, rateFrom({ frames, shortFrames, tLong: median(details.map((d) => d.seconds)), tShort: median(shortSeconds) }), {
      perRun: ok.flatMap((p) => p.perRun),
      details,
      shortSeconds,
    });
  }
  pooled.runs = ok.length;
  const failed = parts.filter((p) => p?.error);
  if (failed.length) Object.assign(pooled, { failedRuns: failed.length, firstFailure: failed[0].error });
  return pooled;
}
