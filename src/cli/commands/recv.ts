import { Command, Option } from 'commander';
import { UsageError, DisplayError, OutputError } from '../../errors.js';
import { FrameReceiver } from '../../transport/tcp-receiver.js';
import type { Receiver } from '../../transport/types.js';
import { formatAddress, parsePort } from '../../transport/address.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../reassemble/parser.js';
import { StreamStats } from '../../sink/stream-stats.js';
import { MjpegOutputSink } from '../../sink/mjpeg-output.js';
import { SaveDirSink } from '../../sink/save-dir.js';
import { JsonLinesSink } from '../../sink/json-lines.js';
import { startStatsReport, type SenderStats } from '../../sink/stats-report.js';
import type { FrameSink } from '../../sink/types.js';
import { WindowSink } from '../../sink/window.js';
import { parseBytes, parseIntInRange } from '../parse.js';
import { runUntilSignal } from '../signals.js';
import { formatRate } from '../format.js';
import { warn } from '../handle-error.js';

export interface RecvSettings {
  port: number;
  bind?: string;
  maxFrameBytes: number;
  ack?: string;
  window: 'auto' | 'off';
  output?: string;
  saveDir?: string;
  json: boolean;
  frames?: number;
  stats: boolean;
  quiet: boolean;
}

interface RawRecvOptions {
  listen: string;
  bind?: string;
  maxFrameBytes?: string;
  ack?: string | true;
  window: boolean;
  output?: string;
  saveDir?: string;
  json?: boolean;
  frames?: string;
  stats?: boolean;
  quiet?: boolean;
}

export const DEFAULT_PORT = 8088;
export const DEFAULT_ACK = 'OK';

export function recvSettings(raw: RawRecvOptions): RecvSettings {
  if (raw.json && raw.output === '-') {
    throw new UsageError('--json and --output - both write to standard output: write the frames to a file instead');
  }
  // A sender waiting for a reply would wait forever for an empty one.
  if (raw.ack === '') throw new UsageError('--ack TEXT must not be empty');
  return {
    port: parsePort(raw.listen, { allowZero: true }),
    ...(raw.bind !== undefined && { bind: raw.bind }),
    maxFrameBytes: raw.maxFrameBytes !== undefined ? parseBytes('--max-frame-bytes', raw.maxFrameBytes) : DEFAULT_MAX_FRAME_BYTES,
    ...(raw.ack !== undefined && { ack: raw.ack === true ? DEFAULT_ACK : raw.ack }),
    window: raw.window ? 'auto' : 'off',
    ...(raw.output !== undefined && { output: raw.output }),
    ...(raw.saveDir !== undefined && { saveDir: raw.saveDir }),
    json: raw.json ?? false,
    ...(raw.frames !== undefined && { frames: parseIntInRange('--frames', raw.frames, 1, Number.MAX_SAFE_INTEGER) }),
    stats: raw.stats ?? false,
    quiet: raw.quiet ?? false,
  };
}

export function recvCommand(): Command {
  return new Command('recv')
    .description('receive frames and show them in a window, or write them to files or stdout')
    .option('--listen <port>', 'TCP port to listen on, IPv4 and IPv6', String(DEFAULT_PORT))
    .option('--bind <addr>', 'listen on this address only (e.g. 127.0.0.1 or ::1)')
    .option('--max-frame-bytes <n>', `largest frame accepted (default ${DEFAULT_MAX_FRAME_BYTES / 2 ** 20}M)`)
    .addOption(new Option('--ack [text]', `reply TEXT after each frame (default "${DEFAULT_ACK}")`))
    .option('--no-window', 'do not open a window')
    .option('--output <file|->', 'write frames as MJPEG to a file, or - for stdout')
    .option('--save-dir <dir>', 'save one JPEG per frame in this folder')
    .option('--json', 'print one JSON line per frame on stdout')
    .option('--frames <n>', 'exit after this many frames')
    .option('--stats', 'print one summary line per sender per second on stderr')
    .option('-q, --quiet', 'no connection messages or summary on stderr')
    .action(async (raw: RawRecvOptions) => {
      process.exitCode = await runRecv(recvSettings(raw));
    });
}

function hasDisplay(): boolean {
  if (process.platform !== 'linux') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

async function openSinks(settings: RecvSettings): Promise<{ sinks: FrameSink[]; window?: WindowSink }> {
  const sinks: FrameSink[] = [];
  if (settings.output !== undefined) sinks.push(await MjpegOutputSink.open(settings.output));
  if (settings.saveDir !== undefined) sinks.push(await SaveDirSink.open(settings.saveDir));
  if (settings.json) sinks.push(new JsonLinesSink());
  const headless = sinks.length > 0;
  if (settings.window === 'off' || (headless && !hasDisplay())) return { sinks };
  try {
    const window = await WindowSink.open();
    return { sinks, window };
  } catch (err) {
    if (!(err instanceof DisplayError) || !headless) throw err;
    warn(`${err.message}; going on without a window`);
    return { sinks };
  }
}

/** The transport's receiver for these settings. */
function openReceiver(settings: RecvSettings): Promise<Receiver> {
  return FrameReceiver.listen({
    port: settings.port,
    maxFrameBytes: settings.maxFrameBytes,
    ...(settings.bind !== undefined && { host: settings.bind }),
    // The reply tells a stop-and-wait sender that the frame is safely through the sinks.
    ...(settings.ack !== undefined && { ack: settings.ack, ackWhen: 'manual' as const }),
  });
}

/** Runs `vstream recv`; returns the exit code. */
export async function runRecv(settings: RecvSettings): Promise<number> {
  const { sinks, window } = await openSinks(settings);
  const log = (line: string) => settings.quiet || process.stderr.write(`vstream: ${line}\n`);
  let receiver: Receiver;
  try {
    receiver = await openReceiver(settings);
  } catch (err) {
    await Promise.all(sinks.map((s) => s.close()));
    await window?.close();
    throw err;
  }
  const senders = new Map<number, SenderStats>();
  log(settings.bind ? `listening on ${formatAddress(settings.bind, receiver.port)}` : `listening on port ${receiver.port} (IPv4 and IPv6)`);
  receiver.on('connection', ({ peer }) => log(`${peer} connected`));
  let shuttingDown = false;
  receiver.on('disconnect', ({ connectionId, peer, frames, error }) => {
    // Connections this process closes on its way out are not news.
    if (shuttingDown) return;
    const entry = senders.get(connectionId);
    if (entry) entry.connected = false;
    const name = entry?.sender ?? peer;
    const who = name === peer ? peer : `${name} (${peer})`;
    if (error) warn(`${who}: ${error.message} (${error.code}); connection closed after ${frames} frames`);
    else log(`${who} disconnected after ${frames} frames`);
    for (const sink of sinks) sink.senderGone?.(connectionId);
    window?.senderGone(connectionId);
  });
  const stopReport = settings.stats ? startStatsReport(() => senders.values()) : () => {};
  void window?.quit.then(() => receiver.close());
  const started = performance.now();
  let total = 0;
  let outputClosed = false;
  let interrupted = false;
  try {
    interrupted = await runUntilSignal(async () => {
      for await (const frame of receiver) {
        let entry = senders.get(frame.connectionId);
        if (!entry) {
          entry = { sender: frame.sender, stats: new StreamStats(), connected: true };
          senders.set(frame.connectionId, entry);
        }
        entry.sender = frame.sender;
        entry.stats.record(frame);
        total += 1;
        window?.show(frame, entry.stats);
        for (const sink of sinks) await sink.write(frame, entry.stats);
        receiver.acknowledge(frame);
        if (settings.frames !== undefined && total >= settings.frames) break;
      }
    }, () => receiver.close());
  } catch (err) {
    // A reader that went away (`recv --output - | head`) is a normal way for a pipeline to end.
    if (!(err instanceof OutputError && err.code === 'ERR_OUTPUT_CLOSED')) throw err;
    outputClosed = true;
  } finally {
    shuttingDown = true;
    stopReport();
    await receiver.close();
    await Promise.all(sinks.map((s) => s.close()));
    await window?.close();
  }
  if (!settings.quiet) {
    const seconds = (performance.now() - started) / 1000;
    let bytes = 0;
    let dropped = 0;
    for (const { stats } of senders.values()) {
      bytes += stats.bytes;
      dropped += stats.dropped;
    }
    log(
      `received ${total} frames (${formatRate(bytes, total, seconds)}) from ${senders.size} sender${senders.size === 1 ? '' : 's'}, ${dropped} dropped${outputClosed ? '; output closed by the reader' : ''}`,
    );
  }
  return interrupted ? 130 : 0;
}
