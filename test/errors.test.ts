import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { PixelLimitError, ScanLimitError } from '../src/decode/limits.js';
import {
  AuthError,
  DisplayError,
  ERROR_CODES,
  EXIT_CODE_OF_KIND,
  ExitCode,
  FfmpegError,
  NetworkError,
  OutputError,
  ProtocolError,
  SourceError,
  UsageError,
  VstreamError,
  exitCodeOf,
  isErrorCode,
  type ErrorCode,
  type ErrorKind,
  type NetworkCode,
  type ProtocolCode,
} from '../src/errors.js';
import { networkError } from '../src/transport/socket-errors.js';

const ROOT = join(import.meta.dirname, '..');

/** Each kind's class, built with a code of that kind. */
const CLASS_OF_KIND: Record<ErrorKind, { type: new (...args: never[]) => VstreamError; make: (code: ErrorCode) => VstreamError }> = {
  usage: { type: UsageError, make: (code) => new UsageError('m', code as never) },
  network: { type: NetworkError, make: (code) => new NetworkError('m', code as never) },
  source: { type: SourceError, make: (code) => new SourceError('m', code as never) },
  ffmpeg: { type: FfmpegError, make: (code) => new FfmpegError('m', code as never) },
  protocol: { type: ProtocolError, make: (code) => new ProtocolError('m', code as never) },
  display: { type: DisplayError, make: (code) => new DisplayError('m', code as never) },
  output: { type: OutputError, make: (code) => new OutputError('m', code as never) },
  auth: { type: AuthError, make: (code) => new AuthError('m', code as never) },
};

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** Codes that the libjpeg-turbo addon sets on its own errors: not vstream's, never shown. */
const NATIVE_ADDON_CODES = new Set(['ERR_JPEG_TOO_LARGE', 'ERR_JPEG_TARGET_SIZE']);

function codesIn(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match[1]!);
}

/** The `ERR_*` codes in the table rows between `heading` and the next heading of docs/PROTOCOL.md. */
function tableCodesUnder(heading: string): string[] {
  const doc = readFileSync(join(ROOT, 'docs/PROTOCOL.md'), 'utf8');
  const start = doc.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThan(-1);
  const rest = doc.slice(start + heading.length + 2);
  const section = rest.slice(0, rest.search(/\n#{2,4} /));
  return codesIn(section, /^\| `(ERR_[A-Z0-9_]+)` \|/gm);
}

describe('the table of error codes', () => {
  it('keeps the exit code of every class, one exit code per class', () => {
    expect(EXIT_CODE_OF_KIND).toEqual({ usage: 2, network: 3, source: 4, ffmpeg: 5, protocol: 6, display: 7, output: 8, auth: 9 });
    expect(new Set(Object.values(EXIT_CODE_OF_KIND)).size).toBe(Object.keys(EXIT_CODE_OF_KIND).length);
  });

  it('gives every code the exit code of its kind, through its class', () => {
    for (const code of CODES) {
      const kind = ERROR_CODES[code];
      const error = CLASS_OF_KIND[kind].make(code);
      expect(error.code).toBe(code);
      expect(error.exitCode, code).toBe(EXIT_CODE_OF_KIND[kind]);
      expect(exitCodeOf(code), code).toBe(EXIT_CODE_OF_KIND[kind]);
      const classes = Object.values(CLASS_OF_KIND).filter(({ type }) => error instanceof type);
      expect(classes.map(({ type }) => type.name), code).toEqual([CLASS_OF_KIND[kind].type.name]);
    }
  });

  it("gives each class a default code of its own kind", () => {
    const defaults: [VstreamError, ErrorKind][] = [
      [new UsageError('m'), 'usage'],
      [new NetworkError('m'), 'network'],
      [new SourceError('m'), 'source'],
      [new FfmpegError('m'), 'ffmpeg'],
      [new ProtocolError('m'), 'protocol'],
      [new DisplayError('m'), 'display'],
      [new OutputError('m'), 'output'],
    ];
    for (const [error, kind] of defaults) {
      expect(ERROR_CODES[error.code], error.code).toBe(kind);
      expect(error.exitCode).toBe(EXIT_CODE_OF_KIND[kind]);
    }
  });

  it('has the decoding limits as protocol errors', () => {
    expect(new PixelLimitError({ width: 2, height: 2 }, 1)).toMatchObject({ code: 'ERR_PIXEL_LIMIT', exitCode: ExitCode.PROTOCOL });
    expect(new ScanLimitError()).toMatchObject({ code: 'ERR_JPEG_TOO_MANY_SCANS', exitCode: ExitCode.PROTOCOL });
  });

  it('tells codes from other strings', () => {
    expect(isErrorCode('ERR_BAD_HEADER')).toBe(true);
    expect(isErrorCode('ECONNREFUSED')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode(undefined)).toBe(false);
  });

  it("refuses, at compile time, a class given another class's code", () => {
    expectTypeOf<NetworkError['code']>().toEqualTypeOf<NetworkCode>();
    expectTypeOf<'ERR_BAD_HEADER'>().toExtend<ProtocolCode>();
    expectTypeOf<'ERR_BAD_HEADER'>().not.toExtend<NetworkCode>();
    // @ts-expect-error a protocol code is not a network code
    const mismatched = (): NetworkError => new NetworkError('m', 'ERR_BAD_HEADER');
    // @ts-expect-error not a code at all
    const unknown = (): ProtocolError => new ProtocolError('m', 'ERR_NO_SUCH_CODE');
    expect([mismatched, unknown]).toHaveLength(2);
  });
});

describe('Node socket errors', () => {
  it('become network errors with codes from the table', () => {
    for (const errno of ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE', 'EADDRINUSE', 'EACCES', 'EADDRNOTAVAIL', 'EAFNOSUPPORT', 'ESOMETHINGELSE']) {
      const error = networkError('cannot connect to x', Object.assign(new Error('boom'), { code: errno }));
      expect(error).toBeInstanceOf(NetworkError);
      expect(ERROR_CODES[error.code], errno).toBe('network');
      expect(error.exitCode).toBe(ExitCode.NETWORK);
    }
    expect(networkError('x', Object.assign(new Error('boom'), { code: 'EADDRINUSE' })).code).toBe('ERR_PORT_IN_USE');
    expect(networkError('x', Object.assign(new Error('boom'), { code: 'ESOMETHINGELSE' })).code).toBe('ERR_NETWORK');
  });
});

describe('the codes the docs name', () => {
  it('are all in the table', () => {
    for (const file of ['docs/PROTOCOL.md', 'README.md']) {
      const named = codesIn(readFileSync(join(ROOT, file), 'utf8'), /`(ERR_[A-Z0-9_]+)`/g);
      expect(named.length, file).toBeGreaterThan(0);
      expect(named.filter((code) => !isErrorCode(code)), file).toEqual([]);
    }
  });

  it('are protocol errors where PROTOCOL.md says they are', () => {
    const framing = tableCodesUnder('### Errors');
    expect(framing).toContain('ERR_BAD_HEADER');
    for (const code of framing) expect(ERROR_CODES[code as ErrorCode], code).toBe('protocol');
  });

  it('match the exit codes the README gives them', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d+) \| (.*) \|$/gm)];
    let checked = 0;
    for (const [, exit, text] of rows) {
      for (const code of codesIn(text!, /`(ERR_[A-Z0-9_]+)`/g)) {
        expect(exitCodeOf(code as ErrorCode), code).toBe(Number(exit));
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });
});

describe('the codes in the source', () => {
  it("are all in the table, but for the JPEG addon's own", () => {
    const src = join(ROOT, 'src');
    const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter((name) => name.endsWith('.ts'));
    const unknown = new Set<string>();
    for (const name of files) {
      for (const code of codesIn(readFileSync(join(src, name), 'utf8'), /'(ERR_[A-Z0-9_]+)'/g)) {
        if (!isErrorCode(code) && !NATIVE_ADDON_CODES.has(code)) unknown.add(`${name}: ${code}`);
      }
    }
    expect(files.length).toBeGreaterThan(10);
    expect([...unknown]).toEqual([]);
  });
});
