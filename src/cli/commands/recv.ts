import { Command } from 'commander';
import { OutputError, UsageError } from '../../errors.js';
import type { Receiver } from '../../transport/types.js';
import type { OpenedReceiver } from '../../transport/kind.js';
import { formatAddress, parsePort } from '../../transport/address.js';
import { pickTransport, transportNamed, transportRecvOptions, type TransportName } from '../../transport/registry.js';
import { DEFAULT_MAX_BUFFERED_BYTES } from '../../transport/memory-budget.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../../reassemble/tcp-parser.js';
import { lossText, startStatsReport } from '../../sink/stats-report.js';
import type { FrameSink } from '../../sink/types.js';
import type { SinkContext } from '../../sink/kind.js';
import { SINKS, sinkOptions, type AnySinkKind } from '../../sink/registry.js';
import { SinkSet } from '../../sink/sink-set.js';
import { parseBytes, parseIntInRange } from '../../options/parsers.js';
import {
  addOptions,
  flag,
  givenFlags,
  mergeSchemas,
  missingNeeds,
  parseSettings,
  value,
  valueWithDefault,
  type RawValue,
  type Settings,
} from '../../options/schema.js';
import { finishedBeforeAbort, runUntilSignal, signalExitCode, type StopSignal } from '../signals.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import { SenderBook } from '../sender-book.js';
import { ResentFrames } from '../resent-frames.js';
import { wireText } from '../../text/wire-text.js';
import type { ProblemReporter } from '../../problems.js';
import { formatRate } from '../../text/format.js';
import { warn } from '../handle-error.js';
import { secretOptions } from '../../secret/options.js';
import { openAll } from '../open-all.js';
import { refuseUnusedSecret } from '../secret-guard.js';

export { DEFAULT_ACK } from '../../transport/ack-option.js';
export const DEFAULT_PORT = 8088;

export const recvSchema = mergeSchemas(
  {
    port: valueWithDefault('--listen <port>', 'port to listen on (TCP, or UDP with --udp), IPv4 and IPv6', (text) => parsePort(text, { allowZero: true }), String(DEFAULT_PORT)),
    bind: value('--bind <addr>', 'listen on this address only (e.g. 127.0.0.1 or ::1)', (text) => text),
    // Unset, these two are the transport's own defaults (legacy UDP takes smaller frames).
    maxFrameBytes: value('--max-frame-bytes <n>', `largest frame accepted (default ${DEFAULT_MAX_FRAME_BYTES / 2 ** 20}M)`, (text) => parseBytes('--max-frame-bytes', text)),
    maxBufferedBytes: value(
      '--max-buffered-bytes <n>',
      `memory for unfinished and queued frames over all senders (default ${DEFAULT_MAX_BUFFERED_BYTES / 2 ** 20}M)`,
      (text) => parseBytes('--max-buffered-bytes', text),
    ),
  },
  transportRecvOptions,
  sinkOptions,
  {
    frames: value('--frames <n>', 'exit after this many frames', (text) => parseIntInRange('--frames', text, 1, Number.MAX_SAFE_INTEGER)),
    stats: flag('--stats', 'print one summary line per sender per second on stderr'),
    quiet: flag('-q, --quiet', 'no connection messages or summary on stderr'),
  },
  secretOptions,
);

/** Every `recv` setting, parsed and defaulted, with the transport they pick. */
export type RecvSettings = Settings<typeof recvSchema> & { transport: TransportName };

/** What commander read, keyed by its own option names. */
export type RawRecvOptions = Readonly<Record<string, RawValue>>;

export function recvSettings(raw: RawRecvOptions): RecvSettings {
  const given = givenFlags(recvSchema, raw);
  const missing = missingNeeds(recvSchema, raw, given);
  if (missing) throw new UsageError(missing);
  const settings = parseSettings(recvSchema, raw);
  const transport = pickTransport(settings);
  transport.check?.(given);
  refuseUnusedSecret(settings, transport);
  for (const kind of SINKS as readonly AnySinkKind[]) kind.check?.(settings, settings);
  return { ...settings, transport: transport.name };
}

export function recvCommand(): Command {
  return addOptions(new Command('recv').description('receive frames and show them in a window, or write them to files or stdout'), recvSchema).action(
    async (raw: RawRecvOptions) => {
      process.exitCode = await runRecv(recvSettings(raw));
    },
  );
}

function openSinks(settings: RecvSettings, report: ProblemReporter, shared: Pick<SinkContext, 'say' | 'statsOf'> = {}): Promise<FrameSink[]> {
  // Once another sink takes the frames, the window (last) is optional: no display is no error.
  return openAll(SINKS as readonly AnySinkKind[], (kind, opened) => kind.open(settings, { report, warn: (message) => warn(message), headless: opened.length > 0, ...shared }));
}

function listeningLine(note: string, bind: string | undefined, port: number): string {
  if (bind) return `listening on ${formatAddress(bind, port)}${note ? ` (${note})` : ''}`;
  return `listening on port ${port} (${note ? `${note}, ` : ''}IPv4 and IPv6)`;
}

/** Connection lines a second before they are counted instead: a few cameras joining at once are all named. */
const CONNECTION_LINES_PER_SECOND = 10;

/** Runs `vstream recv`; returns the exit code. */
export async function runRecv(settings: RecvSettings): Promise<number> {
  // A kind that asks a question prints its answer and receives nothing.
  const answering = transportNamed(settings.transport);
  if (answering.answer) return answering.answer({ ...settings, warn: (message) => warn(message) });
  // Problems are news even with --quiet: they say why frames are missing.
  const problems = new RateLimitedLog((line) => warn(line));
  const log = (line: string) => settings.quiet || process.stderr.write(`vstream: ${line}\n`);
  const book = new SenderBook();
  const sinks = await openSinks(settings, (problem) => problems.report(problem), { say: log, statsOf: (id) => book.get(id)?.stats });
  const transport = transportNamed(settings.transport);
  let opened: OpenedReceiver;
  try {
    opened = await transport.openReceiver({ ...settings, warn: (message) => warn(message) });
  } catch (err) {
    await Promise.all(sinks.map((s) => s.close()));
    throw err;
  }
  const receiver: Receiver = opened.receiver;
  const resent = new ResentFrames((frame) => receiver.acknowledge(frame));
  const output = new SinkSet(sinks, {
    liveDepth: transport.liveDepth,
    // `--frames N` means N frames written, not N handed to sinks that may skip some.
    everyFrame: settings.frames !== undefined,
    onDrop: ({ frame, first }) => first && book.countDropped(frame),
    // The reply tells a stop-and-wait sender that every sink is done with its frame.
    onSettled: (frame) => {
      receiver.acknowledge(frame);
      resent.settled(frame);
    },
  });
  const comings = new RateLimitedLog<'connected' | 'disconnected'>(log, { burst: CONNECTION_LINES_PER_SECOND, showCode: false });
  receiver.on('connection', ({ peer }) => comings.report({ code: 'connected', message: `${peer} connected` }));
  receiver.on('problem', (problem) => problems.report(problem));
  // Messages are not frames: only the sinks that print them see them, none counts them.
  let messages = 0;
  receiver.on('message', (message) => {
    messages += 1;
    sinks.forEach((sink) => sink.message?.(message));
  });
  let shuttingDown = false;
  receiver.on('disconnect', ({ connectionId, peer, frames, error, loss }) => {
    const entry = book.get(connectionId);
    book.markGone(connectionId, loss);
    // Connections this process closes on its way out are not news.
    if (shuttingDown) return;
    const name = entry ? wireText(entry.sender) : peer;
    const who = name === peer ? peer : `${name} (${peer})`;
    const ended = transport.ended;
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
        `${abandonedFrames > 0 ? `; ${abandonedFrames} abandoned at the signal` : ''}${outputClosed ? '; output closed by the reader' : ''}` +
        `${resent.skipped > 0 ? `; ${resent.skipped} sent again and skipped` : ''}`,
    );
    const kinds = problemTotals(problems.totals());
    if (kinds) log(`problems caused by peers: ${kinds}`);
    if (messages > 0) log(`${messages} message${messages === 1 ? '' : 's'} received (JSON datagrams, not frames)`);
  };
  let signal: StopSignal | undefined;
  try {
    signal = await runUntilSignal(
      async (aborted) => {
        // Said once the signal handlers are in place: a script may signal as soon as it reads this.
        log(opened.where ?? listeningLine(transport.listeningNote, settings.bind, receiver.port));
        for (const note of opened.notes()) log(note);
        for await (const frame of receiver) {
          // A frame sent again after a cut, that this run has saved already.
          if (resent.isResent(frame)) continue;
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

