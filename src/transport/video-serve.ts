/**
 * `send --serve DIR --listen PORT`: a video server in the manner of the Python/OpenCV "video
 * player" tutorials. Each client names a file of DIR and gets its own playback of it, as
 * `send --file` would send it, frame by frame, waiting for its reply after each.
 */
import { UsageError } from '../errors.js';
import { parseIntInRange } from '../options/parsers.js';
import { value, valueOr } from '../options/schema.js';
import { formatAddress } from './address.js';
import { sendBindOption, sendListenOption } from './endpoint-options.js';
import type { TransportKind } from './kind.js';
import { openNetworkNote } from '../secret/open-network.js';
import { transportSecret } from './transport-secret.js';
import { DEFAULT_MAX_CLIENTS, VideoServer } from './video-request/server.js';
import { VideoFolder } from './video-request/video-folder.js';

const sendOptions = {
  serve: value('--serve <dir>', 'with --listen: play the videos of this folder to clients that name one (the reference video-player protocol)', (text) => text, {
    needs: '--listen',
  }),
  listen: sendListenOption,
  bind: sendBindOption,
  maxClients: valueOr(
    '--max-clients <n>',
    `with --serve: clients playing at once, each its own decoder (default ${DEFAULT_MAX_CLIENTS})`,
    (text) => parseIntInRange('--max-clients', text, 1, 1024),
    DEFAULT_MAX_CLIENTS,
    { needs: '--serve' },
  ),
};

/** What a client chooses with its request, or that `--serve` has no use for. */
const NOT_WITH_SERVE = ['--to', '--camera', '--file', '--dir', '--stdin', '--pattern', '--udp', '--wait-ack', '--frames', '--retry', '--stall-timeout'];

export const videoServeTransport: TransportKind<'video-serve', typeof sendOptions, Record<never, never>> = {
  name: 'video-serve',
  sendOptions,
  recvOptions: {},
  pickedBy: ['serve', 'listen'],
  check(given) {
    const refused = NOT_WITH_SERVE.filter(given);
    if (refused.length > 0) {
      throw new UsageError(`${refused.join(' and ')} ${refused.length === 1 ? 'does' : 'do'} not apply to --serve, whose clients name the file they want`);
    }
  },
  listeningNote: '',
  summaryWording: '',
  ended: 'connection closed',
  // With a secret the exchange runs inside TLS, as frames over TCP do: reference clients, which have none, are refused.
  usesSecret: true,
  liveDepth: 1,
  async serve(settings) {
    const folder = await VideoFolder.open(settings.serve!);
    const secret = await transportSecret(settings);
    const server = await VideoServer.listen({
      folder,
      port: settings.listen!,
      host: settings.bind,
      maxClients: settings.maxClients,
      metadata: settings.metadata,
      label: settings.label,
      openFileSource: settings.openFileSource,
      report: settings.report,
      say: settings.say,
      secret,
    });
    const where = settings.bind ? formatAddress(settings.bind, server.port) : `port ${server.port} (IPv4 and IPv6)`;
    settings.say(`serving the videos of ${folder.shown} on ${where}${secret ? ' (TLS, shared secret)' : ''}`);
    for (const note of openNetworkNote(settings.bind, secret)) settings.warn(note);
    const done = new Promise<void>((resolve) => {
      const stop = () => void server.close().then(resolve);
      if (settings.stopped.aborted) stop();
      else settings.stopped.addEventListener('abort', stop, { once: true });
    });
    return { done, summary: () => server.summary() };
  },
  async openSender() {
    throw new UsageError('--serve runs a server of its own');
  },
  async openReceiver() {
    throw new UsageError('--serve is an option of send');
  },
};
