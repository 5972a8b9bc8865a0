/** vstream's UDP: lowest latency; a frame that lost a datagram is dropped, and nobody replies. */
import { UsageError } from '../errors.js';
import { DEFAULT_PACKET_SIZE, MAX_PACKET_SIZE, MIN_PACKET_SIZE } from '../frame/udp-datagram.js';
import { parseBytes, parseIntInRange } from '../options/parsers.js';
import { flag, value, valueOr } from '../options/schema.js';
import { DEFAULT_MAX_AGE_MS } from '../reassemble/udp-reassembler.js';
import { formatBytes } from '../text/format.js';
import { ackModeOption, ackOption, replyText } from './ack-option.js';
import { openNetworkNote } from '../secret/open-network.js';
import type { TransportKind } from './kind.js';
import { DEFAULT_RATE_BYTES_PER_SECOND } from './pacer.js';
import { UdpFrameReceiver } from './udp-receiver.js';
import { UdpFrameSender } from './udp-sender.js';
import { transportSecret } from './transport-secret.js';
import { DEFAULT_RECV_BUFFER_BYTES } from './udp-socket.js';
import { DEFAULT_MAX_QUEUED_FRAMES as UDP_LIVE_DEPTH } from './receiver-core.js';

/** The switch both UDP formats are picked by. */
export const udpSendFlag = flag('--udp', 'send over UDP: lowest latency, a frame with a lost datagram is dropped');
export const udpRecvFlag = flag('--udp', 'receive vstream UDP streams instead of TCP');

/** Unset: the format's own default (legacy UDP sends 1024-byte pieces). */
export const packetSizeOption = value(
  '--packet-size <bytes>',
  `with --udp: datagram size, ${MIN_PACKET_SIZE}-${MAX_PACKET_SIZE} (default ${DEFAULT_PACKET_SIZE}; legacy: 1024-byte pieces)`,
  (text) => parseIntInRange('--packet-size', text, MIN_PACKET_SIZE, MAX_PACKET_SIZE),
  { needs: '--udp' },
);

/** Unset: the format's own default (legacy UDP waits longer: its pieces carry no frame number). */
export const maxAgeOption = value(
  '--max-age <ms>',
  `with --udp: drop a frame still incomplete after this long (default ${DEFAULT_MAX_AGE_MS})`,
  (text) => parseIntInRange('--max-age', text, 1, 60_000),
  { needs: '--udp' },
);

const sendOptions = {
  udp: udpSendFlag,
  packetSize: packetSizeOption,
  rate: valueOr(
    '--rate <bytes/s>',
    `with --udp: pace datagrams at this many bytes per second, e.g. 10M (default ${formatBytes(DEFAULT_RATE_BYTES_PER_SECOND)}/s)`,
    (text) => parseBytes('--rate', text),
    DEFAULT_RATE_BYTES_PER_SECOND,
    { needs: '--udp' },
  ),
};

const recvOptions = {
  udp: udpRecvFlag,
  maxAgeMs: maxAgeOption,
  recvBuffer: valueOr(
    '--recv-buffer <bytes>',
    `with --udp: socket receive buffer to ask for (default ${DEFAULT_RECV_BUFFER_BYTES / 2 ** 20}M; capped by net.core.rmem_max)`,
    (text) => parseBytes('--recv-buffer', text),
    DEFAULT_RECV_BUFFER_BYTES,
    { needs: '--udp' },
  ),
  ack: ackOption,
  ackMode: ackModeOption,
};

/**
 * UDP's two stores share the memory budget: pieces of incomplete frames, and frames queued
 * whole. Unset: the receiver's defaults.
 */
export function splitBudget(maxBufferedBytes: number | undefined): { maxPendingBytes?: number; maxQueuedBytes?: number } {
  if (maxBufferedBytes === undefined) return {};
  return { maxPendingBytes: Math.floor(maxBufferedBytes / 2), maxQueuedBytes: Math.floor(maxBufferedBytes / 2) };
}

export const udpTransport: TransportKind<'udp', typeof sendOptions, typeof recvOptions> = {
  name: 'udp',
  sendOptions,
  recvOptions,
  pickedBy: ['udp'],
  // Every datagram sealed with AES-256-GCM (docs/PROTOCOL.md, "Shared secret: UDP").
  usesSecret: true,
  check(given) {
    if (given('--wait-ack')) {
      throw new UsageError("--wait-ack does not apply to --udp: vstream's UDP receivers never reply (use TCP, or --udp --legacy for the reference programs)");
    }
  },
  listeningNote: 'UDP',
  summaryWording: ' over UDP',
  ended: 'stream ended',
  liveDepth: UDP_LIVE_DEPTH,
  async openSender(settings) {
    let warned = false;
    const secret = await transportSecret(settings);
    const sender = await UdpFrameSender.open({
      ...(secret && { secret }),
      host: settings.host,
      port: settings.port,
      metadata: settings.metadata,
      label: settings.label,
      packetSize: settings.packetSize,
      rate: settings.rate,
      // A UDP receiver may start later or restart: a live stream goes on after one warning so
      // that it then gets the stream without the sender being restarted.
      whenRefused: settings.live ? 'report' : 'fail',
      onRefused: (err) => {
        if (warned || settings.quiet) return;
        warned = true;
        settings.warn(`${err.message}; sending anyway: a receiver that starts later gets the stream`);
      },
    });
    return { sender, summaryNote: () => (sender.refused > 0 ? `; ${sender.refused} datagrams refused (nobody listening)` : '') };
  },
  async openReceiver(settings) {
    // Auto keeps vstream UDP's behaviour: its senders never wait, so only --ack makes replies.
    const ack = replyText(settings, false);
    const secret = await transportSecret(settings);
    // A reply would leave unsealed, and its sender has no way to tell a forged one.
    if (secret && ack !== undefined) throw new UsageError('--ack with a shared secret: replies over UDP are not sealed; use TCP for replies', 'ERR_SECRET');
    const receiver = await UdpFrameReceiver.listen({
      ...(secret && { secret }),
      port: settings.port,
      host: settings.bind,
      maxFrameBytes: settings.maxFrameBytes,
      maxAgeMs: settings.maxAgeMs,
      recvBufferSize: settings.recvBuffer,
      ack,
      ackWhen: ack === undefined ? undefined : 'manual',
      ...splitBudget(settings.maxBufferedBytes),
    });
    return { receiver, notes: () => [...recvBufferNote(receiver.recvBufferSize, settings.recvBuffer), ...openNetworkNote(settings.bind, secret)] };
  },
};

/** A receive buffer the kernel capped below what was asked for overflows on bursts: say what to raise. */
function recvBufferNote(granted: number, asked: number): string[] {
  if (granted >= asked) return [];
  return [
    `the UDP receive buffer is ${formatBytes(granted)}, not the ${formatBytes(asked)} asked for: ` +
      `bursts may lose datagrams; raise the cap with sudo sysctl -w net.core.rmem_max=${asked}`,
  ];
}
