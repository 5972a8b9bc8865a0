import { Command, Option } from 'commander';
import { UsageError, DisplayError, OutputError } from '../../errors.js';
import { FrameReceiver, DEFAULT_MAX_CONNECTIONS, DEFAULT_IDLE_TIMEOUT_MS } from '../../transport/tcp-receiver.js';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../transport/memory-budget.js';
import { UdpFrameReceiver } from '../../transport/udp-receiver.js';
import { LegacyUdpReceiver } from '../../transport/udp-legacy-receiver.js';
import { DEFAULT_RECV_BUFFER_BYTES } from '../../transport/udp-socket.js';
import { DEFAULT_MAX_AGE_MS } from '../../reassemble/udp-reassembler.js';
import type { Receiver } from '../../transport/types.js';
import { formatAddress, parsePort } from '../../transport/address.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../reassemble/parser.js';
import { MjpegOutputSink } from '../../sink/mjpeg-output.js';
import { RawOutputSink } from '../../sink/raw-output.js';
import { PIXEL_FORMATS, type PixelFormat } from '../../decode/pixels.js';
import { MAX_DECODE_PIXELS } from '../../decode/turbo.js';
import type { Size } from '../../frame/frame.js';
import { SaveDirSink } from '../../sink/save-dir.js';
import { JsonLinesSink } from '../../sink/json-lines.js';
import { lossText, startStatsReport } from '../../sink/stats-report.js';
import type { FrameSink } from '../../sink/types.js';
import { SinkSet } from '../../sink/sink-set.js';
import { DEFAULT_MAX_WINDOWS, WindowSink } from '../../sink/window/window-sink.js';
import { parseBytes, parseIntInRange, parseSize } from '../parse.js';
import { finishedBeforeAbort, runUntilSignal, signalExitCode, type StopSignal } from '../signals.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { SenderBook } from '../sender-book.js';
import { wireText } from '../../text/wire-text.js';
import type { ProblemReporter } from '../../problems.js';
import { formatBytes, formatRate } from '../format.js';
import { warn } from '../handle-error.js';

export interface RecvSettings {
  port: number;
  bind?: string;
  transport: 'tcp' | 'udp' | 'udp-legacy';
  /** Unset: the transport's default (64M; 16M for legacy UDP). */
  maxFrameBytes?: number;
  /** UDP: an incomplete frame is dropped after this many ms. Unset: the transport's default. */
  maxAgeMs?: number;
  /** UDP: socket receive buffer to ask for. */
  recvBuffer?: number;
  /** Bytes of partial and queued frames over all senders. Unset: the receiver's default. */
  maxBufferedBytes?: number;
  /** TCP: connections open at once. Unset: the receiver's default. */
  maxConnections?: number;
  /** TCP: close a connection that completes no frame for this long. Unset: the receiver's default. */
  idleTimeoutMs?: number;
  ack?: string;
  window: 'auto' | 'off';
  /** SDL windows open at once. */
  maxWindows: number;
  output?: string;
  /** What `--output` writes: JPEGs as sent, or decoded pixels. */
  format: 'jpeg' | PixelFormat;
  /** With a pixel format: the size every frame is scaled to (default: the first decoded frame's). */
  size?: Size;
  /** Decoding sinks drop frames whose header claims more pixels. Unset: `MAX_DECODE_PIXELS`. */
  maxPixels?: number;
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
  maxWindows?: string;
  output?: string;
  format?: string;
  size?: string;
  maxPixels?: string;
  saveDir?: string;
  json?: boolean;
  frames?: string;
  stats?: boolean;
  quiet?: boolean;
  udp?: boolean;
  legacy?: boolean;
  maxAge?: string;
  recvBuffer?: string;
  maxBufferedBytes?: string;
  maxConnections?: string;
  idleTimeout?: string;
}

export const DEFAULT_PORT = 8088;
export const DEFAULT_ACK = 'OK';

export function recvSettings(raw: RawRecvOptions): RecvSettings {
  if (raw.json && raw.output === '-') {
    throw new UsageError('--json and --output - both write to standard output: write the frames to a file instead');
  }
  // A sender waiting for a reply would wait forever for an empty one.
  if (raw.ack === '') throw new UsageError('--ack TEXT must not be empty');
  if (!raw.udp) {
    const udpOnly = [raw.legacy && '--legacy', raw.maxAge !== undefined && '--max-age', raw.recvBuffer !== undefined && '--recv-buffer'].filter(Boolean);
    if (udpOnly.length > 0) throw new UsageError(`${udpOnly.join(' and ')} need${udpOnly.length > 1 ? '' : 's'} --udp`);
  }
  if (raw.legacy && raw.recvBuffer !== undefined) throw new UsageError('--recv-buffer does not apply to --legacy');
  const format = raw.format ?? 'jpeg';
  if (format !== 'jpeg' && !(PIXEL_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(`invalid --format "${format}": expected jpeg, ${PIXEL_FORMATS.join(', ')}`);
  }
  if (format !== 'jpeg' && raw.output === undefined) throw new UsageError(`--format ${format} needs --output FILE or --output -`);
  if (raw.size !== undefined && format === 'jpeg') throw new UsageError('--size applies to the pixel formats (--format rgb24, bgr24, gray)');
  return {
    port: parsePort(raw.listen, { allowZero: true }),
    ...(raw.bind !== undefined && { bind: raw.bind }),
    transport: raw.udp ? (raw.legacy ? 'udp-legacy' : 'udp') : 'tcp',
    ...(raw.maxFrameBytes !== undefined && { maxFrameBytes: parseBytes('--max-frame-bytes', raw.maxFrameBytes) }),
    ...(raw.maxAge !== undefined && { maxAgeMs: parseIntInRange('--max-age', raw.maxAge, 1, 60_000) }),
    ...(raw.recvBuffer !== undefined && { recvBuffer: parseBytes('--recv-buffer', raw.recvBuffer) }),
    ...(raw.maxBufferedBytes !== undefined && { maxBufferedBytes: parseBytes('--max-buffered-bytes', raw.maxBufferedBytes) }),
    ...(raw.maxConnections !== undefined && { maxConnections: parseIntInRange('--max-connections', raw.maxConnections, 1, 1_000_000) }),
    ...(raw.idleTimeout !== undefined && { idleTimeoutMs: parseIntInRange('--idle-timeout', raw.idleTimeout, 1, 86_400) * 1000 }),
    ...(raw.ack !== undefined && { ack: raw.ack === true ? DEFAULT_ACK : raw.ack }),
    window: raw.window ? 'auto' : 'off',
    maxWindows: raw.maxWindows === undefined ? DEFAULT_MAX_WINDOWS : parseIntInRange('--max-windows', raw.maxWindows, 1, 1000),
    ...(raw.output !== undefined && { output: raw.output }),
    format: format as RecvSettings['format'],
    ...(raw.size !== undefined && { size: parseSize(raw.size) }),
    ...(raw.maxPixels !== undefined && { maxPixels: parseBytes('--max-pixels', raw.maxPixels) }),
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
    .option('--listen <port>', 'port to listen on (TCP, or UDP with --udp), IPv4 and IPv6', String(DEFAULT_PORT))
    .option('--bind <addr>', 'listen on this address only (e.g. 127.0.0.1 or ::1)')
    .option('--max-frame-bytes <n>', `largest frame accepted (default ${DEFAULT_MAX_FRAME_BYTES / 2 ** 20}M)`)
    .option('--max-buffered-bytes <n>', `memory for unfinished and queued frames over all senders (default ${DEFAULT_MAX_BUFFERED_BYTES / 2 ** 20}M)`)
    .option('--max-connections <n>', `TCP connections open at once (default ${DEFAULT_MAX_CONNECTIONS}, lowered to fit the open-file limit)`)
    .option('--idle-timeout <seconds>', `close a TCP connection that completes no frame for this long (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})`)
    .addOption(new Option('--ack [text]', `reply TEXT after each frame (default "${DEFAULT_ACK}")`))
    .option('--udp', 'receive vstream UDP streams instead of TCP')
    .option('--max-age <ms>', `with --udp: drop a frame still incomplete after this long (default ${DEFAULT_MAX_AGE_MS})`)
    .option('--recv-buffer <bytes>', `with --udp: socket receive buffer to ask for (default ${DEFAULT_RECV_BUFFER_BYTES / 2 ** 20}M; capped by net.core.rmem_max)`)
    .option('--legacy', "with --udp: the reference programs' format (length datagram, 1024-byte pieces, a reply per frame)")
    .option('--no-window', 'do not open a window')
    .option('--max-windows <n>', `windows open at once; a sender that left gives its window up to a new one (default ${DEFAULT_MAX_WINDOWS})`)
    .option('--output <file|->', 'write frames to a file, or - for stdout: MJPEG, or raw pixels with --format')
    .option('--format <jpeg|rgb24|bgr24|gray>', 'what --output writes: JPEGs as sent (default), or decoded frames back to back')
    .option('--size <WxH>', 'with a pixel --format: scale every frame to this size (default: the first decoded frame\'s)')
    .option('--max-pixels <n>', `decode no frame claiming more pixels, e.g. 16M (default ${MAX_DECODE_PIXELS / 2 ** 20}M)`)
    .option('--save-dir <dir>', 'save one file per frame in this folder (a labelled sender\'s in DIR/<label>/)')
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

async function openSinks(settings: RecvSettings, report: ProblemReporter): Promise<{ sinks: FrameSink[]; window?: WindowSink }> {
  const sinks: FrameSink[] = [];
  if (settings.output !== undefined) {
    sinks.push(
      settings.format === 'jpeg'
        ? await MjpegOutputSink.open(settings.output)
        : await RawOutputSink.open(settings.output, settings.format, {
            ...(settings.size !== undefined && { size: settings.size }),
            ...(settings.maxPixels !== undefined && { maxPixels: settings.maxPixels }),
            report,
          }),
    );
  }
  if (settings.saveDir !== undefined) sinks.push(await SaveDirSink.open(settings.saveDir, { onProblem: report }));
  if (settings.json) sinks.push(new JsonLinesSink());
  const headless = sinks.length > 0;
  if (settings.window === 'off' || (headless && !hasDisplay())) return { sinks };
  try {
    const window = await WindowSink.open({ maxWindows: settings.maxWindows, ...(settings.maxPixels !== undefined && { maxPixels: settings.maxPixels }), report });
    return { sinks, window };
  } catch (err) {
    if (!(err instanceof DisplayError) || !headless) throw err;
    warn(`${err.message}; going on without a window`);
    return { sinks };
  }
}

/** The transport's receiver for these settings. */
function openReceiver(settings: RecvSettings): Promise<Receiver> {
  const common = {
    port: settings.port,
    ...(settings.maxFrameBytes !== undefined && { maxFrameBytes: settings.maxFrameBytes }),
    ...(settings.bind !== undefined && { host: settings.bind }),
  };
  // The reply tells a stop-and-wait sender that the frame is safely through the sinks.
  const ack = settings.ack !== undefined && { ack: settings.ack, ackWhen: 'manual' as const };
  const maxAge = settings.maxAgeMs !== undefined && { maxAgeMs: settings.maxAgeMs };
  const recvBuffer = settings.recvBuffer !== undefined && { recvBufferSize: settings.recvBuffer };
  // UDP's two stores share the budget: pieces of incomplete frames, and frames queued whole.
  const udpBudget = settings.maxBufferedBytes !== undefined && {
    maxPendingBytes: Math.floor(settings.maxBufferedBytes / 2),
    maxQueuedBytes: Math.floor(settings.maxBufferedBytes / 2),
  };
  switch (settings.transport) {
    case 'tcp':
      return FrameReceiver.listen({
        ...common,
        ...ack,
        ...(settings.maxBufferedBytes !== undefined && { maxBufferedBytes: settings.maxBufferedBytes }),
        ...(settings.maxConnections !== undefined && { maxConnections: settings.maxConnections }),
        ...(settings.idleTimeoutMs !== undefined && { idleTimeoutMs: settings.idleTimeoutMs }),
      });
    case 'udp':
      return UdpFrameReceiver.listen({ ...common, ...maxAge, ...recvBuffer, ...ack, ...udpBudget });
    case 'udp-legacy':
      // The reference client waits for a reply after every image, so legacy mode always replies.
      return LegacyUdpReceiver.listen({ ...common, ...maxAge, ...udpBudget, reply: settings.ack ?? DEFAULT_ACK, ackWhen: 'manual' });
  }
}

function listeningLine(settings: RecvSettings, port: number): string {
  const kind = { tcp: '', udp: 'UDP', 'udp-legacy': 'UDP, legacy format' }[settings.transport];
  if (settings.bind) return `listening on ${formatAddress(settings.bind, port)}${kind ? ` (${kind})` : ''}`;
  return `listening on port ${port} (${kind ? `${kind}, ` : ''}IPv4 and IPv6)`;
}

/** A receive buffer the kernel capped below what was asked for overflows on bursts: say what to raise. */
function recvBufferNote(receiver: Receiver, settings: RecvSettings): string | undefined {
  if (!(receiver instanceof UdpFrameReceiver)) return undefined;
  const asked = settings.recvBuffer ?? DEFAULT_RECV_BUFFER_BYTES;
  const granted = receiver.recvBufferSize;
  if (granted >= asked) return undefined;
  return (
    `the UDP receive buffer is ${formatBytes(granted)}, not the ${formatBytes(asked)} asked for: ` +
    `bursts may lose datagrams; raise the cap with sudo sysctl -w net.core.rmem_max=${asked}`
  );
}

/** Connection lines a second before they are counted instead: a few cameras joining at once are all named. */
const CONNECTION_LINES_PER_SECOND = 10;

/** Frames of a live UDP stream that may wait for one sink (the UDP receivers' own queue per stream). */
const UDP_LIVE_DEPTH = 8;

/** Runs `vstream recv`; returns the exit code. */
export async function runRecv(settings: RecvSettings): Promise<number> {
  // Problems are news even with --quiet: they say why frames are missing.
  const problems = new RateLimitedLog((line) => warn(line));
  const { sinks, window } = await openSinks(settings, (problem) => problems.report(problem));
  const log = (line: string) => settings.quiet || process.stderr.write(`vstream: ${line}\n`);
  let receiver: Receiver;
  try {
    receiver = await openReceiver(settings);
  } catch (err) {
    await Promise.all(sinks.map((s) => s.close()));
    await window?.close();
    throw err;
  }
  const book = new SenderBook();
  const output = new SinkSet(window ? [...sinks, window] : sinks, {
    // The UDP receivers keep up to 8 frames of a stream for a consumer behind for a moment,
    // as they cannot pause its sender; a sink keeps as many, or a save slower than one frame
    // interval would lose what the receiver kept. TCP keeps one, as its receiver does.
    liveDepth: settings.transport === 'tcp' ? 1 : UDP_LIVE_DEPTH,
    onDrop: ({ frame, first }) => first && book.countDropped(frame),
    // The reply tells a stop-and-wait sender that every sink is done with its frame.
    onSettled: (frame) => receiver.acknowledge(frame),
  });
  const comings = new RateLimitedLog(log, { burst: CONNECTION_LINES_PER_SECOND, showCode: false });
  receiver.on('connection', ({ peer }) => comings.report({ code: 'connected', message: `${peer} connected` }));
  receiver.on('problem', (problem) => problems.report(problem));
  let shuttingDown = false;
  receiver.on('disconnect', ({ connectionId, peer, frames, error, loss }) => {
    const entry = book.get(connectionId);
    book.markGone(connectionId, loss);
    // Connections this process closes on its way out are not news.
    if (shuttingDown) return;
    const name = entry ? wireText(entry.sender) : peer;
    const who = name === peer ? peer : `${name} (${peer})`;
    const ended = settings.transport === 'tcp' ? 'connection closed' : 'stream ended';
    const lossNote = loss ? ` (${lossText(loss)})` : '';
    if (error) problems.report({ code: error.code, message: `${who}: ${error.message}; ${ended} after ${frames} frames${lossNote}` });
    else comings.report({ code: 'disconnected', message: `${who} disconnected after ${frames} frames${lossNote}` });
    output.senderGone(connectionId);
  });
  const stopReport = settings.stats ? startStatsReport(() => book.connected()) : () => {};
  // The user closing the last window, or a sink failing between frames, ends the receiving;
  // the failure itself comes out of `output.flush()`.
  void output.ended.then(
    () => receiver.close(),
    () => receiver.close(),
  );
  const started = performance.now();
  let total = 0;
  /** Frames given up at a signal that never reached the sinks. */
  let abandoned = 0;
  /** The frame loop is over: from then on the receiver's queue is not recv's to count. */
  let stoppedTaking = false;
  let outputClosed = false;
  let summarised = false;
  const summary = (abandonedFrames: number) => {
    if (summarised) return;
    summarised = true;
    // Counts still waiting for their second are printed, even with --quiet.
    problems.close();
    comings.close();
    if (settings.quiet) return;
    const seconds = (performance.now() - started) / 1000;
    const totals = book.totals();
    const dropped = totals.senderDropped + totals.sinkDropped;
    // Who dropped tells the user what to fix: the network or sender, or this machine's sinks.
    const droppedBy = dropped > 0 ? ` (${totals.senderDropped} by the sender${totals.senders === 1 ? '' : 's'}, ${totals.sinkDropped} here)` : '';
    const udp = totals.loss ? `; ${lossText(totals.loss)}` : '';
    log(
      `received ${total} frames (${formatRate(totals.bytes, total, seconds)}) from ${totals.senders} sender${totals.senders === 1 ? '' : 's'}, ${dropped} dropped${droppedBy}${udp}` +
        `${abandonedFrames > 0 ? `; ${abandonedFrames} abandoned at the signal` : ''}${outputClosed ? '; output closed by the reader' : ''}`,
    );
    const kinds = problemTotals(problems.totals());
    if (kinds) log(`problems caused by peers: ${kinds}`);
  };
  let signal: StopSignal | undefined;
  try {
    signal = await runUntilSignal(
      async (aborted) => {
        // Said once the signal handlers are in place: a script may signal as soon as it reads this.
        log(listeningLine(settings, receiver.port));
        const bufferNote = recvBufferNote(receiver, settings);
        if (bufferNote) log(bufferNote);
        for await (const frame of receiver) {
          book.record(frame);
          total += 1;
          if (aborted.aborted) {
            abandoned = 1 + receiver.queued;
            break;
          }
          // A sink held by a stalled reader must not hold a signal's shutdown too.
          if (!(await finishedBeforeAbort(output.write(frame), aborted))) {
            // This frame is the sinks' already: written below, or counted at a forced exit.
            abandoned = receiver.queued;
            break;
          }
          if (settings.frames !== undefined && total >= settings.frames) break;
        }
        stoppedTaking = true;
        // Frames handed to the sinks are written before they close; after a signal, for as long
        // as the grace lasts (then what they still hold is counted as abandoned).
        await output.flush();
      },
      { stop: () => receiver.close(), beforeForcedExit: () => summary((stoppedTaking ? abandoned : receiver.queued) + output.holding) },
    );
  } catch (err) {
    // A reader that went away (`recv --output - | head`) is a normal way for a pipeline to end.
    if (!(err instanceof OutputError && err.code === 'ERR_OUTPUT_CLOSED')) throw err;
    outputClosed = true;
  } finally {
    shuttingDown = true;
    stopReport();
    await receiver.close();
    await output.close();
  }
  summary(abandoned);
  return signal ? signalExitCode(signal) : 0;
}

/** Kinds of problem named in the summary; the rest are counted together, to keep it one line. */
const SUMMARY_PROBLEM_KINDS = 6;

/** `3 ERR_BAD_HEADER, 1 ERR_BUDGET`, most frequent first; empty when there were none. */
function problemTotals(totals: Map<string, number>): string {
  const sorted = [...totals].sort((a, b) => b[1] - a[1]);
  const named = sorted.slice(0, SUMMARY_PROBLEM_KINDS).map(([code, count]) => `${count} ${code}`);
  const rest = sorted.slice(SUMMARY_PROBLEM_KINDS).reduce((sum, [, count]) => sum + count, 0);
  return [...named, ...(rest > 0 ? [`${rest} of ${sorted.length - SUMMARY_PROBLEM_KINDS} other kinds`] : [])].join(', ');
}

