/** Every transport `send` and `recv` offer; a new transport is one line here. */
import { mergeSchemas, type OptionSchema, type UnionToIntersection, type Settings } from '../options/schema.js';
import type { TransportKind } from './kind.js';
import { tcpTransport } from './tcp.js';
import { udpTransport } from './udp.js';
import { legacyUdpTransport } from './udp-legacy.js';
import { videoServeTransport } from './video-serve.js';
import { videoListTransport, videoRequestTransport } from './video-request.js';

export const TRANSPORTS = [tcpTransport, udpTransport, legacyUdpTransport, videoServeTransport, videoRequestTransport, videoListTransport] as const;

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
 * `key=value` for one value of an option (`protocol=folder`).
 */
export function pickTransport(settings: Settings<OptionSchema>): AnyTransport {
  let picked: AnyTransport = tcpTransport;
  for (const transport of TRANSPORTS as readonly AnyTransport[]) {
    const all = transport.pickedBy.every((entry) => picks(settings, entry));
    if (all && transport.pickedBy.length >= picked.pickedBy.length) picked = transport;
  }
  return picked;
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
