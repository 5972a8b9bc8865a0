/**
 * What a listening vstream end does with each accepted connection when it has a secret: the
 * TLS handshake first, the connection handed on only once the peer has proved the secret; a
 * peer that fails is a problem said on this side, and the server goes on serving the others.
 */
import type { Socket } from 'node:net';
import type { Problem } from '../problems.js';
import type { Secret } from '../secret/secret.js';
import { SecureAcceptor } from './secure-socket.js';

/** A 'connection' listener: `accept` as is without a secret, after the handshake with one. */
export function acceptSecurely(secret: Secret | undefined, accept: (socket: Socket) => void, problem: (problem: Problem) => void): (socket: Socket) => void {
  if (!secret) return accept;
  const acceptor = new SecureAcceptor(secret, accept, (err) => problem({ code: err.code, message: err.message }));
  return (socket) => acceptor.handle(socket);
}
