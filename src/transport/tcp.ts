/** TCP: the default transport; frames arrive whole and in order, a slow receiver slows the sender. */
import { ackModeOption, ackOption, replyText } from './ack-option.js';
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS, TcpFrameReceiver } from './tcp-receiver.js';
import { DEFAULT_STALL_TIMEOUT_MS, TcpFrameSender } from './tcp-sender.js';
import { DEFAULT_FINITE_RETRY_MS, ReconnectingSender, type ConnectionAcks } from './reconnecting-sender.js';
import { formatAddress } from './address.js';
import { flag, value, valueWithDefault } from '../options/schema.js';
import { parseIntInRange, parseSeconds } from '../options/parsers.js';
import type { TransportKind } from './kind.js';
import { transportSecret } from './transport-secret.js';
import { openNetworkNote } from '../secret/open-network.js';

/** `--wait-ack` is also said of the legacy format, whose sender always waits. */
export const waitAckOption = flag('--wait-ack', "after each frame wait for the receiver's reply (stop-and-wait; TCP)");

const sendOptions = {
  waitAck: waitAckOption,
  stallTimeoutMs: valueWithDefault(
    '--stall-timeout <seconds>',
    'TCP: give up (exit 3) when the receiver takes no data for this long',
    (text) => parseSeconds('--stall-timeout', text),
    String(DEFAULT_STALL_TIMEOUT_MS / 1000),
  ),
  // Unset: forever for a live source, DEFAULT_FINITE_RETRY_MS for the others.
  retryMs: value(
    '--retry <seconds>',
    `TCP: keep trying to reach the receiver for this long (default: forever for --camera and --pattern, ${DEFAULT_FINITE_RETRY_MS / 1000} for the others; 0: fail at once)`,
    (text) => parseSeconds('--retry', text, { zero: true }),
  ),
};

const recvOptions = {
  // Unset: the receiver lowers its own default to fit the open-file limit.
  maxConnections: value('--max-connections <n>', `TCP connections open at once (default ${DEFAULT_MAX_CONNECTIONS}, lowered to fit the open-file limit)`, (text) =>
    parseIntInRange('--max-connections', text, 1, 1_000_000),
  ),
  idleTimeoutMs: value('--idle-timeout <seconds>', `close a TCP connection that completes no frame for this long (default ${DEFAULT_IDLE_TIMEOUT_MS / 1000})`, (text) =>
    parseIntInRange('--idle-timeout', text, 1, 86_400) * 1000,
  ),
  ack: ackOption,
  ackMode: ackModeOption,
};

export const tcpTransport: TransportKind<'tcp', typeof sendOptions, typeof recvOptions> = {
  name: 'tcp',
  sendOptions,
  recvOptions,
  pickedBy: [],
  listeningNote: '',
  summaryWording: '',
  ended: 'connection closed',
  liveDepth: 1,
  usesSecret: true,
  async openSender(settings) {
    const secret = await transportSecret(settings);
    const connect = (acks?: ConnectionAcks) =>
      TcpFrameSender.connect({
        host: settings.host,
        port: settings.port,
        metadata: settings.metadata,
        label: settings.label,
        waitAck: settings.waitAck,
        stallTimeoutMs: settings.stallTimeoutMs,
        secret,
        ...(acks && { acks }),
      });
    const sender = await ReconnectingSender.open({
      address: formatAddress(settings.host, settings.port),
      connect,
      retryMs: settings.retryMs ?? (settings.live ? Infinity : DEFAULT_FINITE_RETRY_MS),
      live: settings.live,
      // Said even with --quiet: an outage is why frames are missing.
      say: (line) => settings.warn(line),
      // A transfer keeps its frames until the receiver acknowledges them, to resume after a cut.
      ...(settings.metadata !== false && { resume: { ackTimeoutMs: settings.stallTimeoutMs } }),
    });
    const summaryNote = () => {
      const dropped = sender.droppedWhileDisconnected;
      if (sender.reconnects === 0 && dropped === 0) return '';
      if (!settings.live) return `; ${sender.resent} sent again after ${sender.reconnects} reconnect${sender.reconnects === 1 ? '' : 's'}`;
      return `; ${dropped} dropped while disconnected (${sender.reconnects} reconnect${sender.reconnects === 1 ? '' : 's'})`;
    };
    return { sender, summaryNote };
  },
  async openReceiver(settings) {
    const secret = await transportSecret(settings);
    const receiver = await TcpFrameReceiver.listen({
      secret,
      port: settings.port,
      host: settings.bind,
      maxFrameBytes: settings.maxFrameBytes,
      maxBufferedBytes: settings.maxBufferedBytes,
      maxConnections: settings.maxConnections,
      idleTimeoutMs: settings.idleTimeoutMs,
      // The reply tells a stop-and-wait sender that the frame is safely through the sinks; in
      // auto mode only senders that wait for it get one.
      ack: replyText(settings, true),
      ackMode: settings.ackMode,
      ackWhen: 'manual',
    });
    return { receiver, notes: () => openNetworkNote(settings.bind, secret) };
  },
};
