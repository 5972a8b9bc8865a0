import { Command, Option } from 'commander';
import { UsageError } from '../../errors.js';
import { parseHostPort, type HostPort } from '../../transport/address.js';
import { DEFAULT_STALL_TIMEOUT_MS, FrameSender } from '../../transport/tcp-sender.js';
import { UdpFrameSender } from '../../transport/udp-sender.js';
import { LegacyUdpSender } from '../../transport/udp-legacy-sender.js';
import type { Sender } from '../../transport/types.js';
import { DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE } from '../../frame/udp-datagram.js';
import { DEFAULT_RATE_BYTES_PER_SECOND } from '../../transport/pacer.js';
import { openSource, type SourceOptions } from '../../source/index.js';
import { locateFfmpeg } from '../../source/ffmpeg/locate.js';
import { parseBytes, parseFps, parseIntInRange, parseSeconds, parseSize } from '../parse.js';
import { finishedBeforeAbort, runUntilSignal, signalExitCode } from '../signals.js';
import { formatBytes, formatRate } from '../format.js';
import { warn } from '../handle-error.js';

type SourceChoice =
  | { kind: 'pattern' }
  | { kind: 'camera'; device: string }
  | { kind: 'file'; path: string; loop: boolean }
  | { kind: 'dir'; path: string }
  | { kind: 'stdin' };

/** `udp-legacy` is the reference programs' format: a length datagram, 1024-byte pieces, a reply. */
export type Transport = 'tcp' | 'udp' | 'udp-legacy';

export interface SendSettings {
  source: SourceChoice;
  to: HostPort;
  transport: Transport;
  /** UDP: whole datagram size (legacy: bytes per piece). */
  packetSize?: number;
  /** UDP: pacing in bytes per second. */
  rate?: number;
  size?: { width: number; height: number };
  fps?: number | 'max';
  quality?: number;
  frames?: number;
  label?: string;
  waitAck: boolean;
  metadata: boolean;
  ffmpeg?: string;
  /** TCP: a receiver that takes no byte for this long ends the run with ERR_STALLED. */
  stallTimeoutMs: number;
  quiet: boolean;
}

interface RawSendOptions {
  camera?: string;
  file?: string;
  dir?: string;
  stdin?: boolean;
  pattern?: boolean;
  loop?: boolean;
  to: string;
  size?: string;
  fps?: string;
  quality?: string;
  frames?: string;
  label?: string;
  waitAck?: boolean;
  metadata: boolean;
  ffmpeg?: string;
  quiet?: boolean;
  udp?: boolean;
  legacy?: boolean;
  packetSize?: string;
  rate?: string;
  stallTimeout: string;
}

export const DEFAULT_DESTINATION = '127.0.0.1:8088';

/** Validates every option in one step into a typed object. */
export function sendSettings(raw: RawSendOptions): SendSettings {
  const chosen = (['camera', 'file', 'dir', 'stdin', 'pattern'] as const).filter((k) => raw[k] !== undefined && raw[k] !== false);
  if (chosen.length > 1) {
    throw new UsageError(`choose one source: ${chosen.map((k) => `--${k}`).join(' and ')} were given`);
  }
  const kind = chosen[0] ?? 'pattern';
  if (raw.loop && kind !== 'file') throw new UsageError('--loop applies to --file only');
  const source: SourceChoice =
    kind === 'camera'
      ? { kind, device: raw.camera! }
      : kind === 'file'
        ? { kind, path: raw.file!, loop: raw.loop ?? false }
        : kind === 'dir'
          ? { kind, path: raw.dir! }
          : { kind };
  if (raw.label !== undefined && (raw.label.length === 0 || raw.label.length > 200)) {
    throw new UsageError('invalid --label: expected 1 to 200 characters');
  }
  const transport = sendTransport(raw);
  return {
    source,
    to: parseHostPort(raw.to),
    transport,
    ...(raw.packetSize !== undefined && { packetSize: parseIntInRange('--packet-size', raw.packetSize, MIN_PACKET_SIZE, MAX_PACKET_SIZE) }),
    ...(raw.rate !== undefined && { rate: parseBytes('--rate', raw.rate) }),
    ...(raw.size !== undefined && { size: parseSize(raw.size) }),
    ...(raw.fps !== undefined && { fps: parseFps(raw.fps) }),
    ...(raw.quality !== undefined && { quality: parseIntInRange('--quality', raw.quality, 1, 100) }),
    ...(raw.frames !== undefined && { frames: parseIntInRange('--frames', raw.frames, 1, Number.MAX_SAFE_INTEGER) }),
    ...(raw.label !== undefined && { label: raw.label }),
    // The legacy sender always waits for the reply, as the reference client does.
    waitAck: raw.waitAck ?? transport === 'udp-legacy',
    metadata: raw.metadata,
    ...(raw.ffmpeg !== undefined && { ffmpeg: raw.ffmpeg }),
    stallTimeoutMs: parseSeconds('--stall-timeout', raw.stallTimeout),
    quiet: raw.quiet ?? false,
  };
}

function sendTransport(raw: RawSendOptions): Transport {
  if (!raw.udp) {
    const udpOnly = (['legacy', 'packetSize', 'rate'] as const).filter((k) => raw[k] !== undefined && raw[k] !== false);
    if (udpOnly.length > 0) throw new UsageError(`${udpOnly.map(flag).join(' and ')} need${udpOnly.length > 1 ? '' : 's'} --udp`);
    return 'tcp';
  }
  if (raw.legacy) {
    if (raw.rate !== undefined) throw new UsageError('--rate does not apply to --legacy, which waits for a reply after each frame');
    return 'udp-legacy';
  }
  if (raw.waitAck) {
    throw new UsageError("--wait-ack does not apply to --udp: vstream's UDP receivers never reply (use TCP, or --udp --legacy for the reference programs)");
  }
  return 'udp';
}

function flag(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

export function sendCommand(): Command {
  return new Command('send')
    .description('capture frames, encode them as JPEG and send them to a receiver')
    .addOption(new Option('--camera <n|device>', 'capture from a camera: index (0 = /dev/video0) or device'))
    .addOption(new Option('--file <path>', 'read a video file (anything ffmpeg reads), at its own rate unless --fps'))
    .addOption(new Option('--dir <path>', 'send the images of a folder, in natural order (2.png before 10.png)'))
    .addOption(new Option('--stdin', 'read JPEG frames concatenated on standard input (MJPEG)'))
    .addOption(new Option('--pattern', 'a built-in moving test pattern (the default source)'))
    .option('--loop', 'with --file: start again at the end')
    .option('--to <host:port>', 'receiver address: name, IPv4, or [IPv6]', DEFAULT_DESTINATION)
    .option('--size <WxH>', 'scale frames to this size (default: the source size; 640x480 for the pattern)')
    .option('--fps <n|max>', 'frames per second; "max" reads files as fast as possible')
    .option('--quality <1-100>', 'JPEG quality (default 80)')
    .option('--frames <n>', 'stop after sending this many frames')
    .option('--label <name>', 'name this stream; receivers show it instead of the address')
    .option('--wait-ack', "after each frame wait for the receiver's reply (stop-and-wait; TCP)")
    .option('--udp', 'send over UDP: lowest latency, a frame with a lost datagram is dropped')
    .option('--packet-size <bytes>', `with --udp: datagram size, ${MIN_PACKET_SIZE}-${MAX_PACKET_SIZE} (default ${DEFAULT_PACKET_SIZE}; legacy: 1024-byte pieces)`)
    .option('--rate <bytes/s>', `with --udp: pace datagrams at this many bytes per second, e.g. 10M (default ${formatBytes(DEFAULT_RATE_BYTES_PER_SECOND)}/s)`)
    .option('--legacy', 'with --udp: the reference programs\' format (length datagram, 1024-byte pieces, a reply per frame)')
    .option('--no-metadata', 'send plain JPEGs, without the vstream metadata segment')
    .option('--stall-timeout <seconds>', 'TCP: give up (exit 3) when the receiver takes no data for this long', String(DEFAULT_STALL_TIMEOUT_MS / 1000))
    .option('--ffmpeg <path>', 'ffmpeg binary to use (also VSTREAM_FFMPEG)')
    .option('-q, --quiet', 'no summary line at exit')
    .action(async (raw: RawSendOptions) => {
      process.exitCode = await runSend(sendSettings(raw));
    });
}

function sourceOptions(settings: SendSettings): SourceOptions {
  const needsFfmpeg = settings.source.kind !== 'stdin' && settings.source.kind !== 'dir';
  const common = {
    ffmpegPath: needsFfmpeg ? locateFfmpeg(settings.ffmpeg).path : '',
    ...(settings.size && { size: settings.size }),
    ...(settings.fps !== undefined && { fps: settings.fps }),
    ...(settings.quality !== undefined && { quality: settings.quality }),
  };
  return { ...common, ...settings.source } as SourceOptions;
}

/**
 * The transport's sender for these settings. `live` decides what a UDP sender does when
 * nobody listens (ICMP port unreachable): a live stream goes on after one warning, because a
 * UDP receiver may start later or restart and should then get the stream without the sender
 * being restarted; a file, folder or stdin transfer fails at once (exit 3) instead of
 * reading the whole input into the void.
 */
function openSender(settings: SendSettings, live: boolean): Promise<Sender> {
  const common = {
    host: settings.to.host,
    port: settings.to.port,
    metadata: settings.metadata,
    ...(settings.label !== undefined && { label: settings.label }),
  };
  switch (settings.transport) {
    case 'tcp':
      return FrameSender.connect({ ...common, waitAck: settings.waitAck, stallTimeoutMs: settings.stallTimeoutMs });
    case 'udp': {
      let warned = false;
      return UdpFrameSender.open({
        ...common,
        ...(settings.packetSize !== undefined && { packetSize: settings.packetSize }),
        ...(settings.rate !== undefined && { rate: settings.rate }),
        whenRefused: live ? 'report' : 'fail',
        onRefused: (err) => {
          if (warned || settings.quiet) return;
          warned = true;
          warn(`${err.message}; sending anyway: a receiver that starts later gets the stream`);
        },
      });
    }
    case 'udp-legacy':
      return LegacyUdpSender.open({ ...common, ...(settings.packetSize !== undefined && { pieceSize: settings.packetSize }) });
  }
}

/** Runs `vstream send`; returns the exit code. */
export async function runSend(settings: SendSettings): Promise<number> {
  const source = await openSource(sourceOptions(settings));
  let sender: Sender | undefined;
  const started = performance.now();
  /** 1 while a frame is being handed to the transport. */
  let inFlight = 0;
  let summarised = false;
  const summary = (abandoned: number) => {
    if (summarised || settings.quiet || !sender) return;
    summarised = true;
    const seconds = (performance.now() - started) / 1000;
    const refused = sender instanceof UdpFrameSender && sender.refused > 0 ? `; ${sender.refused} datagrams refused (nobody listening)` : '';
    const gaveUp = abandoned > 0 ? `; ${abandoned} abandoned at the signal` : '';
    process.stderr.write(
      `vstream: sent ${sender.framesSent} frames (${formatRate(sender.bytesSent, sender.framesSent, seconds)}) to ${sender.address}${settings.transport === 'tcp' ? '' : ' over UDP'}, ${source.dropped} dropped${refused}${gaveUp}\n`,
    );
  };
  try {
    sender = await openSender(settings, source.live);
    const connected = sender;
    let abandoned = 0;
    const signal = await runUntilSignal(
      async (aborted) => {
        let taken = 0;
        for await (const frame of source) {
          if (aborted.aborted) break;
          taken += 1;
          // Numbered by capture, so a receiver sees the frames dropped here as gaps.
          const seq = taken + source.dropped - 1;
          inFlight = 1;
          const sent = connected.send(frame, { seq, live: source.live });
          // A receiver that stopped reading must not hold a signal's shutdown.
          if (!(await finishedBeforeAbort(sent, aborted))) {
            abandoned = 1;
            break;
          }
          inFlight = 0;
          if (settings.frames !== undefined && connected.framesSent >= settings.frames) break;
        }
      },
      { stop: () => source.close(), beforeForcedExit: () => summary(inFlight) },
    );
    // After a signal, what the kernel has not taken yet is given up rather than waited for.
    if (signal) connected.destroy();
    else await connected.close();
    summary(abandoned);
    return signal ? signalExitCode(signal) : 0;
  } finally {
    sender?.destroy();
    await source.close();
  }
}
