import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { HEADER_SIZE, encodeHeader, parseHeader, printableBytes } from '../src/frame/header.js';

const MAX = 64 * 1024 * 1024;

/** A 16-byte header from a latin1 string, so tests can spell NULs and odd bytes. */
function header(text: string): Buffer {
  expect(text.length).toBe(HEADER_SIZE);
  return Buffer.from(text, 'latin1');
}

function parseError(buf: Buffer, max = MAX): ProtocolError {
  try {
    parseHeader(buf, max);
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return err as ProtocolError;
  }
  throw new Error(`expected ${printableBytes(buf)} to be rejected`);
}

describe('encodeHeader', () => {
  it("writes Python's str(n).ljust(16)", () => {
    for (const n of [1, 9, 10, 1234, 65_536, 123_456_789, 9_007_199_254_740_991]) {
      const buf = encodeHeader(n);
      expect(buf.length).toBe(HEADER_SIZE);
      expect(buf.toString('latin1')).toBe(String(n).padEnd(16, ' '));
    }
  });

  it('refuses lengths no receiver accepts', () => {
    for (const n of [0, -1, 1.5, Number.NaN, Infinity, 1e16]) {
      expect(() => encodeHeader(n)).toThrow(RangeError);
    }
  });

  it('round-trips through parseHeader', () => {
    for (const n of [1, 42, MAX]) expect(parseHeader(encodeHeader(n), MAX)).toBe(n);
  });
});

describe('parseHeader accepts what real senders write', () => {
  const cases: [string, string, number][] = [
    ['left-aligned, spaces (Python ljust)', '1234            ', 1234],
    ['right-aligned, spaces (rjust / %16d)', '            1234', 1234],
    ['centred', '      1234      ', 1234],
    ['left-aligned, NULs (C++ char[16] = {0})', '1234\0\0\0\0\0\0\0\0\0\0\0\0', 1234],
    ['right-aligned, NULs', '\0\0\0\0\0\0\0\0\0\0\0\0\x31\x32\x33\x34', 1234],
    ['mixed padding', ' \0 1234\0 \0 \0   \0', 1234],
    ['zero-padded (%016d)', '0000000000001234', 1234],
    ['one digit', '7               ', 7],
    ['16 digits exactly', '1234567890123456', 1_234_567_890_123_456],
  ];
  for (const [name, text, value] of cases) {
    it(name, () => expect(parseHeader(header(text), Number.MAX_SAFE_INTEGER)).toBe(value));
  }

  it('reads only the first 16 bytes', () => {
    expect(parseHeader(Buffer.from('12              \xff\xd8', 'latin1'), MAX)).toBe(12);
  });

  it('accepts a length equal to the limit', () => {
    expect(parseHeader(header('1000            '), 1000)).toBe(1000);
  });
});

describe('parseHeader rejects everything else', () => {
  const bad: [string, string, string][] = [
    ['letters', '12a4            ', 'ERR_BAD_HEADER'],
    ['hex', '0x10            ', 'ERR_BAD_HEADER'],
    ['plus sign', '+1234           ', 'ERR_BAD_HEADER'],
    ['minus sign', '-1234           ', 'ERR_BAD_HEADER'],
    ['decimal point', '12.5            ', 'ERR_BAD_HEADER'],
    ['exponent', '1e3             ', 'ERR_BAD_HEADER'],
    ['inner space', '12 34           ', 'ERR_BAD_HEADER'],
    ['inner NUL', '12\x0034           ', 'ERR_BAD_HEADER'],
    ['all spaces', '                ', 'ERR_BAD_HEADER'],
    ['all NULs', '\0'.repeat(16), 'ERR_BAD_HEADER'],
    ['newline', '1234\n           ', 'ERR_BAD_HEADER'],
    ['CRLF', '1234\r\n          ', 'ERR_BAD_HEADER'],
    ['tab', '1234\t           ', 'ERR_BAD_HEADER'],
    ['high byte', '1234\xff           ', 'ERR_BAD_HEADER'],
    ['JPEG bytes where a header should be', '\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01', 'ERR_BAD_HEADER'],
    ['zero', '0               ', 'ERR_EMPTY_FRAME'],
    ['zeros', '0000000000000000', 'ERR_EMPTY_FRAME'],
  ];
  for (const [name, text, code] of bad) {
    it(name, () => {
      const err = parseError(header(text));
      expect(err.code).toBe(code);
      expect(err.message).not.toMatch(/[\n\r]/);
    });
  }

  it('a length over the limit', () => {
    const err = parseError(header('1001            '), 1000);
    expect(err.code).toBe('ERR_FRAME_TOO_LARGE');
    expect(err.message).toContain('1001');
    expect(err.message).toContain('1000');
  });

  it('16 nines against the default-sized limit', () => {
    expect(parseError(header('9999999999999999')).code).toBe('ERR_FRAME_TOO_LARGE');
  });

  it('shows the offending bytes escaped, on one printable line', () => {
    const err = parseError(header('12\n\x00\x1b[2J\xff"\\     '));
    expect(err.message).toContain(String.raw`"12\n\u0000\u001b[2J\u00ff\"\\     "`);
    expect(err.message).toMatch(/^[\x20-\x7e]+$/);
  });

  it('printableBytes is valid JSON that decodes to the latin1 bytes', () => {
    const bytes = Buffer.from(Array.from({ length: 16 }, (_, i) => i * 17));
    expect(JSON.parse(printableBytes(bytes))).toBe(bytes.toString('latin1'));
  });
});
