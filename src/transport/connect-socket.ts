/**
 * Connecting out over TCP, written once for every kind that does it (the frame sender, the
 * folder sender, the video client, the receiver that connects to a listening sender).
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';
import { NetworkError } from '../errors.js';
import { formatAddress } from './address.js';
import { networkError } from './socket-errors.js';
import { secureClient } from './secure-socket.js';
import type { Secret } from '../secret/secret.js';

/** How long connecting may take by default (ms). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface ConnectSocketOptions {
  host: string;
  port: number;
  /** Default DEFAULT_CONNECT_TIMEOUT_MS. */
  timeoutMs?: number;
  /**
   * What should be listening there, for a refused connection's message (`a video server`);
   * unset: the generic hint, which names `vstream recv`.
   */
  listener?: string;
  /** Set: the connection is TLS authenticated by this secret (an AuthError when the peer lacks it). */
  secret?: Secret | undefined;
}

/** A connected socket, or a NetworkError naming the address and the reason. */
export async function connectSocket(options: ConnectSocketOptions): Promise<Socket> {
  const address = formatAddress(options.host, options.port);
  const socket = connect({ host: options.host, port: options.port });
  socket.setTimeout(options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  try {
    await Promise.race([
      once(socket, 'connect'),
      once(socket, 'timeout').then(() => {
        throw Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
      }),
    ]);
  } catch (err) {
    socket.destroy();
    const error = networkError(`cannot connect to ${address}`, err);
    if (error.code === 'ERR_CONNECTION_REFUSED' && options.listener !== undefined) {
      throw new NetworkError(`cannot connect to ${address}: connection refused (is ${options.listener} listening there?)`, error.code, { cause: err });
    }
    throw error;
  }
  socket.setTimeout(0);
  if (options.secret) return secureClient(socket, options.secret, address, options.timeoutMs);
  return socket;
}
