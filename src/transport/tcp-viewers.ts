/**
 * `send --listen PORT`: one live source, many viewers. Receivers connect to the sender
 * (`recv --connect HOST:PORT`), each gets the normal TCP stream and its own newest-frame slot;
 * the source starts with the first viewer, or at once with `--eager`.
 */
import { UsageError } from '../errors.js';
import { flag, valueOr } from '../options/schema.js';
import { parseIntInRange } from '../options/parsers.js';
import { sendBindOption, sendListenOption } from './endpoint-options.js';
import type { TransportKind } from './kind.js';
import { transportSecret } from './transport-secret.js';
import { openNetworkNote } from '../secret/open-network.js';
import { tcpTransport } from './tcp.js';
import { DEFAULT_MAX_VIEWERS, ViewerServer } from './viewer-server.js';

export const eagerOption = flag('--eager', 'with --listen: start the source at once, not when the first viewer connects', { needs: '--listen' });

export const maxViewersOption = valueOr(
  '--max-viewers <n>',
  `with --listen: viewers connected at once; one more is refused (default ${DEFAULT_MAX_VIEWERS})`,
  (text) => parseIntInRange('--max-viewers', text, 1, 10_000),
  DEFAULT_MAX_VIEWERS,
  { needs: '--listen' },
);

const sendOptions = {
  listen: sendListenOption,
  bind: sendBindOption,
  eager: eagerOption,
  maxViewers: maxViewersOption,
  // The same option as `send --to`'s: here a viewer that takes nothing for that long is let go.
  stallTimeoutMs: tcpTransport.sendOptions.stallTimeoutMs,
};

/** Options of `send --to` that mean nothing to a sender that listens. */
const ONLY_WITH_TO = ['--to', '--retry', '--wait-ack'];

export const viewersTransport: TransportKind<'tcp-viewers', typeof sendOptions, Record<never, never>> = {
  name: 'tcp-viewers',
  sendOptions,
  recvOptions: {},
  pickedBy: ['listen'],
  opensBeforeSource: true,
  check(given) {
    const wrong = ONLY_WITH_TO.filter((flag) => given(flag));
    if (wrong.length > 0) {
      throw new UsageError(`${wrong.join(' and ')} cannot be used with --listen: viewers connect to this sender (recv --connect), it connects to nobody`);
    }
  },
  listeningNote: '',
  summaryWording: '',
  ended: 'connection closed',
  liveDepth: 1,
  usesSecret: true,
  async openSender(settings) {
    const secret = await transportSecret(settings);
    const server = await ViewerServer.listen({
      secret,
      port: settings.listen ?? 0,
      host: settings.bind,
      maxViewers: settings.maxViewers,
      stallTimeoutMs: settings.stallTimeoutMs,
      metadata: settings.metadata,
      label: settings.label,
    });
    server.on('viewer', ({ name }) => settings.announce(`viewer ${name} connected`));
    server.on('problem', (problem) => settings.report(problem));
    server.on('viewerGone', ({ name, sent, missed, error }) => {
      const got = `after ${sent} frame${sent === 1 ? '' : 's'}${missed > 0 ? ` (${missed} missed)` : ''}`;
      if (error?.code === 'ERR_STALLED') settings.report({ code: error.code, message: `${error.message} ${got}` });
      else settings.announce(`viewer ${name} disconnected ${got}${error ? ` (${reason(error.message)})` : ''}`);
    });
    let announced = false;
    const untilPeer = async () => {
      // Said once the caller is ready for signals: a script may stop the sender as soon as it reads this.
      if (!announced && !settings.quiet) {
        settings.warn(`listening for viewers on ${server.where}${settings.bind ? '' : ' (IPv4 and IPv6)'}`);
        for (const note of openNetworkNote(settings.bind, secret)) settings.warn(note);
      }
      announced = true;
      if (!settings.eager) await server.untilViewer();
    };
    return { sender: server, summaryNote: () => server.summaryNote(), untilPeer };
  },
  openReceiver() {
    return Promise.reject(new UsageError('send --listen is an option of send; recv --listen is the port a receiver listens on'));
  },
};

/** `connection reset by the peer` out of `viewer X: connection reset by the peer`. */
function reason(message: string): string {
  const colon = message.indexOf(': ');
  return colon === -1 ? message : message.slice(colon + 2);
}
