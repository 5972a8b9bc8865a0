/**
 * `recv --connect HOST:PORT`: the receiver connects to a sender that listens (`send --listen`)
 * instead of listening itself, and connects again whenever the connection fails or ends, for
 * `--retry` seconds per outage (default forever). Frames are read as from any TCP sender.
 */
import { UsageError } from '../errors.js';
import { value } from '../options/schema.js';
import { parseSeconds } from '../options/parsers.js';
import { connectOption } from './endpoint-options.js';
import { formatAddress } from './address.js';
import type { TransportKind } from './kind.js';
import { transportSecret } from './transport-secret.js';
import { tcpTransport } from './tcp.js';
import { TcpConnector } from './tcp-connector.js';
import { TcpFrameReceiver } from './tcp-receiver.js';
import { ConnectingReceiver } from './connecting-receiver.js';

/** `recv --retry SECONDS`: how long each outage of a receiver that connects out may last. Unset: forever. */
export const connectRetryOption = value(
  '--retry <seconds>',
  'with --connect: keep trying to reach the sender for this long after each outage (default: forever; 0: fail at once)',
  (text) => parseSeconds('--retry', text, { zero: true }),
  { needs: '--connect' },
);

const recvOptions = {
  connect: connectOption,
  connectRetryMs: connectRetryOption,
  // Read as from any TCP sender: the same idle timeout and replies.
  idleTimeoutMs: tcpTransport.recvOptions.idleTimeoutMs,
  ack: tcpTransport.recvOptions.ack,
};

export const connectTransport: TransportKind<'tcp-connect', Record<never, never>, typeof recvOptions> = {
  name: 'tcp-connect',
  sendOptions: {},
  recvOptions,
  pickedBy: ['connect'],
  check(given) {
    for (const flag of ['--listen', '--bind']) {
      if (given(flag)) throw new UsageError(`${flag} cannot be used with --connect: this receiver connects to its sender instead of listening`);
    }
  },
  listeningNote: '',
  summaryWording: '',
  ended: 'connection closed',
  liveDepth: 1,
  usesSecret: true,
  openSender() {
    return Promise.reject(new UsageError('--connect is an option of recv; send --to connects a sender to a receiver'));
  },
  async openReceiver(settings) {
    const { host, port } = settings.connect!;
    const secret = await transportSecret(settings);
    const receiver = TcpFrameReceiver.unbound({
      maxFrameBytes: settings.maxFrameBytes,
      maxBufferedBytes: settings.maxBufferedBytes,
      idleTimeoutMs: settings.idleTimeoutMs,
      // The reply tells a stop-and-wait sender that the frame is safely through the sinks.
      ack: settings.ack,
      ackWhen: 'manual',
    });
    let connector: TcpConnector;
    try {
      connector = await TcpConnector.open({
        host,
        port,
        retryMs: settings.connectRetryMs ?? Infinity,
        secret,
        listener: 'vstream send --listen',
        connected: (socket) => receiver.adopt(socket),
        say: (line) => settings.warn(line),
      });
    } catch (err) {
      await receiver.close();
      throw err;
    }
    return { receiver: new ConnectingReceiver(receiver, connector), notes: () => [], where: `connecting to ${formatAddress(host, port)}` };
  },
};
