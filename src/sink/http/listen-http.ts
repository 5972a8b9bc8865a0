/**
 * Binds the viewer's HTTP server: one dual-stack socket for IPv4 and IPv6 unless an address is
 * given, as every vstream end that listens does (src/sink may not use the transport's copy).
 */
import type { Server } from 'node:http';
import { NetworkError, type NetworkCode } from '../../errors.js';

const REASONS: Record<string, [string, NetworkCode]> = {
  EADDRINUSE: ['address already in use', 'ERR_PORT_IN_USE'],
  EACCES: ['permission denied (ports below 1024 need privileges)', 'ERR_PORT_DENIED'],
  EADDRNOTAVAIL: ['address not available on this machine', 'ERR_BAD_BIND'],
};

export async function listenHttp(server: Server, port: number, host: string | undefined): Promise<void> {
  try {
    if (host) await listenOn(server, { port, host });
    else {
      await listenOn(server, { port, host: '::', ipv6Only: false }).catch(async (err) => {
        if ((err as NodeJS.ErrnoException).code !== 'EAFNOSUPPORT') throw err;
        await listenOn(server, { port, host: '0.0.0.0' });
      });
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const [reason, errCode] = REASONS[code] ?? [err instanceof Error ? err.message : String(err), 'ERR_NETWORK'];
    throw new NetworkError(`cannot serve HTTP on ${host ? `${host.includes(':') ? `[${host}]` : host}:${port}` : `port ${port}`}: ${reason}`, errCode, { cause: err });
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
