/**
 * The receiving side of the folder transfer the reference socket programs use (format in
 * docs/PROTOCOL.md, "Folder transfer"): a first message `fmt|dirname`, then per file a header
 * `size|name`, its bytes, and `continue` or `over`. Pure: it is pushed bytes and told when the
 * client went quiet, and it answers through `FolderOutput`; the socket, the timer and the
 * frames are the caller's (src/transport/folder-connection.ts).
 *
 * Text messages have no terminator. The client waits for a reply after each one, so a message
 * is complete when the client goes quiet (`quiet()`); a file header is also complete at the
 * first byte that cannot be part of a name (a control character or a byte that is not UTF-8,
 * as every JPEG and PNG begins), so a client that sends header and data without waiting works
 * too. `continue` and `over` are recognised by their bytes, merged with what follows or not.
 *
 * Nothing from the wire is trusted: the size is checked digit by digit against the limit
 * before any byte of the file is kept, names are bounded, and the file's buffer grows with the
 * bytes that actually arrived, never to a size the header announced.
 */
import { ProtocolError } from '../errors.js';
import { wireText } from '../text/wire-text.js';

/** The reference client's piece size: one reply per piece of a file's bytes. */
export const FOLDER_PIECE_BYTES = 1024;
/** The longest file or folder name accepted: the limit of ext4, NTFS and friends. */
export const MAX_FOLDER_NAME_BYTES = 255;
/** The longest source type (`jpg`, `png`, ...) accepted in the first message. */
export const MAX_SOURCE_TYPE_BYTES = 64;
/** Decimal digits of a size: more than any limit needs, leading zeros included. */
const MAX_SIZE_DIGITS = 20;
/** Smallest buffer a file's bytes are gathered in; it doubles as they come, up to the file's size. */
const FIRST_BUFFER_BYTES = 64 * 1024;

const PIPE = 0x7c;
const CONTINUE = Buffer.from('continue');
const OVER = Buffer.from('over');
const MAX_MESSAGE_BYTES = MAX_SOURCE_TYPE_BYTES + 1 + MAX_FOLDER_NAME_BYTES;

export enum FolderState {
  /** `fmt|dirname`, until the client goes quiet. */
  FIRST_MESSAGE,
  /** `size|name`, until the client goes quiet or a byte that no name has. */
  FILE_HEADER,
  /** `size` bytes of the file. */
  FILE_DATA,
  /** `continue` (another file follows) or `over`. */
  FLAG,
  /** After `over`: nothing more may come. */
  DONE,
}

/** One file of a folder transfer, received whole. */
export interface FolderFile {
  /** 0 for the first file of the connection. */
  index: number;
  /** The folder name from the first message, as sent (not made safe). */
  dirname: string;
  /** The source type from the first message (`jpg`). */
  sourceType: string;
  /** The file name from its header, as sent (not made safe). */
  name: string;
  data: Buffer;
  /** When its header was complete (`clock()`). */
  startedAt: number;
}

/** Where the parser's answers go. */
export interface FolderOutput {
  /** Write one `ok` to the client. */
  reply(): void;
  file(file: FolderFile): void;
}

export interface FolderParserOptions {
  /** Files announcing more bytes than this are refused before any of their bytes is kept. */
  maxFileBytes: number;
  /** Runs on each file size as soon as its header has it; throwing refuses the file. */
  onHeader?: (size: number) => void;
  /** Time stamps for `startedAt` (ms since the epoch). */
  clock?: () => number;
}

/** Incremental UTF-8 check of a name, for bytes arriving one at a time. */
interface Utf8Cursor {
  /** Continuation bytes still due for the character in progress. */
  need: number;
  /** Allowed range of the next continuation byte (narrower after E0, ED, F0, F4). */
  lo: number;
  hi: number;
  /** Where the character in progress began in the message. */
  start: number;
}

export class FolderParser {
  private state = FolderState.FIRST_MESSAGE;
  private failure: ProtocolError | undefined;
  private readonly text = Buffer.alloc(MAX_MESSAGE_BYTES);
  private textLength = 0;
  /** Index of the first `|` in `text`, -1 before it. */
  private pipeAt = -1;
  private readonly utf8: Utf8Cursor = { need: 0, lo: 0x80, hi: 0xbf, start: 0 };
  private dirname = '';
  private sourceType = '';
  private fileIndex = 0;
  private fileName = '';
  private fileSize = 0;
  private fileStartedAt = 0;
  private data: Buffer | undefined;
  private received = 0;
  /** Bytes of the file in progress that a reply has answered. */
  private answered = 0;
  private readonly clock: () => number;

  constructor(private readonly options: FolderParserOptions) {
    if (!Number.isSafeInteger(options.maxFileBytes) || options.maxFileBytes < 1) {
      throw new RangeError(`maxFileBytes must be a positive integer, got ${options.maxFileBytes}`);
    }
    this.clock = options.clock ?? (() => performance.timeOrigin + performance.now());
  }

  /** Where in the transfer it is. */
  get current(): FolderState {
    return this.state;
  }

  /** Bytes of a message or file in progress; 0 between files (the connection may end there). */
  get pendingBytes(): number {
    if (this.failure) return 0;
    if (this.state === FolderState.FILE_DATA) return this.received + 1;
    if (this.state === FolderState.FIRST_MESSAGE || this.state === FolderState.FILE_HEADER) return this.textLength;
    return 0;
  }

  /** The size of the file in progress as its header announced; else the bytes of the message so far. */
  get frameBytes(): number {
    return this.state === FolderState.FILE_DATA ? this.fileSize : this.textLength;
  }

  /** Memory kept for bytes not handed out yet: what a receiver charges to its budget. */
  get retainedBytes(): number {
    return (this.data?.length ?? 0) + this.textLength;
  }

  /** Whether `quiet()` would do something: a message could end here, or bytes wait for their reply. */
  get waitsForQuiet(): boolean {
    if (this.failure) return false;
    if (this.state === FolderState.FILE_DATA) return this.received > this.answered;
    if (this.state === FolderState.FIRST_MESSAGE && this.pipeAt === 0) return true;
    return (this.state === FolderState.FIRST_MESSAGE || this.state === FolderState.FILE_HEADER) && this.couldEnd();
  }

  /** Feeds bytes. Throws a ProtocolError for input that breaks the protocol; stays failed after. */
  push(chunk: Buffer, out: FolderOutput): void {
    if (this.failure) throw this.failure;
    let at = 0;
    while (at < chunk.length) {
      switch (this.state) {
        case FolderState.FIRST_MESSAGE:
          at = this.readFirstMessage(chunk, at);
          break;
        case FolderState.FILE_HEADER:
          at = this.readHeader(chunk, at, out);
          break;
        case FolderState.FILE_DATA:
          at = this.readData(chunk, at, out);
          break;
        case FolderState.FLAG:
          at = this.readFlag(chunk, at);
          break;
        case FolderState.DONE:
          this.fail(`${chunk.length - at} bytes after "over"`, 'ERR_FOLDER_MESSAGE');
      }
    }
  }

  /**
   * The client has sent nothing for a while: it waits for a reply. A message in progress is
   * complete now (and answered), unless it cannot be yet (no `|`, nothing after it, half a
   * character): a client held up in the middle of one just goes on later, and one that never
   * does meets the idle timeout. File bytes not answered yet are answered, for clients whose
   * pieces are not 1024 bytes.
   */
  quiet(out: FolderOutput): void {
    if (this.failure) throw this.failure;
    if (!this.waitsForQuiet) return;
    if (this.state === FolderState.FIRST_MESSAGE) this.endFirstMessage(out);
    else if (this.state === FolderState.FILE_HEADER) this.endHeader(this.textLength, out);
    else if (this.state === FolderState.FILE_DATA && this.received > this.answered) {
      this.answered = this.received;
      out.reply();
    }
  }

  /** The error for input that ended inside a message or a file; undefined if it ended between files. */
  truncation(): ProtocolError | undefined {
    if (this.failure || this.pendingBytes === 0) return undefined;
    if (this.state === FolderState.FILE_DATA) {
      return new ProtocolError(
        `connection closed in the middle of file "${wireText(this.fileName)}" (${this.received} of ${this.fileSize} bytes received)`,
        'ERR_FOLDER_TRUNCATED',
      );
    }
    const what = this.state === FolderState.FIRST_MESSAGE ? 'the first message' : 'a file header';
    return new ProtocolError(`connection closed in the middle of ${what} (${this.textLength} bytes of it received)`, 'ERR_FOLDER_TRUNCATED');
  }

  /** Whether the message so far has the form `TEXT|TEXT`, ending at a character boundary. */
  private couldEnd(): boolean {
    return this.pipeAt >= 0 && this.textLength > this.pipeAt + 1 && this.utf8.need === 0;
  }

  private readFirstMessage(chunk: Buffer, at: number): number {
    for (; at < chunk.length; at++) {
      const byte = chunk[at]!;
      if (!this.nameByte(byte)) this.fail(`first message ${this.shown(chunk, at)} is not text of the form TYPE|FOLDER`, 'ERR_FOLDER_MESSAGE');
      if (this.pipeAt < 0 && byte === PIPE) this.pipeAt = this.textLength;
      else if (this.pipeAt < 0 && this.textLength >= MAX_SOURCE_TYPE_BYTES) {
        this.fail(`first message ${this.shown(chunk, at)}: no "|" within ${MAX_SOURCE_TYPE_BYTES} bytes`, 'ERR_FOLDER_MESSAGE');
      } else if (this.pipeAt >= 0 && this.textLength - this.pipeAt > MAX_FOLDER_NAME_BYTES) {
        this.fail(`folder name longer than ${MAX_FOLDER_NAME_BYTES} bytes`, 'ERR_FOLDER_NAME_TOO_LONG');
      }
      this.text[this.textLength++] = byte;
    }
    return at;
  }

  private endFirstMessage(out: FolderOutput): void {
    if (this.utf8.need > 0 || this.pipeAt <= 0 || this.pipeAt === this.textLength - 1) {
      this.fail(`first message ${this.shown()} is not of the form TYPE|FOLDER`, 'ERR_FOLDER_MESSAGE');
    }
    this.sourceType = this.text.toString('utf8', 0, this.pipeAt);
    this.dirname = this.text.toString('utf8', this.pipeAt + 1, this.textLength);
    this.nextMessage(FolderState.FILE_HEADER);
    out.reply();
  }

  private readHeader(chunk: Buffer, at: number, out: FolderOutput): number {
    for (; at < chunk.length; at++) {
      const byte = chunk[at]!;
      if (this.pipeAt < 0) {
        this.headerSizeByte(byte, chunk, at);
        continue;
      }
      if (!this.nameByte(byte)) {
        // The name ended before this byte, or before the character it breaks: the rest is the file's.
        const nameEnd = this.utf8.need > 0 ? this.utf8.start : this.textLength;
        const carried = Buffer.from(this.text.subarray(nameEnd, this.textLength));
        this.endHeader(nameEnd, out);
        if (carried.length > 0) this.push(carried, out);
        return at;
      }
      if (this.textLength - this.pipeAt > MAX_FOLDER_NAME_BYTES) {
        this.fail(`file name longer than ${MAX_FOLDER_NAME_BYTES} bytes`, 'ERR_FOLDER_NAME_TOO_LONG');
      }
      this.text[this.textLength++] = byte;
    }
    return at;
  }

  /** A byte of the size, or the `|` after it; the limit is checked with each digit. */
  private headerSizeByte(byte: number, chunk: Buffer, at: number): void {
    if (byte === PIPE && this.textLength > 0) {
      this.pipeAt = this.textLength;
      this.text[this.textLength++] = byte;
      this.utf8.need = 0;
      this.options.onHeader?.(this.fileSize);
      return;
    }
    if (byte < 0x30 || byte > 0x39 || this.textLength >= MAX_SIZE_DIGITS) {
      this.fail(`file header ${this.shown(chunk, at)} is not of the form SIZE|NAME`, 'ERR_FOLDER_MESSAGE');
    }
    this.fileSize = this.fileSize * 10 + (byte - 0x30);
    if (this.fileSize > this.options.maxFileBytes) {
      this.fail(`file header ${this.shown(chunk, at)} announces more than ${this.options.maxFileBytes} bytes (--max-frame-bytes)`, 'ERR_FOLDER_FILE_TOO_LARGE');
    }
    this.text[this.textLength++] = byte;
  }

  /** The header's name is `text` from after the `|` to `nameEnd`: the file begins. */
  private endHeader(nameEnd: number, out: FolderOutput): void {
    if (this.pipeAt < 0 || nameEnd <= this.pipeAt + 1 || (nameEnd === this.textLength && this.utf8.need > 0)) {
      this.fail(`file header ${this.shown()} is not of the form SIZE|NAME`, 'ERR_FOLDER_MESSAGE');
    }
    this.fileName = this.text.toString('utf8', this.pipeAt + 1, nameEnd);
    this.fileStartedAt = this.clock();
    this.fileIndex += 1;
    this.received = 0;
    this.answered = 0;
    this.nextMessage(FolderState.FILE_DATA);
    out.reply();
    if (this.fileSize === 0) this.endFile(Buffer.alloc(0), out);
  }

  private readData(chunk: Buffer, at: number, out: FolderOutput): number {
    const take = Math.min(chunk.length - at, this.fileSize - this.received);
    const needed = this.received + take;
    if (this.data === undefined || this.data.length < needed) {
      const grown = Buffer.allocUnsafe(Math.min(this.fileSize, Math.max(needed, FIRST_BUFFER_BYTES, 2 * (this.data?.length ?? 0))));
      this.data?.copy(grown, 0, 0, this.received);
      this.data = grown;
    }
    chunk.copy(this.data, this.received, at, at + take);
    this.received = needed;
    // One reply per 1024-byte piece completed, and one for the last, short piece.
    let replies = Math.floor(this.received / FOLDER_PIECE_BYTES) - Math.floor(this.answered / FOLDER_PIECE_BYTES);
    if (this.received === this.fileSize && this.fileSize % FOLDER_PIECE_BYTES !== 0) replies += 1;
    if (replies > 0) this.answered = this.received;
    for (let i = 0; i < replies; i++) out.reply();
    if (this.received === this.fileSize) {
      const data = this.data;
      this.data = undefined;
      this.endFile(data.length === this.fileSize ? data : data.subarray(0, this.fileSize), out);
    }
    return at + take;
  }

  private endFile(data: Buffer, out: FolderOutput): void {
    this.nextMessage(FolderState.FLAG);
    out.file({
      index: this.fileIndex - 1,
      dirname: this.dirname,
      sourceType: this.sourceType,
      name: this.fileName,
      data,
      startedAt: this.fileStartedAt,
    });
  }

  private readFlag(chunk: Buffer, at: number): number {
    while (at < chunk.length) {
      this.text[this.textLength++] = chunk[at++]!;
      const got = this.text.subarray(0, this.textLength);
      if (got.equals(OVER)) {
        this.nextMessage(FolderState.DONE);
        return at;
      }
      if (got.equals(CONTINUE)) {
        this.nextMessage(FolderState.FILE_HEADER);
        return at;
      }
      if (!startsOf(CONTINUE, got) && !startsOf(OVER, got)) {
        this.fail(`expected "continue" or "over" after file "${wireText(this.fileName)}", got ${this.shown()}`, 'ERR_FOLDER_MESSAGE');
      }
    }
    return at;
  }

  private nextMessage(state: FolderState): void {
    this.state = state;
    this.textLength = 0;
    this.pipeAt = -1;
    this.utf8.need = 0;
    if (state === FolderState.FILE_HEADER) this.fileSize = 0;
  }

  /**
   * Whether `byte` may come next in a name: printable, and UTF-8 so far (a character split
   * across chunks waits for its other bytes).
   */
  private nameByte(byte: number): boolean {
    const u = this.utf8;
    if (u.need > 0) {
      if (byte < u.lo || byte > u.hi) return false;
      u.need -= 1;
      u.lo = 0x80;
      u.hi = 0xbf;
      return true;
    }
    if (byte < 0x20 || byte === 0x7f) return false;
    if (byte < 0x80) return true;
    u.start = this.textLength;
    u.lo = 0x80;
    u.hi = 0xbf;
    if (byte >= 0xc2 && byte <= 0xdf) u.need = 1;
    else if (byte >= 0xe0 && byte <= 0xef) {
      u.need = 2;
      // No overlong forms (E0 80..9F) and no UTF-16 surrogates (ED A0..BF).
      if (byte === 0xe0) u.lo = 0xa0;
      if (byte === 0xed) u.hi = 0x9f;
    } else if (byte >= 0xf0 && byte <= 0xf4) {
      u.need = 3;
      if (byte === 0xf0) u.lo = 0x90;
      if (byte === 0xf4) u.hi = 0x8f;
    } else return false;
    return true;
  }

  /** The message so far (and the offending byte), escaped and cut for a one-line message. */
  private shown(chunk?: Buffer, at = 0): string {
    const parts: Buffer[] = [this.text.subarray(0, this.textLength)];
    if (chunk) parts.push(chunk.subarray(at, at + 1));
    return `"${wireText(Buffer.concat(parts).toString('utf8'))}"`;
  }

  private fail(message: string, code: ProtocolError['code']): never {
    this.failure = new ProtocolError(message, code);
    this.data = undefined;
    this.textLength = 0;
    throw this.failure;
  }
}

/** Whether `part` is how `whole` begins. */
function startsOf(whole: Buffer, part: Buffer): boolean {
  return part.length <= whole.length && whole.compare(part, 0, part.length, 0, part.length) === 0;
}
