import { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { parseHostPort } from '../../transport/address.js';
import type { Sender } from '../../transport/types.js';
import type { OpenedSender, ServeSession } from '../../transport/kind.js';
import { pickTransport, transportNamed, transportSendOptions, type AnyTransport, type TransportName } from '../../transport/registry.js';
import { openSource } from '../../source/index.js';
import { DEFAULT_SOURCE, SOURCES, sourceKind, sourceSendOptions, type AnySourceKind, type SourceChoice } from '../../source/registry.js';
import { locateFfmpeg } from '../../source/ffmpeg/locate.js';
import { parseFps, parseIntInRange, parseSize } from '../../options/parsers.js';
import {
  addOptions,
  flag,
  givenFlags,
  isGiven,
  longFlag,
  mergeSchemas,
  missingNeeds,
  negatable,
  parseSettings,
  value,
  valueWithDefault,
  type RawValue,
  type Settings,
} from '../../options/schema.js';
import { finishedBeforeAbort, runUntilSignal, signalExitCode } from '../signals.js';
import { formatRate } from '../../text/format.js';
import { warn } from '../handle-error.js';
import { secretOptions } from '../../secret/options.js';
import { refuseUnusedSecret } from '../secret-guard.js';
import { RateLimitedLog } from '../rate-limited-log.js';
import type { FrameSource } from '../../source/index.js';
import { startProgress, type ProgressLine } from '../progress.js';
import { askedTaps, openSendTaps, sendTapOptions } from '../send-taps.js';
import type { SendTap } from '../../sink/send-tap.js';

export const DEFAULT_DESTINATION = '127.0.0.1:8088';

export const sendSchema = mergeSchemas(
  sourceSendOptions,
  {
    to: valueWithDefault('--to <host:port>', 'receiver address: name, IPv4, or [IPv6]', parseHostPort, DEFAULT_DESTINATION),
    size: value('--size <WxH>', 'scale frames to this size (default: the source size; 640x480 for the pattern)', parseSize),
    fps: value('--fps <n|max>', 'frames per second; "max" reads files as fast as possible', parseFps),
    // Unset: 80, except that `--dir` then passes JPEG files through as they are.
    quality: value('--quality <1-100>', 'JPEG quality (default 80)', (text) => parseIntInRange('--quality', text, 1, 100)),
    frames: value('--frames <n>', 'stop after sending this many frames', (text) => parseIntInRange('--frames', text, 1, Number.MAX_SAFE_INTEGER)),
    label: value('--label <name>', 'name this stream; receivers show it instead of the address', parseLabel),
  },
  transportSendOptions,
  sendTapOptions,
  {
    metadata: negatable('--no-metadata', 'send plain JPEGs, without the vstream metadata segment'),
    ffmpeg: value('--ffmpeg <path>', 'ffmpeg binary to use (also VSTREAM_FFMPEG)', (text) => text),
    quiet: flag('-q, --quiet', 'no progress line, no summary line at exit'),
  },
  secretOptions,
);

function parseLabel(text: string): string {
  if (text.length === 0 || text.length > 200) throw new UsageError('invalid --label: expected 1 to 200 characters');
  return text;
}

/** Every `send` setting, parsed and defaulted, with the source and transport they pick. */
export type SendSettings = Settings<typeof sendSchema> & { source: SourceChoice; transport: TransportName };

/** What commander read, keyed by its own option names. */
export type RawSendOptions = Readonly<Record<string, RawValue>>;

/** Validates every option in one step into a typed object. */
export function sendSettings(raw: RawSendOptions): SendSettings {
  const given = givenFlags(sendSchema, raw);
  const source = chooseSource(raw);
  const missing = missingNeeds(sendSchema, raw, given);
  if (missing) throw new UsageError(missing);
  const settings = parseSettings(sendSchema, raw);
  const transport = pickTransport(settings);
  transport.check?.(given);
  refuseUnusedSecret(settings, transport);
  return { ...settings, source: { kind: source.kind, ...source.fromSettings(settings) } as SourceChoice, transport: transport.name };
}

function chooseSource(raw: RawSendOptions): AnySourceKind {
  const chosen = (SOURCES as readonly AnySourceKind[]).filter((kind) => isGiven(kind.options[kind.selector], raw));
  if (chosen.length > 1) {
    throw new UsageError(`choose one source: ${chosen.map((kind) => longFlag(kind.options[kind.selector])).join(' and ')} were given`);
  }
  return chosen[0] ?? DEFAULT_SOURCE;
}

export function sendCommand(): Command {
  return addOptions(new Command('send').description('capture frames, encode them as JPEG and send them to a receiver'), sendSchema).action(
    async (raw: RawSendOptions) => {
      process.exitCode = await runSend(sendSettings(raw));
    },
  );
}

function openSendSource(settings: SendSettings): ReturnType<typeof openSource> {
  // Looked for only by the sources that run it, so `--dir` and `--stdin` work without ffmpeg.
  const needsFfmpeg = sourceKind(settings.source.kind)?.needsFfmpeg ?? true;
  return openSource({
    ...settings.source,
    ffmpegPath: needsFfmpeg ? locateFfmpeg(settings.ffmpeg).path : '',
    size: settings.size,
    fps: settings.fps,
    quality: settings.quality,
  });
}

/** Lines about peers a second before they are counted instead: a few viewers joining at once are all named. */
const PEER_LINES_PER_SECOND = 10;

/** Lines about the peers of a sender that has many (viewers), rate-limited as `recv`'s are. */
function peerLogs(settings: SendSettings): { comings: RateLimitedLog<'peer'>; problems: RateLimitedLog } {
  return {
    comings: new RateLimitedLog<'peer'>((line) => settings.quiet || warn(line), { burst: PEER_LINES_PER_SECOND, showCode: false }),
    // Problems are news even with --quiet: they say why a viewer went.
    problems: new RateLimitedLog((line) => warn(line)),
  };
}

/** The transport's sender for these settings, and its note for the summary line. */
function openSender(settings: SendSettings, live: boolean, logs: ReturnType<typeof peerLogs>, beforeWarning: () => void = () => {}): Promise<OpenedSender> {
  return transportNamed(settings.transport).openSender({
    ...settings,
    host: settings.to.host,
    port: settings.to.port,
    live,
    sourcePath: 'path' in settings.source ? settings.source.path : undefined,
    warn: (message) => {
      beforeWarning();
      warn(message);
    },
    announce: (message) => logs.comings.report({ code: 'peer', message }),
    report: (problem) => logs.problems.report(problem),
  });
}

/**
 * Runs a kind that is a server of its own until a signal: it opens a file source per client
 * from these settings. Returns the exit code.
 */
async function runServe(transport: AnyTransport, settings: SendSettings): Promise<number> {
  let session: ServeSession | undefined;
  // Problems are news even with --quiet: they say why a client got nothing.
  const problems = new RateLimitedLog((line) => warn(line));
  const comings = new RateLimitedLog<'client'>((line) => settings.quiet || warn(line), { burst: 10, showCode: false });
  let summarised = false;
  const summary = () => {
    if (summarised) return;
    summarised = true;
    // Counts still waiting for their second come before the summary.
    problems.close();
    comings.close();
    if (settings.quiet || !session) return;
    process.stderr.write(`vstream: ${session.summary()}\n`);
  };
  const signal = await runUntilSignal(
    async (stopped) => {
      session = await transport.serve!({
        ...settings,
        stopped,
        report: (problem) => problems.report(problem),
        say: (message) => comings.report({ code: 'client', message }),
        warn: (message) => warn(message),
        openFileSource: (path) => openSendSource({ ...settings, source: { kind: 'file', path, loop: settings.loop } }),
      });
      await session.done;
    },
    { stop: () => {}, beforeForcedExit: () => summary() },
  );
  summary();
  return signal ? signalExitCode(signal) : 0;
}

/** Runs `vstream send`; returns the exit code. */
export async function runSend(settings: SendSettings): Promise<number> {
  const transport = transportNamed(settings.transport);
  if (transport.serve) {
    // A server of its own plays a source per client: there is no one stream to tap.
    const taps = askedTaps(settings);
    if (taps.length > 0) throw new UsageError(`${taps.join(' and ')} cannot be used with --serve`);
    return runServe(transport, settings);
  }
  // A sender that waits for its viewers starts the source when the first comes.
  let source: FrameSource | undefined = transport.opensBeforeSource ? undefined : await openSendSource(settings);
  const logs = peerLogs(settings);
  let sender: Sender | undefined;
  let summaryNote = (): string => '';
  const started = performance.now();
  /** 1 while a frame is being handed to the transport. */
  let inFlight = 0;
  let summarised = false;
  let progress: ProgressLine | undefined;
  let taps: SendTap[] = [];
  const summary = (abandoned: number) => {
    logs.comings.close();
    logs.problems.close();
    progress?.stop();
    if (summarised || settings.quiet || !sender) return;
    summarised = true;
    const seconds = (performance.now() - started) / 1000;
    const note = summaryNote();
    const gaveUp = abandoned > 0 ? `; ${abandoned} abandoned at the signal` : '';
    process.stderr.write(
      `vstream: sent ${sender.framesSent} frames (${formatRate(sender.bytesSent, sender.framesSent, seconds)}) to ${sender.address}${transport.summaryWording}, ${source?.dropped ?? 0} dropped${note}${gaveUp}\n`,
    );
  };
  try {
    taps = await openSendTaps(settings, { say: (line) => settings.quiet || warn(line), report: (problem) => logs.problems.report(problem), label: settings.label, bind: settings.bind });
    const opened = await openSender(settings, source?.live ?? true, logs, () => progress?.clear());
    sender = opened.sender;
    summaryNote = opened.summaryNote;
    const connected = sender;
    let abandoned = 0;
    const signal = await runUntilSignal(
      async (aborted) => {
        // A tap's own viewers (a browser) start a source that waits for viewers too.
        const wanted = taps.flatMap((tap) => tap.untilWanted?.() ?? []);
        if (opened.untilPeer && !(await finishedBeforeAbort(Promise.race([opened.untilPeer(), ...wanted]), aborted))) return;
        source ??= await openSendSource(settings);
        if (aborted.aborted) return;
        const frames = source;
        progress = startProgress(process.stderr, frames, { quiet: settings.quiet, limit: settings.frames, done: () => connected.framesSent });
        let taken = 0;
        for await (const frame of frames) {
          if (aborted.aborted) break;
          taken += 1;
          // Numbered by capture, so a receiver sees the frames dropped here as gaps.
          const seq = taken + frames.dropped - 1;
          inFlight = 1;
          for (const tap of taps) tap.frame(frame, seq);
          const sent = connected.send(frame, { seq, live: frames.live });
          // A receiver that stopped reading must not hold a signal's shutdown.
          if (!(await finishedBeforeAbort(sent, aborted))) {
            abandoned = 1;
            break;
          }
          inFlight = 0;
          if (settings.frames !== undefined && connected.framesSent >= settings.frames) break;
        }
      },
      { stop: () => source?.close(), beforeForcedExit: () => summary(inFlight) },
    );
    // After a signal, what the kernel has not taken yet is given up rather than waited for.
    if (signal) connected.destroy();
    else await connected.close();
    summary(abandoned);
    return signal ? signalExitCode(signal) : 0;
  } finally {
    logs.comings.close();
    logs.problems.close();
    progress?.stop();
    sender?.destroy();
    await source?.close();
    await Promise.all(taps.map((tap) => tap.close()));
  }
}
