/**
 * The 16-byte frame header of the reference Python/OpenCV and C++ programs: the payload
 * length in ASCII decimal. See docs/PROTOCOL.md for the grammar.
 */
import { AuthError, ProtocolError } from '../errors.js';

export const HEADER_SIZE = 16;

const SPACE = 0x20;
const NUL = 0x00;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** The largest length 16 decimal digits can hold. */
const MAX_HEADER_VALUE = 10 ** HEADER_SIZE - 1;

/**
 * Python's `str(n).ljust(16)`, byte for byte, so any reference receiver can read it.
 * Throws RangeError for a length no receiver would accept (0, negative, fractional, or
 * more than 16 digits): that is a bug in the caller, not a peer's fault.
 */
export function encodeHeader(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 1 || length > MAX_HEADER_VALUE) {
    throw new RangeError(`frame length must be an integer from 1 to ${MAX_HEADER_VALUE}, got ${length}`);
  }
  const header = Buffer.alloc(HEADER_SIZE, SPACE);
  header.write(String(length), 0, 'latin1');
  return header;
}

/**
 * Reads the payload length from the first HEADER_SIZE bytes of `buf`. Accepts one run of
 * ASCII digits with any mix of spaces and NULs on either side (left-, right-aligned or
 * centred; C++ senders pad with NULs); leading zeros are allowed (`%016d`). Anything else
 * throws a ProtocolError: ERR_BAD_HEADER (syntax), ERR_EMPTY_FRAME (length 0),
 * ERR_FRAME_TOO_LARGE (length > maxFrameBytes); a TLS alert throws an AuthError (see
 * checkHeaderStart).
 */
export function parseHeader(buf: Buffer, maxFrameBytes: number): number {
  if (buf.length < HEADER_SIZE) {
    throw new RangeError(`parseHeader needs ${HEADER_SIZE} bytes, got ${buf.length}`);
  }
  let first = -1;
  let last = -1;
  for (let i = 0; i < HEADER_SIZE; i++) {
    const byte = buf[i]!;
    if (byte >= DIGIT_0 && byte <= DIGIT_9) {
      // A second run of digits means padding inside the number ("12 34"): ambiguous.
      if (last !== -1 && last !== i - 1) throw badHeader(buf, 'padding inside the number');
      if (first === -1) first = i;
      last = i;
    } else if (byte !== SPACE && byte !== NUL) {
      if (i === 0) checkHeaderStart(buf);
      throw badHeader(buf, `unexpected byte 0x${byte.toString(16).padStart(2, '0')} at offset ${i}`);
    }
  }
  if (first === -1) throw badHeader(buf, 'no digits');

  // Beyond 2^53 this loses precision, but such a value is far over any limit anyway.
  let length = 0;
  for (let i = first; i <= last; i++) length = length * 10 + (buf[i]! - DIGIT_0);

  if (length === 0) {
    throw new ProtocolError(`frame header ${printableBytes(buf)} announces an empty frame`, 'ERR_EMPTY_FRAME');
  }
  if (length > maxFrameBytes) {
    throw new ProtocolError(
      `frame header ${printableBytes(buf)} announces ${buf.toString('latin1', first, last + 1)} bytes, ` +
        `over the limit of ${maxFrameBytes} (--max-frame-bytes)`,
      'ERR_FRAME_TOO_LARGE',
    );
  }
  return length;
}

/** The first bytes of a TLS record: its type (0x16 handshake, 0x15 alert), then major version 3. */
const TLS_HANDSHAKE = 0x16;
const TLS_ALERT = 0x15;
const TLS_MAJOR_VERSION = 0x03;

/** Whether `buf` starts with a TLS record, the sign of a peer with a shared secret, and of which kind. */
export function tlsRecordAt(buf: Buffer): 'handshake' | 'alert' | undefined {
  if (buf.length < 2 || buf[1] !== TLS_MAJOR_VERSION) return undefined;
  if (buf[0] === TLS_HANDSHAKE) return 'handshake';
  if (buf[0] === TLS_ALERT) return 'alert';
  return undefined;
}

/**
 * Whether `start`, the first bytes a connection ever received, open a TLS alert record (an end
 * with the secret refusing this one): 'maybe' while too few are in to tell.
 */
export function opensWithTlsAlert(start: Buffer): 'yes' | 'no' | 'maybe' {
  if (start.length === 0 || (start.length === 1 && start[0] === TLS_ALERT)) return 'maybe';
  return tlsRecordAt(start) === 'alert' ? 'yes' : 'no';
}

/**
 * Throws when the first bytes of a header (2 are enough, fewer are let through) are a TLS
 * record: a ProtocolError for a handshake (a sender with the secret), an AuthError for an alert
 * (an end with the secret refusing this one, src/transport/secure-socket.ts; the alert is
 * shorter than a header and followed by the close, so it is told from its start).
 */
export function checkHeaderStart(buf: Buffer): void {
  const record = tlsRecordAt(buf);
  if (record === 'handshake') throw badHeader(buf, 'a TLS handshake: the sender has a shared secret and this receiver none (give both the same --secret-file)');
  if (record === 'alert') throw new AuthError('refused by a TLS alert: the peer has a shared secret and this end none (give both the same --secret-file)');
}

/**
 * The first HEADER_SIZE bytes as a double-quoted JSON string in which every byte outside
 * printable ASCII is a \u00XX escape, so a hostile header cannot break a one-line message
 * or a terminal.
 */
export function printableBytes(buf: Buffer): string {
  return JSON.stringify(buf.toString('latin1', 0, Math.min(buf.length, HEADER_SIZE))).replace(
    /[\u007f-\u00ff]/g,
    (c) => `\\u00${c.charCodeAt(0).toString(16)}`,
  );
}

function badHeader(buf: Buffer, why: string): ProtocolError {
  return new ProtocolError(
    `bad frame header ${printableBytes(buf)}: ${why} (expected a decimal length padded with spaces or NULs)`,
    'ERR_BAD_HEADER',
  );
}
