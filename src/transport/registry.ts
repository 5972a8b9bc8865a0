/** Every transport `send` and `recv` offer; a new transport is one line here. */
import { UsageError } from '../errors.js';
import { longFlag, mergeSchemas, type OptionSchema, type UnionToIntersection, type Settings } from '../options/schema.js';
import type { TransportKind } from './kind.js';
import { tcpTransport } from './tcp.js';
import { udpTransport } from './udp.js';
import { legacyUdpTransport } from './udp-legacy.js';
import { viewersTransport } from './tcp-viewers.js';
import { connectTransport } from './tcp-connect.js';
import { folderTransport } from './folder.js';
import { videoServeTransport } from './video-serve.js';
import { videoListTransport, videoRequestTransport } from './video-request.js';

export const TRANSPORTS = [
  tcpTransport,
  udpTransport,
  legacyUdpTransport,
  viewersTransport,
  connectTransport,
  folderTransport,
  videoServeTransport,
  videoRequestTransport,
  videoListTransport,
] as const;

export type TransportName = (typeof TRANSPORTS)[number]['name'];

/** Any one transport, its option types erased: how the registry hands transports out. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyTransport = TransportKind<TransportName, any, any>;

/** Every transport's `send` options, in registry order. */
export const transportSendOptions = mergeSchemas(...TRANSPORTS.map((t) => t.sendOptions as OptionSchema)) as UnionToIntersection<
  (typeof TRANSPORTS)[number]['sendOptions']
>;
export const transportRecvOptions = mergeSchemas(...TRANSPORTS.map((t) => t.recvOptions as OptionSchema)) as UnionToIntersection<
  (typeof TRANSPORTS)[number]['recvOptions']
>;

/**
 * The transport whose options were all given, the most specific one winning (`--udp --legacy`).
 * A `pickedBy` entry is a settings key that must be set (a switch on, a value given), or
 * `key=value` for one value of an option (`protocol=folder`). Options that pick two kinds
 * neither of which refines the other (`--udp` and `--listen`) are a usage error.
 */
export function pickTransport(settings: Settings<OptionSchema>): AnyTransport {
  let picked: AnyTransport = tcpTransport;
  const matching = (TRANSPORTS as readonly AnyTransport[]).filter((transport) => transport.pickedBy.every((entry) => picks(settings, entry)));
  for (const transport of matching) {
    if (transport.pickedBy.length >= picked.pickedBy.length) picked = transport;
  }
  const clash = matching.find((transport) => !transport.pickedBy.every((entry) => picked.pickedBy.includes(entry)));
  // Named by what tells them apart: `--request and --list`, not the `--connect` both take.
  if (clash) throw new UsageError(`${flagsOf(clash, picked)} and ${flagsOf(picked, clash)} cannot be used together`);
  return picked;
}

/** `--udp --legacy`: the flags that pick a transport, as the user typed them. */
function flagsOf(transport: AnyTransport, other: AnyTransport): string {
  const schemas: OptionSchema[] = [transport.sendOptions, transport.recvOptions];
  const own = transport.pickedBy.filter((entry) => !other.pickedBy.includes(entry));
  return (own.length > 0 ? own : transport.pickedBy)
    .map((entry) => {
      const key = entry.split('=', 1)[0]!;
      const spec = schemas.find((schema) => schema[key] !== undefined)?.[key];
      return spec ? longFlag(spec) : key;
    })
    .join(' ');
}

export function transportNamed(name: TransportName): AnyTransport {
  return (TRANSPORTS as readonly AnyTransport[]).find((t) => t.name === name)!;
}

function picks(settings: Settings<OptionSchema>, entry: string): boolean {
  const [key, wanted] = entry.split('=', 2) as [string, string | undefined];
  const value = settings[key];
  if (wanted !== undefined) return value === wanted;
  return value !== undefined && value !== false;
}
