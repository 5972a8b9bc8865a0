/**
 * `recv --connect HOST:PORT --request NAME`: asks a video server (`send --serve`, or the
 * reference Python video player) for a video by name and receives it, replying after each
 * frame; `recv --connect HOST:PORT --list`: prints the names a vstream server offers.
 */
import { SourceError, UsageError } from '../errors.js';
import { tlsRecordAt } from '../frame/header.js';
import { flag, value } from '../options/schema.js';
import { escapeUnsafe, wireText } from '../text/wire-text.js';
import { formatAddress } from './address.js';
import { connectOption } from './endpoint-options.js';
import type { TransportKind } from './kind.js';
import { transportSecret } from './transport-secret.js';
import { readAnswer } from './video-request/answer-reader.js';
import { ask, readList, refusedForNoSecret } from './video-request/client.js';
import { RequestedVideo } from './video-request/requested-video.js';
import { LIST_REQUEST, MAX_REQUEST_BYTES } from './video-request/wire.js';

const recvRequestOptions = {
  connect: connectOption,
  request: value(
    '--request <name>',
    'with --connect: ask a video server (send --serve, or the reference video player) for this video and receive it',
    (text) => {
      const bytes = Buffer.byteLength(text);
      if (bytes === 0 || bytes > MAX_REQUEST_BYTES) throw new UsageError(`invalid --request: expected a name of 1 to ${MAX_REQUEST_BYTES} bytes`);
      return text;
    },
    { needs: '--connect' },
  ),
};

const recvListOptions = {
  connect: connectOption,
  list: flag('--list', 'with --connect: print the names of the videos a vstream server offers, one a line', { needs: '--connect' }),
};

/** Options that make no sense when this end connects out and asks. */
const NOT_WITH_CONNECT = ['--listen', '--bind', '--udp'];

function refuse(given: (flag: string) => boolean, flags: readonly string[], what: string): void {
  const refused = flags.filter(given);
  if (refused.length > 0) throw new UsageError(`${refused.join(' and ')} ${refused.length === 1 ? 'does' : 'do'} not apply to ${what}`);
}

/** What both client kinds are: a receiver that connects out and asks, with no listening of its own. */
const clientOfAServer = {
  sendOptions: {},
  listeningNote: '',
  summaryWording: '',
  ended: 'connection closed',
  // With a secret the exchange runs inside TLS: only a server with the same secret answers.
  usesSecret: true,
  liveDepth: 1,
} as const;

export const videoRequestTransport: TransportKind<'video-request', Record<never, never>, typeof recvRequestOptions> = {
  name: 'video-request',
  recvOptions: recvRequestOptions,
  pickedBy: ['connect', 'request'],
  check(given) {
    if (given('--list')) throw new UsageError('choose one of --request and --list');
    // The reply after each frame is the protocol's `Rec`.
    refuse(given, [...NOT_WITH_CONNECT, '--ack'], '--request, which connects to the server and replies Rec');
  },
  ...clientOfAServer,
  async openSender() {
    throw new UsageError('--request is an option of recv');
  },
  async openReceiver(settings) {
    const { host, port } = settings.connect!;
    const name = settings.request!;
    const address = formatAddress(host, port);
    const socket = await ask(host, port, Buffer.from(name), await transportSecret(settings));
    let answer;
    try {
      answer = await readAnswer(socket);
    } catch (err) {
      socket.destroy();
      (err as Error).message = `${address}: ${(err as Error).message}`;
      throw err;
    }
    if (!answer.accepted) {
      socket.destroy();
      if (tlsRecordAt(answer.text) === 'alert') throw refusedForNoSecret(address);
      const said = escapeUnsafe(answer.text.toString('utf8').trim()) || '(nothing)';
      throw new SourceError(`${address} refused "${wireText(name)}": ${said}`, 'ERR_REQUEST_REFUSED');
    }
    const receiver = new RequestedVideo({
      socket,
      address,
      rest: answer.rest,
      maxFrameBytes: settings.maxFrameBytes,
      maxBufferedBytes: settings.maxBufferedBytes,
      frames: settings.frames,
    });
    return { receiver, notes: () => [], where: `receiving "${wireText(name)}" from ${address}` };
  },
};

export const videoListTransport: TransportKind<'video-list', Record<never, never>, typeof recvListOptions> = {
  name: 'video-list',
  recvOptions: recvListOptions,
  pickedBy: ['connect', 'list'],
  check(given) {
    if (given('--request')) throw new UsageError('choose one of --request and --list');
    refuse(given, [...NOT_WITH_CONNECT, '--frames'], '--list, which prints names and receives no frames');
  },
  ...clientOfAServer,
  async openSender() {
    throw new UsageError('--list is an option of recv');
  },
  async openReceiver() {
    throw new UsageError('--list receives no frames');
  },
  async answer(settings) {
    const { host, port } = settings.connect!;
    const address = formatAddress(host, port);
    const socket = await ask(host, port, LIST_REQUEST, await transportSecret(settings));
    const names = await readList(socket, address);
    process.stdout.write(names.map((name) => `${name}\n`).join(''));
    return 0;
  },
};
