import { isIPv6 } from 'node:net';
import { UsageError } from '../errors.js';

export interface HostPort {
  host: string;
  port: number;
}

/** Parses a TCP/UDP port number given on the command line (1-65535; 0 only when allowed). */
export function parsePort(text: string, { allowZero = false } = {}): number {
  const port = /^\d{1,5}$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (!Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new UsageError(`invalid port "${text}": expected a number from ${allowZero ? 0 : 1} to 65535`, 'ERR_BAD_PORT');
  }
  return port;
}

/**
 * Parses `HOST:PORT`, where HOST is a name, an IPv4 address or an IPv6 address in brackets
 * (`[::1]:8088`). A bare IPv6 address without brackets is refused: its last group cannot be told
 * apart from a port.
 */
export function parseHostPort(text: string): HostPort {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(text);
  if (bracketed) {
    const host = bracketed[1]!;
    if (!isIPv6(host.replace(/%.*$/, ''))) {
      throw new UsageError(`invalid address "${text}": "${host}" is not an IPv6 address`, 'ERR_BAD_ADDRESS');
    }
    return { host, port: parsePort(bracketed[2]!) };
  }
  const colon = text.lastIndexOf(':');
  if (colon <= 0 || text.indexOf(':') !== colon) {
    const hint = text.split(':').length > 2 ? ' (write IPv6 addresses in brackets: [::1]:8088)' : '';
    throw new UsageError(`invalid address "${text}": expected HOST:PORT${hint}`, 'ERR_BAD_ADDRESS');
  }
  return { host: text.slice(0, colon), port: parsePort(text.slice(colon + 1)) };
}

/** `host:port`, with IPv6 hosts in brackets and IPv4-mapped IPv6 addresses shown as IPv4. */
export function formatAddress(host: string, port: number): string {
  const plain = host.startsWith('::ffff:') && host.includes('.') ? host.slice(7) : host;
  return isIPv6(plain) ? `[${plain}]:${port}` : `${plain}:${port}`;
}
