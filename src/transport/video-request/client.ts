/** The client's side of a request: connecting, asking, and reading a list of names. */
import type { Socket } from 'node:net';
import { AuthError, NetworkError, ProtocolError, SourceError } from '../../errors.js';
import { escapeUnsafe, wireText } from '../../text/wire-text.js';
import { connectSocket } from '../connect-socket.js';
import { tlsRecordAt } from '../../frame/header.js';
import type { Secret } from '../../secret/secret.js';
import { LIST_HEADER, MAX_REQUEST_BYTES } from './wire.js';

/** A list answer is read up to this size: 10 000 names of 100 bytes, with room. */
const MAX_LIST_BYTES = 4 * 1024 * 1024;
const LIST_WAIT_MS = 10_000;

/**
 * Connects and sends the request as the reference client does: the bare bytes, no terminator;
 * with a secret, inside TLS once the server has proved it holds the same one.
 */
export async function ask(host: string, port: number, request: Buffer, secret?: Secret): Promise<Socket> {
  if (request.length === 0 || request.length > MAX_REQUEST_BYTES) {
    throw new NetworkError(`a request is 1 to ${MAX_REQUEST_BYTES} bytes, got ${request.length}`, 'ERR_NETWORK');
  }
  const socket = await connectSocket({ host, port, listener: 'a video server', secret });
  socket.on('error', () => {});
  socket.setNoDelay(true);
  socket.write(request);
  return socket;
}

/** A server with a secret answers a client without one with a TLS alert (secure-socket.ts). */
export function refusedForNoSecret(address: string): AuthError {
  return new AuthError(`${address} refused this client (a TLS alert): it has a shared secret and this client none (give both the same --secret-file)`);
}

/**
 * The names of a list answer (`List`, a name a line, an empty line), read until the server
 * closes. A cut-off or oversized answer is an error, not a shorter list.
 */
export async function readList(socket: Socket, address: string): Promise<string[]> {
  const chunks: Buffer[] = [];
  let length = 0;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new NetworkError(`${address} sent no whole list within ${LIST_WAIT_MS / 1000} s`, 'ERR_TIMEOUT'));
    }, LIST_WAIT_MS);
    socket.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > MAX_LIST_BYTES) {
        clearTimeout(timer);
        socket.destroy();
        reject(new ProtocolError(`${address} sent a list of more than ${MAX_LIST_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  const answer = Buffer.concat(chunks);
  if (tlsRecordAt(answer) === 'alert') throw refusedForNoSecret(address);
  const lines = answer.toString('utf8').split('\n');
  // `List`, the names, the empty line, and what follows the last newline: nothing.
  if (lines[0] !== LIST_HEADER) {
    // A reference server looks for a file of that name and answers `False`.
    throw new SourceError(`${address} does not list its videos: it answered "${wireText(lines[0] ?? '')}"`, 'ERR_REQUEST_REFUSED');
  }
  if (lines.length < 3 || lines.at(-1) !== '' || lines.at(-2) !== '') throw new ProtocolError(`${address} sent a list that was cut off`, 'ERR_TRUNCATED_FRAME');
  // Names reach a terminal: a hostile server's control bytes must not.
  return lines.slice(1, -2).map(escapeUnsafe);
}
