// How many live 30 frames/s senders one headless receiver keeps up with.
import { readFileSync } from 'node:fs';
import { cpuSeconds, startReceiver, start, vstream, watchMemory } from '../../tools/proc.mjs';
import { median, percentile } from '../../tools/table.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now(); // the clock of receivedAt

/** Busy and total jiffies of the whole machine (/proc/stat), to see whether all cores were busy. */
function machineTicks() {
  const [, ...f] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3] - f[4], total }; // minus idle and iowait
}

/**
 * For each N in `levels` (up to maxSenders): one `recv --no-window --json --output /dev/null`,
 * N `send --pattern --fps FPS --size SIZE` processes (each with its own ffmpeg), `seconds`
 * measured after all N deliver and a 1 s warm-up. Per level: per-stream received fps, drops
 * (gaps in `seq`, which senders number by capture, so frames a sender dropped count too),
 * latency (latency.mjs says what it measures) over the window and in each half, the CPU used
 * by the senders (node + ffmpeg) and by the receiver, in cores, and how busy the whole machine
 * was; and over the whole run the frames the senders sent and dropped at their source and the
 * frames the receiver dropped (wholeRun). A level keeps up when drops < 1 % and p99 latency did not grow (second half <= 1.5 x
 * first half + 5 ms). maxKeepingUp is the largest N that kept up with every smaller N keeping
 * up too.
 */
export async function manyStreams({ maxSenders = 16, levels = [1, 2, 4, 8, 12, 16], size = '640x480', fps = 30, seconds = 5, stopOnFailure = false }) {
  const results = [];
  for (const n of levels.filter((l) => l <= maxSenders)) {
    const r = await level({ n, size, fps, seconds });
    results.push(r);
    if (stopOnFailure && !r.keepsUp) break;
  }
  const firstFail = results.findIndex((r) => !r.keepsUp);
  const ok = firstFail === -1 ? results : results.slice(0, firstFail);
  return {
    levels: results,
    maxKeepingUp: ok.length ? ok[ok.length - 1].n : 0,
    note: 'each sender runs its own ffmpeg (testsrc2 + MJPEG encode) on the same machine: when machineBusy is near 1 the senders, not the receiver, may be the limit',
  };
}

async function level({ n, size, fps, seconds }) {
  const { p: recv, port } = await startReceiver(['--no-window', '--json', '--output', '/dev/null']);
  const mem = watchMemory(recv.pid, 250);
  const senders = Array.from({ length: n }, (_, i) =>
    start(...vstream('send', '--pattern', '--fps', String(fps), '--size', size, '--label', `s${i}`, '--to', `127.0.0.1:${port}`)),
  );
  let result;
  try {
    for (let i = 0; i < n; i += 1) await recv.waitFor(new RegExp(`"sender":"s${i}"`), { stream: 'out', timeoutMs: 30_000 });
    await sleep(1000);
    const cpu0 = { senders: senders.map((s) => cpuSeconds(s.pid)), recv: cpuSeconds(recv.pid), machine: machineTicks() };
    const t0 = now();
    await sleep(seconds * 1000);
    const t1 = now();
    const cpu1 = { senders: senders.map((s) => cpuSeconds(s.pid)), recv: cpuSeconds(recv.pid), machine: machineTicks() };
    const window = recv.out.split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((f) => f.receivedAt >= t0 && f.receivedAt < t1);

    const streams = new Map();
    for (const f of window) {
      const s = streams.get(f.sender) ?? { received: 0, first: f.seq, last: f.seq };
      s.received += 1;
      s.first = Math.min(s.first, f.seq);
      s.last = Math.max(s.last, f.seq);
      streams.set(f.sender, s);
    }
    const expected = [...streams.values()].reduce((a, s) => a + s.last - s.first + 1, 0);
    const received = window.length;
    const half = (t0 + t1) / 2;
    const lat = (fs) => ({ p50: percentile(fs.map((f) => f.latencyMs), 50), p99: percentile(fs.map((f) => f.latencyMs), 99) });
    const firstHalf = lat(window.filter((f) => f.receivedAt < half));
    const secondHalf = lat(window.filter((f) => f.receivedAt >= half));
    const dropPct = expected ? (100 * (expected - received)) / expected : 100;
    const growing = !(secondHalf.p99 <= 1.5 * firstHalf.p99 + 5);
    const perStream = [...streams.values()].map((s) => s.received / seconds);
    const senderCpu = cpu1.senders.reduce((a, c, i) => a + c - cpu0.senders[i], 0) / seconds;
    result = {
      n,
      streamsSeen: streams.size,
      perStreamFps: { min: streams.size === n ? Math.min(...perStream) : 0, median: median(perStream) },
      dropPct,
      latencyMs: { ...lat(window), firstHalf, secondHalf },
      growing,
      keepsUp: streams.size === n && dropPct < 1 && !growing,
      senderCpuCores: senderCpu,
      senderCpuPerStream: senderCpu / n,
      receiverCpuCores: (cpu1.recv - cpu0.recv) / seconds,
      machineBusy: (cpu1.machine.busy - cpu0.machine.busy) / (cpu1.machine.total - cpu0.machine.total),
      receiverPeakRssMb: mem.stop().peakKb / 1024,
    };
  } finally {
    mem.stop();
    senders.forEach((s) => s.kill('SIGINT'));
    await Promise.all(senders.map((s) => s.exited));
    recv.kill('SIGINT');
    await recv.exited;
  }
  // Where the missing frames went, over the whole run (warm-up included): the senders' summaries
  // count the frames their own source dropped because the sender did not take them in time
  // (a CPU-starved sender), the receiver's the frames it replaced for a slow sink.
  const sent = senders.map((s) => /sent (\d+) frames.*?, (\d+) dropped/.exec(s.err)).filter(Boolean);
  const total = (i) => sent.reduce((a, m) => a + Number(m[i]), 0);
  return {
    ...result,
    wholeRun: {
      sent: total(1),
      senderDropped: total(2),
      sendersReporting: sent.length,
      received: Number(/received (\d+) frames/.exec(recv.err)?.[1]),
      receiverDropped: Number(/sender[s]?, (\d+) dropped/.exec(recv.err)?.[1]),
    },
  };
}
