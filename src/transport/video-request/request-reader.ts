/**
 * Reads a client's request: a file name with no terminator, as the reference client sends it
 * (`c.send(b'traffic.avi')`), in one TCP segment or several. The request is complete at a
 * newline, at MAX_REQUEST_BYTES, or once the client has been quiet for a moment after sending
 * something; a client that sends nothing is given up on.
 */
import type { Socket } from 'node:net';
import { NetworkError } from '../../errors.js';
import { LIST_REQUEST, MAX_REQUEST_BYTES } from './wire.js';

/** After the last byte of a request, how long the client must stay quiet for it to be whole. */
export const REQUEST_QUIET_MS = 100;
/** How long a client may take to make its request at all. */
export const REQUEST_WAIT_MS = 10_000;

export interface RequestTiming {
  quietMs: number;
  waitMs: number;
}

const enum State {
  /** Nothing received yet. */
  WAITING,
  /** Some bytes in; the quiet timer runs. */
  COLLECTING,
  DONE,
}

/**
 * Resolves with the request's bytes (the newline not included); rejects with a NetworkError
 * when the client sends nothing in time or goes away first. Bytes after the request are
 * discarded, as the reference server's one `recv` discards them.
 */
export function readRequest(socket: Socket, timing: RequestTiming = { quietMs: REQUEST_QUIET_MS, waitMs: REQUEST_WAIT_MS }): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let state = State.WAITING;
    // Never more than MAX_REQUEST_BYTES, however the client splits or floods.
    const request = Buffer.alloc(MAX_REQUEST_BYTES);
    let length = 0;
    let quiet: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => fail(new NetworkError(`sent no request within ${timing.waitMs / 1000} s`, 'ERR_TIMEOUT')), timing.waitMs);

    const finish = (): void => {
      if (state === State.DONE) return;
      state = State.DONE;
      stop();
      resolve(Buffer.from(request.subarray(0, length)));
    };
    const fail = (error: NetworkError): void => {
      if (state === State.DONE) return;
      state = State.DONE;
      stop();
      reject(error);
    };
    const stop = (): void => {
      clearTimeout(deadline);
      clearTimeout(quiet);
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const onData = (chunk: Buffer): void => {
      if (state === State.DONE) return;
      const newline = chunk.indexOf(0x0a);
      const take = Math.min(newline === -1 ? chunk.length : newline, MAX_REQUEST_BYTES - length);
      chunk.copy(request, length, 0, take);
      length += take;
      if (newline !== -1 || length === MAX_REQUEST_BYTES || isListRequest(request.subarray(0, length))) {
        finish();
        return;
      }
      state = State.COLLECTING;
      clearTimeout(quiet);
      quiet = setTimeout(finish, timing.quietMs);
    };
    const onClose = (): void => fail(new NetworkError('closed the connection before making a request', 'ERR_CONNECTION_CLOSED'));
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}

function isListRequest(bytes: Buffer): boolean {
  return bytes.equals(LIST_REQUEST);
}
