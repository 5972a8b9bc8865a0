/**
 * Reads a server's answer to a request: `True` and then frames (possibly in the same
 * segment), or anything else, which is a refusal shown to the user as one line.
 */
import type { Socket } from 'node:net';
import { NetworkError } from '../../errors.js';
import { ACCEPTED } from './wire.js';

/** How long a server may take to answer. */
export const ANSWER_WAIT_MS = 10_000;
/** A refusal is read up to its newline, this many bytes, or a quiet moment after its last byte. */
const MAX_REFUSAL_BYTES = 256;
const REFUSAL_QUIET_MS = 100;

export type Answer = { accepted: true; rest: Buffer } | { accepted: false; text: Buffer };

const enum State {
  /** What came so far could still be `True`. */
  UNDECIDED,
  /** Not `True`: the refusal's text is being read. */
  REFUSAL,
  DONE,
}

/**
 * Resolves with the answer; the socket is left paused, with the bytes after `True` in
 * `rest`. Rejects with a NetworkError when the server closes or says nothing in time.
 */
export function readAnswer(socket: Socket, waitMs = ANSWER_WAIT_MS): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let state = State.UNDECIDED;
    let got = Buffer.alloc(0);
    let quiet: NodeJS.Timeout | undefined;
    const deadline = setTimeout(() => fail(new NetworkError(`no answer within ${waitMs / 1000} s`, 'ERR_TIMEOUT')), waitMs);

    const stop = (): void => {
      state = State.DONE;
      clearTimeout(deadline);
      clearTimeout(quiet);
      socket.pause();
      socket.off('data', onData);
      socket.off('close', onClose);
    };
    const fail = (error: NetworkError): void => {
      if (state === State.DONE) return;
      stop();
      reject(error);
    };
    const refused = (): void => {
      if (state === State.DONE) return;
      stop();
      const newline = got.indexOf(0x0a);
      resolve({ accepted: false, text: got.subarray(0, newline === -1 ? Math.min(got.length, MAX_REFUSAL_BYTES) : newline) });
    };
    const onData = (chunk: Buffer): void => {
      if (state === State.DONE) return;
      if (state === State.UNDECIDED) {
        // Fewer than four bytes came before: all of them are kept until it is decided.
        const all = Buffer.concat([got, chunk]);
        if (all.length >= ACCEPTED.length && all.subarray(0, ACCEPTED.length).equals(ACCEPTED)) {
          stop();
          // The frames that came with `True` go to the frame reader.
          resolve({ accepted: true, rest: all.subarray(ACCEPTED.length) });
          return;
        }
        if (all.length < ACCEPTED.length && ACCEPTED.subarray(0, all.length).equals(all)) {
          got = all;
          return;
        }
        state = State.REFUSAL;
        got = Buffer.from(all.subarray(0, MAX_REFUSAL_BYTES + 1));
      } else {
        // Bounded: nothing past a refusal's limit is kept.
        got = Buffer.concat([got, chunk.subarray(0, Math.max(0, MAX_REFUSAL_BYTES + 1 - got.length))]);
      }
      if (got.includes(0x0a) || got.length > MAX_REFUSAL_BYTES) {
        refused();
        return;
      }
      clearTimeout(quiet);
      quiet = setTimeout(refused, REFUSAL_QUIET_MS);
    };
    const onClose = (): void => {
      if (state === State.REFUSAL) refused();
      else fail(new NetworkError('the server closed the connection without answering', 'ERR_CONNECTION_CLOSED'));
    };
    socket.on('data', onData);
    socket.on('close', onClose);
  });
}
