/**
 * What a listening vstream end does with each accepted connection when it has a secret: the
 * TLS handshake first, the connection handed on only once the peer has proved the secret; a
 * peer that fails is a problem said on this side, and the server goes on serving the others.
 */
import type { Socket } from 'node:net';
import type { Problem } from '../problems.js';
import type { Secret } from '../secret/secret.js';
import { formatAddress } from './address.js';
import { secureServer } from './secure-socket.js';
import type { VstreamError } from '../errors.js';

/** A 'connection' listener: `accept` as is without a secret, after the handshake with one. */
export function acceptSecurely(secret: Secret | undefined, accept: (socket: Socket) => void, problem: (problem: Problem) => void): (socket: Socket) => void {
  if (!secret) return accept;
  return (socket) => {
    const peer = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    secureServer(socket, secret, peer).then(accept, (err: VstreamError) => problem({ code: err.code, message: err.message }));
  };
}
