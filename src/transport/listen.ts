/**
 * Binds a TCP server the way every vstream end that listens does: one dual-stack socket for
 * IPv4 and IPv6 unless an address is given, IPv4 only on hosts without IPv6.
 */
import type { Server } from 'node:net';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';

/** `port 9000` or `[::1]:9000`, as the lines about a listening socket name it. */
export function listeningWhere(host: string | undefined, port: number): string {
  return host ? formatAddress(host, port) : `port ${port}`;
}

/**
 * Listens on `port` (0: any free one). Fails with a NetworkError for a busy port or an address
 * not on this host, worded `cannot <doing> <where>: <reason>`.
 */
export async function listenTcp(server: Server, port: number, host: string | undefined, doing = 'listen on'): Promise<void> {
  try {
    if (host) {
      await listenOn(server, { port, host });
    } else {
      await listenOn(server, { port, host: '::', ipv6Only: false }).catch(async (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
        await listenOn(server, { port, host: '0.0.0.0' });
      });
    }
  } catch (err) {
    throw networkError(`cannot ${doing} ${listeningWhere(host, port)}`, err);
  }
}

function listenOn(server: Server, options: { port: number; host: string; ipv6Only?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(options, () => {
      server.off('error', onError);
      resolve();
    });
  });
}
