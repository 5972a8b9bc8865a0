/** The folder transfer's receiving state machine, without a socket: bytes in, replies and files out. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../src/errors.js';
import { FolderParser, FolderState, MAX_FOLDER_NAME_BYTES, type FolderFile } from '../src/reassemble/folder-parser.js';
import { opensFolderTransfer } from '../src/transport/folder-connection.js';

interface Run {
  parser: FolderParser;
  files: FolderFile[];
  /** Replies written, in order, each with the number of bytes pushed before it. */
  replies: number[];
  pushed: number;
  push(bytes: Buffer | string): void;
  quiet(): void;
}

function run(maxFileBytes = 1 << 20): Run {
  const parser = new FolderParser({ maxFileBytes, clock: () => 1000 });
  const r: Run = {
    parser,
    files: [],
    replies: [],
    pushed: 0,
    push(bytes) {
      const chunk = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
      parser.push(chunk, out);
      r.pushed += chunk.length;
    },
    quiet() {
      parser.quiet(out);
    },
  };
  const out = { reply: () => r.replies.push(r.pushed), file: (file: FolderFile) => r.files.push(file) };
  return r;
}

function jpegLike(size: number): Buffer {
  const data = randomBytes(size);
  data[0] = 0xff;
  data[1] = 0xd8;
  return data;
}

/** What the reference client sends, message by message, and whether it waits for a reply after each. */
function referenceMessages(dirname: string, files: [string, Buffer][]): { bytes: Buffer; waits: boolean }[] {
  const messages: { bytes: Buffer; waits: boolean }[] = [{ bytes: Buffer.from(`jpg|${dirname}`), waits: true }];
  files.forEach(([name, data], i) => {
    messages.push({ bytes: Buffer.from(`${data.length}|${name}`), waits: true });
    for (let off = 0; off < data.length; off += 1024) messages.push({ bytes: data.subarray(off, off + 1024), waits: true });
    messages.push({ bytes: Buffer.from(i < files.length - 1 ? 'continue' : 'over'), waits: false });
  });
  return messages;
}

function expectError(action: () => void, code: string): ProtocolError {
  let caught: unknown;
  try {
    action();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe(code);
  expect((caught as ProtocolError).message).not.toMatch(/\n/);
  return caught as ProtocolError;
}

describe('FolderParser', () => {
  const files: [string, Buffer][] = [
    ['a.jpg', jpegLike(3000)],
    ['b.png', Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), randomBytes(2040)])],
    ['exact.jpg', jpegLike(4096)],
    ['tiny.jpg', jpegLike(10)],
  ];

  it('takes the reference client message by message, answering every message it waits for', () => {
    const r = run();
    let waited = 0;
    for (const { bytes, waits } of referenceMessages('holiday', files)) {
      const before = r.replies.length;
      r.push(bytes);
      // The client goes quiet only when it waits: that is when a text message counts as complete.
      if (waits) {
        if (r.replies.length === before) r.quiet();
        expect(r.replies.length, `reply to message ${waited}`).toBe(before + 1);
        waited += 1;
      }
    }
    expect(r.parser.current).toBe(FolderState.DONE);
    expect(r.files.map((f) => [f.name, f.dirname, f.sourceType, f.index])).toEqual([
      ['a.jpg', 'holiday', 'jpg', 0],
      ['b.png', 'holiday', 'jpg', 1],
      ['exact.jpg', 'holiday', 'jpg', 2],
      ['tiny.jpg', 'holiday', 'jpg', 3],
    ]);
    r.files.forEach((file, i) => expect(file.data.equals(files[i]![1])).toBe(true));
    expect(r.parser.retainedBytes).toBe(0);
    expect(r.parser.truncation()).toBeUndefined();
  });

  it('answers file bytes at each 1024-byte boundary and at the end, without waiting for quiet', () => {
    const r = run();
    r.push('jpg|d');
    r.quiet();
    r.push('2500|x.jpg');
    r.quiet();
    expect(r.replies).toHaveLength(2);
    const data = jpegLike(2500);
    const before = r.pushed;
    r.push(data);
    // Pieces completed at 1024 and 2048, and the short last piece, all while this chunk was parsed.
    expect(r.replies.slice(2)).toEqual([before, before, before]);
    expect(r.files).toHaveLength(1);
  });

  it('answers other piece sizes when the client goes quiet', () => {
    const r = run();
    r.push('jpg|d');
    r.quiet();
    r.push('1536|x.jpg');
    r.quiet();
    const data = jpegLike(1536);
    r.push(data.subarray(0, 512));
    expect(r.replies).toHaveLength(2);
    r.quiet();
    expect(r.replies).toHaveLength(3);
    r.push(data.subarray(512, 1024));
    expect(r.replies).toHaveLength(4);
    r.push(data.subarray(1024));
    expect(r.replies).toHaveLength(5);
    expect(r.files[0]!.data.equals(data)).toBe(true);
  });

  it('takes the messages split into single bytes, with the quiet only where the client waits', () => {
    const r = run();
    for (const { bytes, waits } of referenceMessages('byte', files)) {
      const before = r.replies.length;
      for (const byte of bytes) r.push(Buffer.from([byte]));
      if (waits && r.replies.length === before) r.quiet();
    }
    expect(r.files.map((f) => f.name)).toEqual(files.map(([name]) => name));
    r.files.forEach((file, i) => expect(file.data.equals(files[i]![1])).toBe(true));
  });

  it('takes everything merged in one chunk: a header ends where the JPEG or PNG begins, continue and over by their bytes', () => {
    const r = run();
    r.push('jpg|merged');
    r.quiet();
    const rest = Buffer.concat(referenceMessages('merged', files).slice(1).map((m) => m.bytes));
    r.push(rest);
    expect(r.parser.current).toBe(FolderState.DONE);
    expect(r.files.map((f) => f.name)).toEqual(files.map(([name]) => name));
    r.files.forEach((file, i) => expect(file.data.equals(files[i]![1])).toBe(true));
  });

  it('keeps a UTF-8 name split between chunks, and ends it at a byte that breaks a character', () => {
    const r = run();
    r.push('jpg|d');
    r.quiet();
    const header = Buffer.from('3|été.jpg');
    for (const byte of header) r.push(Buffer.from([byte]));
    r.quiet();
    r.push(Buffer.from([0xff, 0xd8, 0xff]));
    expect(r.files[0]!.name).toBe('été.jpg');
    // C3 starts a character, but FF cannot continue it: C3 is the file's first byte.
    r.push('continue4|n.jpg');
    r.push(Buffer.from([0xc3, 0xff, 1, 2]));
    expect(r.files[1]!.name).toBe('n.jpg');
    expect([...r.files[1]!.data]).toEqual([0xc3, 0xff, 1, 2]);
  });

  it('delivers an empty file as soon as its header is complete', () => {
    const r = run();
    r.push('txt|d');
    r.quiet();
    r.push('0|empty.txt');
    r.quiet();
    expect(r.files.map((f) => [f.name, f.data.length])).toEqual([['empty.txt', 0]]);
    r.push('over');
    expect(r.parser.current).toBe(FolderState.DONE);
  });

  it('refuses a size over the limit at the digit that passes it, before any byte of the file', () => {
    const r = run(1 << 20);
    r.push('jpg|d');
    r.quiet();
    const error = expectError(() => r.push(`${10 * 1024 ** 3}|huge.jpg`), 'ERR_FOLDER_FILE_TOO_LARGE');
    expect(error.message).toMatch(/more than 1048576 bytes/);
    expect(r.parser.retainedBytes).toBe(0);
    expectError(() => r.push('x'), 'ERR_FOLDER_FILE_TOO_LARGE');
  });

  it('lets onHeader refuse a size', () => {
    const parser = new FolderParser({
      maxFileBytes: 1 << 20,
      onHeader: (size) => {
        if (size > 10) throw new ProtocolError('refused', 'ERR_FOLDER_FILE_TOO_LARGE');
      },
    });
    const out = { reply: () => {}, file: () => {} };
    parser.push(Buffer.from('jpg|d'), out);
    parser.quiet(out);
    expectError(() => parser.push(Buffer.from('11|a'), out), 'ERR_FOLDER_FILE_TOO_LARGE');
  });

  it('grows the buffer of a file with the bytes that came, not with the size announced', () => {
    const r = run(64 * 1024 * 1024);
    r.push('jpg|d');
    r.quiet();
    r.push('60000000|big.jpg');
    r.quiet();
    r.push(jpegLike(1000));
    expect(r.parser.retainedBytes).toBeLessThanOrEqual(64 * 1024);
    expect(r.parser.frameBytes).toBe(60_000_000);
  });

  it('refuses names and folder names over 255 bytes', () => {
    const r = run();
    expectError(() => r.push(`jpg|${'d'.repeat(MAX_FOLDER_NAME_BYTES + 1)}`), 'ERR_FOLDER_NAME_TOO_LONG');
    const s = run();
    s.push(`jpg|${'d'.repeat(MAX_FOLDER_NAME_BYTES)}`);
    s.quiet();
    expectError(() => s.push(`5|${'n'.repeat(MAX_FOLDER_NAME_BYTES + 1)}`), 'ERR_FOLDER_NAME_TOO_LONG');
  });

  it('refuses headers that are not SIZE|NAME, and flags that are not continue or over', () => {
    for (const header of ['abc|x.jpg', '-5|x.jpg', '|x.jpg', '1 2|x.jpg']) {
      const r = run();
      r.push('jpg|d');
      r.quiet();
      expectError(() => r.push(header), 'ERR_FOLDER_MESSAGE');
    }
    // A header that cannot be complete yet waits for the rest, however long the client pauses.
    const noName = run();
    noName.push('jpg|d');
    noName.quiet();
    noName.push('5|');
    noName.quiet();
    noName.push('a.jpg');
    noName.quiet();
    expect(noName.replies).toHaveLength(2);
    const flag = run();
    flag.push('jpg|d');
    flag.quiet();
    flag.push('1|a');
    flag.quiet();
    flag.push('z');
    expectError(() => flag.push('conti\x1b[2J'), 'ERR_FOLDER_MESSAGE');
  });

  it('refuses a first message that is not TYPE|FOLDER text', () => {
    expectError(() => run().push('jpg|ho\x00liday'), 'ERR_FOLDER_MESSAGE');
    const noType = run();
    noType.push('|holiday');
    expectError(() => noType.quiet(), 'ERR_FOLDER_MESSAGE');
    const waiting = run();
    waiting.push('jpg');
    waiting.quiet();
    waiting.push('|');
    waiting.quiet();
    expect(waiting.replies).toHaveLength(0);
    waiting.push('d');
    waiting.quiet();
    expect(waiting.replies).toHaveLength(1);
  });

  it('refuses bytes after over', () => {
    const r = run();
    r.push('jpg|d');
    r.quiet();
    r.push('1|a');
    r.quiet();
    r.push('xover');
    expectError(() => r.push('more'), 'ERR_FOLDER_MESSAGE');
  });

  it('says what a connection lost when it ends inside a file, and nothing between files', () => {
    const r = run();
    r.push('jpg|d');
    r.quiet();
    expect(r.parser.truncation()).toBeUndefined();
    r.push('100|cut.jpg');
    r.quiet();
    r.push(jpegLike(40));
    expect(r.parser.truncation()?.code).toBe('ERR_FOLDER_TRUNCATED');
    expect(r.parser.truncation()?.message).toMatch(/"cut\.jpg" \(40 of 100 bytes received\)/);
    r.push(jpegLike(60));
    expect(r.parser.truncation()).toBeUndefined();
  });
});

describe('FolderParser on hostile input', () => {
  it("only ever fails with a ProtocolError, and holds no more than it was given (or a file's first 64 KiB buffer)", () => {
    let seed = 7;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const prefixes = ['', 'jpg|d', 'jpg|d\0', 'jpg|d'];
    for (let round = 0; round < 3000; round++) {
      const parser = new FolderParser({ maxFileBytes: 1 << 20 });
      const out = { reply: () => {}, file: () => {} };
      let given = 0;
      try {
        const prefix = prefixes[round % prefixes.length]!;
        if (prefix) {
          parser.push(Buffer.from(prefix), out);
          parser.quiet(out);
        }
        for (let chunk = 0; chunk < 8; chunk++) {
          const bytes = Buffer.from(Array.from({ length: 1 + Math.floor(random() * 64) }, () => {
            const r = random();
            // Mostly digits, pipes and flag letters, so the deeper states are reached too.
            return r < 0.3 ? 0x30 + Math.floor(random() * 10) : r < 0.4 ? 0x7c : r < 0.6 ? 'continueover'.charCodeAt(Math.floor(random() * 12)) : Math.floor(random() * 256);
          }));
          given += bytes.length;
          parser.push(bytes, out);
          if (random() < 0.5) parser.quiet(out);
          expect(parser.retainedBytes).toBeLessThanOrEqual(Math.max(given, 64 * 1024) + 320);
        }
      } catch (err) {
        expect(err).toBeInstanceOf(ProtocolError);
        expect((err as Error).message).not.toMatch(/\n/);
      }
    }
  });
});

describe('opensFolderTransfer', () => {
  it('tells a first message from a frame header', () => {
    expect(opensFolderTransfer(Buffer.from('jpg|holiday'))).toBe(true);
    expect(opensFolderTransfer(Buffer.from('j'))).toBe(true);
    expect(opensFolderTransfer(Buffer.from('353             '))).toBe(false);
    expect(opensFolderTransfer(Buffer.from('             353'))).toBe(false);
    expect(opensFolderTransfer(Buffer.from('\x00\x00\x00353'))).toBe(false);
    // Garbage of a header's length without a `|` stays a (bad) frame header, as before.
    expect(opensFolderTransfer(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n'))).toBe(false);
  });
});
