/**
 * Cuts a multipart/x-mixed-replace body (the MJPEG of IP cameras, µStreamer, mjpg-streamer,
 * ffmpeg's mpjpeg) into its parts' JPEGs, as an explicit state machine over the bytes as they
 * come, however they are split.
 *
 * Servers differ in small ways, all taken here: the boundary of the Content-Type with or without
 * the `--` that RFC 2046 puts in front of it in the body (some cameras declare `--myboundary`
 * and write `--myboundary`), or no boundary declared at all (then the first `--` line of the
 * body is it); header names in any case (`Content-length`); lines ended by CRLF or LF alone;
 * parts with a Content-Length (then the body is read by it) or without one (then the body ends
 * at the next boundary).
 *
 * Nothing from the wire is trusted for memory: a Content-Length over the part limit is refused
 * before one byte of its body is kept, a body without one is refused once it passes the limit,
 * header lines and a part's headers are bounded, and so are the bytes that may pass between
 * parts without a boundary (garbage). What is kept is at most one part, one header line.
 */
import { SourceError } from '../../errors.js';

export const DEFAULT_MAX_PART_BYTES = 64 * 1024 * 1024;
/** A part's headers: a few lines of Content-Type, Content-Length, X-Timestamp; 8 KiB is generous. */
export const MAX_PART_HEADER_BYTES = 8 * 1024;
/** Bytes that may pass without a boundary line: a preamble, or what a wrong Content-Length leaves. */
export const DEFAULT_MAX_GARBAGE_BYTES = 1024 * 1024;
/** Parts in a row that are not JPEGs (events, text) before the stream is judged not to be MJPEG. */
export const MAX_SKIPPED_PARTS = 16;
/** RFC 2046 allows 70 characters; a little more for the dashes some servers add. */
const MAX_BOUNDARY_CHARS = 80;

export interface MultipartLimits {
  /** A part (a JPEG) larger than this is an error. */
  maxPartBytes?: number;
  maxGarbageBytes?: number;
}

/** One JPEG of the stream, with the time its part's X-Timestamp header gives (ms since the epoch). */
export interface MultipartJpeg {
  jpeg: Buffer;
  timestampMs?: number;
}

// States.
const PREAMBLE = 0; // lines until a boundary line (also: resynchronising after a bad part)
const HEADERS = 1; // a part's header lines, until an empty one
const BODY_COUNTED = 2; // Content-Length bytes of body
const AFTER_BODY = 3; // empty lines, then the boundary line
const BODY_SCAN = 4; // body without a length: until CRLF + boundary
const BOUNDARY_REST = 5; // the rest of a boundary line found inside a body (`--` closes)
const CLOSED = 6; // after the closing boundary: the epilogue is ignored
type State = typeof PREAMBLE | typeof HEADERS | typeof BODY_COUNTED | typeof AFTER_BODY | typeof BODY_SCAN | typeof BOUNDARY_REST | typeof CLOSED;

const LF = 0x0a;
const CR = 0x0d;
const JPEG_SOI = Buffer.from([0xff, 0xd8, 0xff]);

/** The boundary parameter of a Content-Type (`multipart/x-mixed-replace; boundary="b"`), if any. */
export function boundaryOf(contentType: string | undefined): string | undefined {
  const match = /;\s*boundary\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '');
  const boundary = match?.[1] ?? match?.[2];
  return boundary && boundary.length <= MAX_BOUNDARY_CHARS ? boundary : undefined;
}

export class MultipartJpegParser {
  private readonly maxPartBytes: number;
  private readonly maxGarbageBytes: number;
  /** The boundary without its leading dashes; undefined until known. */
  private core: string | undefined;
  /** The boundary line exactly as the server writes it (`--ffmpeg`): what a body without a length ends at. */
  private delimiter: Buffer | undefined;
  private state: State = PREAMBLE;
  /** The line being read (line states), cut at MAX_PART_HEADER_BYTES: longer is never a boundary or a header we use. */
  private line: Buffer[] = [];
  private lineBytes = 0;
  private headerBytes = 0;
  private contentLength: number | undefined;
  private contentType: string | undefined;
  private timestamp: string | undefined;
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private garbage = 0;
  private skippedParts = 0;
  /** The last part given, to leave out a server's repeat of a frame (same bytes, same timestamp). */
  private last: { jpeg: Buffer; timestamp: string } | undefined;
  private given = 0;

  constructor(boundary: string | undefined, limits: MultipartLimits = {}) {
    this.maxPartBytes = limits.maxPartBytes ?? DEFAULT_MAX_PART_BYTES;
    this.maxGarbageBytes = limits.maxGarbageBytes ?? DEFAULT_MAX_GARBAGE_BYTES;
    const core = boundary?.replace(/^-+/, '');
    if (core) this.core = core;
  }

  /** JPEGs given so far. */
  get parts(): number {
    return this.given;
  }

  /** True once the closing boundary came: the server says the stream is over. */
  get closed(): boolean {
    return this.state === CLOSED;
  }

  *push(chunk: Buffer): Generator<MultipartJpeg> {
    let i = 0;
    while (i < chunk.length) {
      switch (this.state) {
        case PREAMBLE:
        case HEADERS:
        case AFTER_BODY:
        case BOUNDARY_REST: {
          const end = chunk.indexOf(LF, i);
          const stop = end === -1 ? chunk.length : end;
          this.addToLine(chunk.subarray(i, stop));
          i = stop;
          if (end === -1) {
            this.checkUnfinishedLine();
            break;
          }
          i += 1;
          const part = this.onLine(this.takeLine());
          if (part) yield part;
          break;
        }
        case BODY_COUNTED: {
          const take = Math.min(chunk.length - i, this.contentLength! - this.bodyBytes);
          this.body.push(chunk.subarray(i, i + take));
          this.bodyBytes += take;
          i += take;
          if (this.bodyBytes === this.contentLength) {
            this.state = AFTER_BODY;
            const part = this.finishPart(this.takeBody(this.bodyBytes));
            if (part) yield part;
          }
          break;
        }
        case BODY_SCAN: {
          const found = this.scanForDelimiter(chunk, i);
          if (found === undefined) {
            this.body.push(chunk.subarray(i));
            this.bodyBytes += chunk.length - i;
            i = chunk.length;
            if (this.bodyBytes > this.maxPartBytes + this.delimiter!.length + 2) throw this.tooLarge(`a part without Content-Length went past ${this.maxPartBytes} bytes`);
            break;
          }
          // `found` is the body's length up to the LF before the boundary, counted from the part's start.
          const { bodyLength, resumeAt } = found;
          this.body.push(chunk.subarray(i, Math.max(i, resumeAt)));
          this.bodyBytes += Math.max(0, resumeAt - i);
          let length = bodyLength;
          const body = this.takeBody(length + 1);
          if (length > 0 && body[length - 1] === CR) length -= 1;
          i = resumeAt;
          this.state = BOUNDARY_REST;
          if (length > this.maxPartBytes) throw this.tooLarge(`a part of ${length} bytes is over the limit of ${this.maxPartBytes}`);
          const part = this.finishPart(body.subarray(0, length));
          if (part) yield part;
          break;
        }
        case CLOSED:
          return;
      }
    }
  }

  /** Accumulates a line; a line is kept only up to the header limit (the rest is counted, not kept). */
  private addToLine(bytes: Buffer): void {
    const room = MAX_PART_HEADER_BYTES - this.lineBytes;
    if (room > 0 && bytes.length > 0) this.line.push(bytes.subarray(0, room));
    this.lineBytes += bytes.length;
  }

  /** A line still open at a chunk's end must not grow past what its state allows. */
  private checkUnfinishedLine(): void {
    if (this.state === HEADERS && this.headerBytes + this.lineBytes > MAX_PART_HEADER_BYTES) {
      throw new SourceError(`a part's headers are longer than ${MAX_PART_HEADER_BYTES} bytes: not an MJPEG stream`, 'ERR_MULTIPART');
    }
    if (this.state !== HEADERS) this.countGarbage(0);
  }

  private takeLine(): { text: string; bytes: number } {
    const bytes = this.lineBytes;
    const text = Buffer.concat(this.line).toString('latin1');
    this.line = [];
    this.lineBytes = 0;
    return { text: text.replace(/\r$/, ''), bytes: bytes + 1 };
  }

  private onLine({ text, bytes }: { text: string; bytes: number }): MultipartJpeg | undefined {
    switch (this.state) {
      case HEADERS:
        this.headerBytes += bytes;
        if (this.headerBytes > MAX_PART_HEADER_BYTES) {
          throw new SourceError(`a part's headers are longer than ${MAX_PART_HEADER_BYTES} bytes: not an MJPEG stream`, 'ERR_MULTIPART');
        }
        if (text.trim() === '') {
          this.startBody();
          return undefined;
        }
        // An empty part (a boundary straight after the boundary) starts the next one.
        if (this.isBoundary(text)) this.onBoundary(text);
        else this.onHeader(text);
        return undefined;
      case BOUNDARY_REST:
        // What follows the boundary on its line: `--` closes the stream, anything else is padding.
        if (text.startsWith('--')) this.state = CLOSED;
        else this.startHeaders();
        return undefined;
      case PREAMBLE:
      case AFTER_BODY:
        if (text.trim() === '' && this.state === AFTER_BODY) {
          this.countGarbage(bytes);
          return undefined;
        }
        if (this.isBoundary(text)) {
          this.onBoundary(text);
          return undefined;
        }
        // Not a boundary where one was due: look for the next one (a wrong Content-Length, a preamble).
        this.state = PREAMBLE;
        this.countGarbage(bytes);
        return undefined;
      default:
        return undefined;
    }
  }

  private countGarbage(bytes: number): void {
    this.garbage += bytes;
    if (this.garbage + this.lineBytes > this.maxGarbageBytes) {
      const what = this.given === 0 && this.delimiter === undefined ? 'no multipart boundary' : 'no multipart boundary after a part';
      throw new SourceError(`${what} in ${this.maxGarbageBytes} bytes: not an MJPEG stream`, 'ERR_MULTIPART');
    }
  }

  /** `--b`, `b`, `----b` for a boundary b (trailing `--`: the closing one); any `--x` line when none was declared. */
  private isBoundary(text: string): boolean {
    const line = text.trimEnd();
    if (this.core === undefined) return /^--[\x21-\x7e]{1,78}$/.test(line) && line.replace(/^-+/, '').length > 0;
    const stripped = line.replace(/^-+/, '');
    return stripped === this.core || stripped === `${this.core}--`;
  }

  private onBoundary(text: string): void {
    let line = text.trimEnd();
    const closing = this.core !== undefined && line.replace(/^-+/, '') === `${this.core}--`;
    if (closing) line = line.slice(0, -2);
    this.core ??= line.replace(/^-+/, '');
    this.delimiter ??= Buffer.from(line, 'latin1');
    if (closing) {
      this.state = CLOSED;
      return;
    }
    this.startHeaders();
  }

  private startHeaders(): void {
    this.state = HEADERS;
    this.headerBytes = 0;
    this.contentLength = undefined;
    this.contentType = undefined;
    this.timestamp = undefined;
  }

  private onHeader(text: string): void {
    const colon = text.indexOf(':');
    if (colon <= 0) return; // not a header: ignored, as browsers do
    const name = text.slice(0, colon).trim().toLowerCase();
    const value = text.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,16}$/.test(value)) throw new SourceError(`a part's Content-Length is not a number: ${JSON.stringify(value.slice(0, 40))}`, 'ERR_MULTIPART');
      this.contentLength = Number(value);
      if (this.contentLength > this.maxPartBytes) throw this.tooLarge(`a part says it has ${value} bytes, over the limit of ${this.maxPartBytes}`);
    } else if (name === 'content-type') {
      this.contentType = value.toLowerCase();
    } else if (name === 'x-timestamp') {
      this.timestamp = value;
    }
  }

  private startBody(): void {
    this.body = [];
    this.bodyBytes = 0;
    if (this.contentLength === undefined) {
      this.state = BODY_SCAN;
      return;
    }
    this.state = BODY_COUNTED;
    if (this.contentLength === 0) {
      this.state = AFTER_BODY;
      this.finishPart(Buffer.alloc(0));
    }
  }

  /**
   * Where CRLF + boundary (or LF + boundary) starts, if the body so far and `chunk[from..]`
   * hold it: `bodyLength` is the body's length up to that LF, `resumeAt` the index in `chunk`
   * just after the boundary. Only the boundary's length of the body before is looked at again.
   */
  private scanForDelimiter(chunk: Buffer, from: number): { bodyLength: number; resumeAt: number } | undefined {
    const needle = Buffer.concat([Buffer.from([LF]), this.delimiter!]);
    const carryLength = Math.min(this.bodyBytes, needle.length - 1);
    if (carryLength > 0) {
      const junction = Buffer.concat([this.tail(carryLength), chunk.subarray(from, from + needle.length - 1)]);
      const at = junction.indexOf(needle);
      if (at !== -1) return { bodyLength: this.bodyBytes - carryLength + at, resumeAt: from + at - carryLength + needle.length };
    }
    const at = chunk.indexOf(needle, from);
    if (at === -1) return undefined;
    return { bodyLength: this.bodyBytes + (at - from), resumeAt: at + needle.length };
  }

  /** The last `length` bytes of the body so far. */
  private tail(length: number): Buffer {
    const pieces: Buffer[] = [];
    let left = length;
    for (let k = this.body.length - 1; k >= 0 && left > 0; k--) {
      const piece = this.body[k]!;
      pieces.unshift(piece.subarray(Math.max(0, piece.length - left)));
      left -= Math.min(left, piece.length);
    }
    return Buffer.concat(pieces);
  }

  /** The body's first `length` bytes as one buffer (no copy when it lies in one chunk). */
  private takeBody(length: number): Buffer {
    const body = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
    this.body = [];
    this.bodyBytes = 0;
    return body.subarray(0, Math.min(length, body.length));
  }

  private finishPart(body: Buffer): MultipartJpeg | undefined {
    this.garbage = 0;
    const isJpeg = body.length >= 3 && body.compare(JPEG_SOI, 0, 3, 0, 3) === 0;
    const declaredOther = this.contentType !== undefined && !/^image\/(jpeg|jpg|pjpeg)\b/.test(this.contentType);
    if (!isJpeg || declaredOther) {
      this.skippedParts += 1;
      if (this.skippedParts >= MAX_SKIPPED_PARTS) {
        throw new SourceError(`${MAX_SKIPPED_PARTS} parts in a row are not JPEGs: not an MJPEG stream`, 'ERR_MULTIPART');
      }
      return undefined;
    }
    this.skippedParts = 0;
    // µStreamer-like servers may send a frame again for browsers' sake: same bytes, same timestamp.
    const timestamp = this.timestamp;
    if (timestamp !== undefined && this.last?.timestamp === timestamp && this.last.jpeg.equals(body)) return undefined;
    this.last = timestamp === undefined ? undefined : { jpeg: body, timestamp };
    this.given += 1;
    const timestampMs = parseTimestamp(timestamp);
    return timestampMs === undefined ? { jpeg: body } : { jpeg: body, timestampMs };
  }

  private tooLarge(message: string): SourceError {
    return new SourceError(`${message} (--max-frame-bytes)`, 'ERR_SOURCE_FRAME_TOO_LARGE');
  }
}

/**
 * X-Timestamp as µStreamer and mjpg-streamer write it: seconds since the epoch with a fraction
 * (`1700000000.123456`); a value too large to be seconds is taken as milliseconds.
 */
export function parseTimestamp(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,16}(\.\d{1,9})?$/.test(text)) return undefined;
  const value = Number(text);
  return value > 1e11 ? value : value * 1000;
}
