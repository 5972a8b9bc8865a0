// Latency of a live source: `send --pattern --fps 30` into a headless `recv --json`, from the
// capture time vstream carries in every frame. Sender and receiver share one clock here.
import { spawnSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { percentile } from '../../tools/table.mjs';
import { startReceiver, start, vstream } from '../../tools/proc.mjs';
import { cliHas } from './vstream-rates.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** { p50, p99, max, n } of a list of milliseconds. */
const stats = (ms) => ({ p50: percentile(ms, 50), p99: percentile(ms, 99), max: percentile(ms, 100), n: ms.length });

/**
 * Runs the pattern at `fps` for `seconds` (after the first frame) into `recv --no-window --json
 * --output /dev/null` and returns percentiles of `latencyMs`, leaving out the first
 * `warmupSeconds`. What that measures: from the moment the sender's Node process took the
 * complete frame from ffmpeg's stdout (raw with the libjpeg-turbo addon, whose encode is then
 * included; a JPEG when ffmpeg encodes, whose encode is not) to the moment the receiver's Node process had the whole frame parsed (before any
 * sink; no decode). With `decoded: true` and a recv that has --format, a second run uses
 * `--format rgb24 --size WxH --output FIFO` next to --json, and times each frame's last pixel
 * byte read from the FIFO by this process (same clock) against that frame's captureTime:
 * capture to decoded pixels in the hands of a reader.
 */
export async function latency({ size = '640x480', fps = 30, seconds = 10, warmupSeconds = 1, transport = 'tcp', decoded = true, extra = [] }) {
  const udp = transport === 'udp' ? ['--udp'] : [];
  const arrival = await run({ size, fps, seconds, warmupSeconds, udp, sink: ['--output', '/dev/null'], extra });
  const result = {
    arrival: { ...stats(arrival.map((f) => f.latencyMs)), measured: 'capture (JPEG out of ffmpeg, sender) to arrival (frame parsed, receiver); no decode' },
    size,
    fps,
    seconds,
    transport,
  };
  if (decoded) {
    if (!cliHas('recv', '--format')) {
      result.decoded = { skipped: 'recv has no --format yet: capture-to-decoded not measured' };
    } else {
      const [width, height] = size.split('x').map(Number);
      const frameBytes = width * height * 3;
      const pixelTimes = [];
      let pending = 0;
      const onPixels = (chunk) => {
        pending += chunk.length;
        while (pending >= frameBytes) {
          pending -= frameBytes;
          pixelTimes.push(performance.timeOrigin + performance.now());
        }
      };
      // A named pipe: Node's 'pipe' stdio is a socket, which /dev/fd/N cannot open.
      const dir = await mkdtemp(path.join(tmpdir(), 'vstream-latency-'));
      const fifo = path.join(dir, 'pixels');
      spawnSync('mkfifo', [fifo]);
      createReadStream(fifo, { highWaterMark: 1 << 20 }).on('data', onPixels);
      const sink = ['--format', 'rgb24', '--size', size, '--output', fifo];
      const frames = await run({ size, fps, seconds, warmupSeconds: 0, udp, sink, extra });
      await rm(dir, { recursive: true, force: true });
      const t0 = frames[0]?.receivedAt + warmupSeconds * 1000;
      const ms = frames.flatMap((f, i) => (i < pixelTimes.length && f.receivedAt >= t0 ? [pixelTimes[i] - f.captureTime] : []));
      result.decoded = {
        ...stats(ms),
        // Frames written must pair one to one with JSON lines for the figure to mean anything.
        paired: frames.length === pixelTimes.length,
        measured: 'capture (JPEG out of ffmpeg, sender) to the last byte of its rgb24 pixels read from recv --output FIFO by this process',
      };
    }
  }
  return result;
}

/** One run: the receiver's JSON records after the warm-up. */
async function run({ size, fps, seconds, warmupSeconds, udp, sink, extra = [] }) {
  const { p: recv, port } = await startReceiver(['--no-window', ...udp, '--json', ...sink, ...extra]);
  const send = start(...vstream('send', '--pattern', '--fps', String(fps), '--size', size, ...udp, '--to', `127.0.0.1:${port}`, '--quiet', ...extra));
  await recv.waitFor(/\n/, { stream: 'out' });
  await sleep(seconds * 1000);
  send.kill('SIGINT');
  await send.exited;
  await sleep(200);
  recv.kill('SIGINT');
  const { code } = await recv.exited;
  if (code !== 0 && code !== 130) throw new Error(`recv failed (${code}): ${recv.err}`);
  const frames = recv.out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
  if (frames.length === 0) throw new Error(`no frames received: ${recv.err}${send.err}`);
  const t0 = frames[0].receivedAt + warmupSeconds * 1000;
  return warmupSeconds > 0 ? frames.filter((f) => f.receivedAt >= t0) : frames;
}
