// Receiver memory under three loads: 8 live senders, a flood sender, and a sink slower than
// the network. Nothing is asserted: peak RSS, and whether RSS stopped growing.
import { startReceiver, start, vstream, watchMemory } from '../../tools/proc.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reads 64 KB from stdin every 50 ms (1.3 MB/s): the slow consumer of `recv --output -`. */
const SLOW_READER = `
const fs = require('fs');
const buf = Buffer.alloc(65536);
setInterval(() => {
  try { if (fs.readSync(0, buf, 0, buf.length, null) === 0) process.exit(0); }
  catch (e) { if (e.code !== 'EAGAIN') process.exit(0); }
}, 50);`;

/**
 * Each scenario runs `seconds` after the receiver's first frame, sampling the receiver's RSS
 * every 250 ms: peakRssMb is VmHWM (the kernel's peak) at the end, firstHalfMaxMb and
 * secondHalfMaxMb the largest sample in each half; stabilised means the second half's max is
 * within 10 % (and 2 MB) of the first half's. Also the frames the receiver got and counted as
 * dropped (its summary: the whole run, including what the senders drained after being
 * stopped), how many the senders sent and dropped, and the capture-to-
 * arrival latency p50 of the receiver's first and last `--stats` round (worst sender): a queue
 * shows up there even when it is not in the receiver's memory (e.g. in socket buffers).
 *  - idle: the receiver with no sender (peakRssMb only), the baseline of the others
 *  - senders8: 8 x `send --pattern --fps 30 --size SIZE` into `recv --output /dev/null`
 *  - flood: `send --file CLIP --fps max --loop` into `recv --output /dev/null`
 *  - slowSink: the same flood into `recv --output -` piped to a reader taking 64 KB per 50 ms
 *    (a file is not live: its sender may slow down instead of dropping)
 *  - slowSinkLive: 4 live pattern senders (about 2.5 MB/s at 640x480) into that slow reader:
 *    here frames must be dropped somewhere, the counts say where
 */
export async function memory({ clip, seconds = 5, size = '640x480', senders = 8 }) {
  const pattern = (i) => ['send', '--pattern', '--fps', '30', '--size', size, '--label', `s${i}`];
  const flood = ['send', '--file', clip, '--fps', 'max', '--loop'];
  return {
    idle: await idle(),
    senders8: await scenario({ seconds, recvArgs: ['--output', '/dev/null'], sends: Array.from({ length: senders }, (_, i) => pattern(i)) }),
    flood: await scenario({ seconds, recvArgs: ['--output', '/dev/null'], sends: [flood] }),
    slowSink: await scenario({ seconds, recvArgs: ['--output', '-'], sends: [flood], slowReader: true }),
    slowSinkLive: await scenario({ seconds, recvArgs: ['--output', '-'], sends: [0, 1, 2, 3].map(pattern), slowReader: true }),
  };
}

/** The receiver listening, no sender, after 1 s: the RSS of Node plus vstream before any frame. */
async function idle() {
  const { p: recv } = await startReceiver(['--no-window', '--output', '/dev/null']);
  try {
    await sleep(1000);
    const mem = watchMemory(recv.pid);
    return { peakRssMb: mem.stop().peakKb / 1024 };
  } finally {
    recv.kill('SIGINT');
    await recv.exited;
  }
}

async function scenario({ seconds, recvArgs, sends, slowReader = false }) {
  const { p: recv, port } = await startReceiver(['--no-window', '--stats', ...recvArgs], { stdout: slowReader ? 'handover' : 'ignore' });
  const reader = slowReader && start(process.execPath, ['-e', SLOW_READER], { stdin: recv.child.stdout, stdout: 'ignore' });
  const senders = sends.map((args) => start(...vstream(...args, '--to', `127.0.0.1:${port}`)));
  let mem;
  try {
    await recv.waitFor(new RegExp(`(connected[^]*){${sends.length}}`), { timeoutMs: 30_000 });
    await sleep(250); // first frames
    mem = watchMemory(recv.pid, 250);
    await sleep(seconds * 1000);
    mem.sample();
    const { peakKb, samples } = mem.stop();
    const half = seconds * 500;
    const max = (xs) => Math.max(...xs.map((s) => s.rssKb)) / 1024;
    const first = max(samples.filter((s) => s.t < half));
    const second = max(samples.filter((s) => s.t >= half));
    // --stats prints one line per sender per second: the first and last round's worst p50.
    const p50s = [...recv.err.matchAll(/latency p50 ([\d.]+) ms/g)].map((m) => Number(m[1]));
    const worst = (xs) => (xs.length ? Math.max(...xs) : null);
    // A sender stopped with SIGINT first drains what its socket holds: with a slow sink that
    // takes seconds, so it gets 10 s before being killed (and then reports nothing).
    senders.forEach((s) => s.kill('SIGINT'));
    await Promise.race([Promise.all(senders.map((s) => s.exited)), sleep(10_000)]);
    senders.forEach((s) => s.kill('SIGKILL'));
    recv.kill('SIGINT');
    await recv.exited;
    if (reader) reader.kill();
    const sent = senders.map((s) => /sent (\d+) frames.*?, (\d+) dropped/.exec(s.err)).filter(Boolean);
    return {
      peakRssMb: peakKb / 1024,
      firstHalfMaxMb: first,
      secondHalfMaxMb: second,
      stabilised: second <= Math.max(first * 1.1, first + 2),
      latencyP50Ms: { first: worst(p50s.slice(0, sends.length)), last: worst(p50s.slice(-sends.length)) },
      received: Number(/received (\d+) frames/.exec(recv.err)?.[1]),
      receiverDropped: Number(/sender[s]?, (\d+) dropped/.exec(recv.err)?.[1]),
      ...(sent.length && { sent: sent.reduce((a, m) => a + Number(m[1]), 0), senderDropped: sent.reduce((a, m) => a + Number(m[2]), 0) }),
      samples: samples.length,
    };
  } finally {
    mem?.stop();
    senders.forEach((s) => s.kill('SIGKILL'));
    recv.kill('SIGKILL');
    if (reader) reader.kill('SIGKILL');
  }
}
