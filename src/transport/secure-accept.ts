/**
 * What a listening vstream end does with each accepted connection when it has a secret: the
 * TLS handshake first, the connection handed on only once the peer has proved the secret; a
 * peer that fails is a problem said on this side, and the server goes on serving the others.
 */
import type { Socket } from 'node:net';
import type { Problem } from '../problems.js';
import type { Secret } from '../secret/secret.js';
import { SecureAcceptor } from './secure-socket.js';

/** A 'connection' listener, and `close` for the connections it holds before they are handed on. */
export interface SecureAccept {
  (socket: Socket): void;
  /** Closes the connections still in their handshake (call when the server closes). */
  close(): void;
}

/** A 'connection' listener: `accept` as is without a secret, after the handshake with one. */
export function acceptSecurely(secret: Secret | undefined, accept: (socket: Socket) => void, problem: (problem: Problem) => void): SecureAccept {
  if (!secret) return Object.assign((socket: Socket) => accept(socket), { close: () => {} });
  const acceptor = new SecureAcceptor(secret, accept, (err) => problem({ code: err.code, message: err.message }));
  return Object.assign((socket: Socket) => acceptor.handle(socket), { close: () => acceptor.close() });
}
