/**
 * `send --protocol folder`: a folder sent with the messages of the reference folder-transfer
 * programs (docs/PROTOCOL.md, "Folder transfer"), each file byte for byte under its own name.
 * There is nothing to pick on the receiving side: `recv` tells a folder transfer from frames
 * by its first bytes, on any TCP connection.
 */
import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { value, valueWithDefault } from '../options/schema.js';
import { formatAddress } from './address.js';
import { FolderSender } from './folder-sender.js';
import { DEFAULT_FINITE_RETRY_MS, ReconnectingSender } from './reconnecting-sender.js';
import { tcpTransport } from './tcp.js';
import type { TransportKind } from './kind.js';
import { MAX_SOURCE_TYPE_BYTES } from '../reassemble/folder-parser.js';

const PROTOCOLS = ['frames', 'folder'] as const;

function parseProtocol(text: string): (typeof PROTOCOLS)[number] {
  const found = PROTOCOLS.find((name) => name === text);
  if (!found) throw new UsageError(`invalid --protocol: expected frames or folder, got "${text}"`);
  return found;
}

function parseSourceType(text: string): string {
  // eslint-disable-next-line no-control-regex
  if (text === '' || text.includes('|') || /[\u0000-\u001f\u007f]/.test(text) || Buffer.byteLength(text) > MAX_SOURCE_TYPE_BYTES || /^[\d ]/.test(text)) {
    throw new UsageError(`invalid --source-type: expected 1 to ${MAX_SOURCE_TYPE_BYTES} bytes of text, without "|", not starting with a digit or a space`);
  }
  return text;
}

const sendOptions = {
  protocol: valueWithDefault(
    '--protocol <frames|folder>',
    "TCP: 'folder' sends --dir as the reference folder-transfer programs do (each file as it is, under its name)",
    parseProtocol,
    'frames',
  ),
  sourceType: value('--source-type <text>', "with --protocol folder: the source type the transfer announces (default: the first file's extension)", parseSourceType, {
    needs: '--protocol',
    refusal: '--source-type needs --protocol folder',
  }),
  // The same options as TCP's, declared once there.
  stallTimeoutMs: tcpTransport.sendOptions.stallTimeoutMs,
  retryMs: tcpTransport.sendOptions.retryMs,
};

export const folderTransport: TransportKind<'folder', typeof sendOptions, Record<never, never>> = {
  name: 'folder',
  sendOptions,
  recvOptions: {},
  pickedBy: ['protocol=folder'],
  check(given) {
    if (!given('--dir')) throw new UsageError('--protocol folder sends a folder: give --dir DIR');
    if (given('--udp')) throw new UsageError('--protocol folder runs over TCP: drop --udp');
    if (given('--wait-ack')) throw new UsageError('--wait-ack does not apply to --protocol folder, which always waits for each reply');
  },
  listeningNote: '',
  summaryWording: ' (folder transfer)',
  ended: 'connection closed',
  noSecret: "--protocol folder speaks the reference programs' folder protocol, which has no encryption",
  liveDepth: 1,
  async openSender(settings) {
    const connect = () =>
      FolderSender.connect({
        host: settings.host,
        port: settings.port,
        dirname: basename(resolve(settings.sourcePath ?? '.')),
        ...(settings.sourceType !== undefined && { sourceType: settings.sourceType }),
        replyTimeoutMs: settings.stallTimeoutMs,
      });
    const sender = await ReconnectingSender.open({
      address: formatAddress(settings.host, settings.port),
      connect,
      retryMs: settings.retryMs ?? DEFAULT_FINITE_RETRY_MS,
      // A folder is never resent after a cut: the transfer fails with the connection's error.
      live: false,
      say: (line) => settings.warn(line),
    });
    return { sender, summaryNote: () => '' };
  },
  async openReceiver() {
    throw new UsageError('recv needs no --protocol: a folder transfer is recognised on any TCP connection');
  },
};
