/**
 * Splits a byte stream into frames: 16-byte decimal header, then that many payload bytes.
 * Modelled on ws's `lib/receiver.js`: a Writable that never touches a socket, a state loop
 * that stops as soon as bytes run short, and `consume(n)` over a list of chunks, so payloads
 * that arrive one byte per TCP segment cost O(n), not O(n^2).
 *
 * The payload is not checked to be a JPEG here: reference peers may send other bytes, and
 * only the layers that decode or save frames know what they need.
 */
import { Writable } from 'node:stream';
import { ProtocolError, type VstreamError } from '../errors.js';
import { checkHeaderStart, HEADER_SIZE, parseHeader } from '../frame/header.js';

/**
 * 64 MiB. A 3840x2160 JPEG at quality 100 of a noisy scene is about 10 MB, so real frames
 * fit with room to spare, while one garbage or hostile header (16 digits claim up to
 * ~10 PB) cannot make a receiver buffer more than this per connection before it gives up.
 */
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;

export enum ParserState {
  READ_HEADER,
  READ_PAYLOAD,
  /** The end marker came: the stream is over, later bytes are ignored. */
  ENDED,
}

export interface TcpFrameParserOptions {
  /** Frames announcing more bytes than this are refused before any payload is buffered. */
  maxFrameBytes?: number;
  /**
   * Runs on each valid header with the announced payload length, before any payload byte is
   * kept. Throwing (a VstreamError) refuses the frame: the stream fails with that error, as
   * for a bad header.
   */
  onHeader?: (length: number) => void;
  /**
   * Bytes that, where a header would start, end the stream instead (the reference video
   * servers send `EOF`): shorter than a header and never the start of a valid one.
   */
  endMarker?: Buffer;
}

/**
 * Chunks shorter than this that arrive while a frame is pending are copied into a shared
 * block instead of kept one by one: a peer sending one byte per TCP segment would otherwise
 * make the receiver hold a Buffer object (some 200 bytes of heap) per byte it sent.
 */
export const COALESCE_BELOW_BYTES = 4096;
/** Size of the block small chunks are copied into. */
export const COALESCE_BLOCK_BYTES = 16 * 1024;

/**
 * The TCP stream parser: push it the bytes of one connection as they come and it calls back
 * with each complete payload, synchronously (the receiver uses it on each socket). Wrapped as a
 * Writable stream, it is TcpFrameWritable. After it throws (a ProtocolError, or what `onHeader` threw) it stays failed: the
 * stream has lost framing and nothing after the bad header can be trusted.
 */
export class TcpFrameParser {
  readonly maxFrameBytes: number;
  private state = ParserState.READ_HEADER;
  private readonly buffers: Buffer[] = [];
  /** Bytes buffered, in `buffers` and in the unflushed part of `block`. */
  private bufferedBytes = 0;
  /** Where small chunks are copied; bytes from `blockFrom` to `blockTo` come after `buffers`. */
  private block: Buffer | undefined;
  private blockFrom = 0;
  private blockTo = 0;
  private payloadLength = 0;
  private failure: VstreamError | undefined;
  private readonly onHeader: ((length: number) => void) | undefined;
  private readonly endMarker: Buffer | undefined;

  constructor(options: TcpFrameParserOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`maxFrameBytes must be a positive integer, got ${max}`);
    }
    this.maxFrameBytes = max;
    this.onHeader = options.onHeader;
    if (options.endMarker !== undefined && (options.endMarker.length === 0 || options.endMarker.length >= HEADER_SIZE)) {
      throw new RangeError(`endMarker must be 1 to ${HEADER_SIZE - 1} bytes, got ${options.endMarker.length}`);
    }
    this.endMarker = options.endMarker;
  }

  /** The end marker came at a header boundary. */
  get ended(): boolean {
    return this.state === ParserState.ENDED;
  }

  /** Bytes received of the frame in progress (header included); 0 between frames. */
  get pendingBytes(): number {
    return this.state === ParserState.READ_PAYLOAD ? HEADER_SIZE + this.bufferedBytes : this.bufferedBytes;
  }

  /**
   * Size of the frame in progress once complete (header included), as its header announced;
   * before the whole header is in, the bytes of it received so far; 0 between frames.
   */
  get frameBytes(): number {
    return this.state === ParserState.READ_PAYLOAD ? HEADER_SIZE + this.payloadLength : this.bufferedBytes;
  }

  /**
   * Memory this decoder keeps alive for bytes not yet handed out: the buffered bytes plus the
   * free room of its coalescing block. What a receiver charges against its memory budget.
   */
  get retainedBytes(): number {
    return this.bufferedBytes + (this.block ? this.block.length - this.blockTo : 0);
  }

  /**
   * Feeds bytes; calls `onFrame` for each complete payload, in order. A payload that lies in
   * one chunk is a subarray of it (no copy); one spread over chunks is copied exactly once.
   * Throws ProtocolError on a bad header (see parseHeader), or what `onHeader` threw.
   */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    if (this.failure !== undefined) throw this.failure;
    if (chunk.length === 0 || this.state === ParserState.ENDED) return;
    // A small chunk that starts a frame is kept as it is: it may hold whole frames (no copy).
    if (chunk.length < COALESCE_BELOW_BYTES && this.bufferedBytes > 0) this.stage(chunk);
    else {
      this.flushBlock();
      this.buffers.push(chunk);
    }
    this.bufferedBytes += chunk.length;

    for (;;) {
      if (this.state === ParserState.READ_HEADER) {
        if (this.atEndMarker()) {
          this.state = ParserState.ENDED;
          this.buffers.length = 0;
          this.bufferedBytes = 0;
          this.block = undefined;
          return;
        }
        if (this.bufferedBytes < HEADER_SIZE) {
          // A TLS alert is shorter than a header and followed by the close: told from its start.
          if (this.bufferedBytes >= 2) {
            try {
              checkHeaderStart(this.peek(2));
            } catch (err) {
              this.fail(err as VstreamError);
            }
          }
          return;
        }
        const header = this.consume(HEADER_SIZE);
        try {
          // The limit is checked here, before a single payload byte is kept waiting.
          this.payloadLength = parseHeader(header, this.maxFrameBytes);
          this.onHeader?.(this.payloadLength);
        } catch (err) {
          this.fail(err as VstreamError);
        }
        this.state = ParserState.READ_PAYLOAD;
      } else {
        if (this.bufferedBytes < this.payloadLength) return;
        const payload = this.consume(this.payloadLength);
        // Reset before the callback, so a throwing callback leaves a consistent parser.
        this.state = ParserState.READ_HEADER;
        onFrame(payload);
      }
    }
  }

  /** Declares the end of input; throws ERR_TRUNCATED_FRAME if a frame was left incomplete. */
  end(): void {
    if (this.failure !== undefined || this.pendingBytes === 0) return;
    const got =
      this.state === ParserState.READ_PAYLOAD
        ? `${this.bufferedBytes} of ${this.payloadLength} payload bytes`
        : `${this.bufferedBytes} of ${HEADER_SIZE} header bytes`;
    this.fail(new ProtocolError(`stream ended in the middle of a frame: got ${got}`, 'ERR_TRUNCATED_FRAME'));
  }

  /** Whether the buffered bytes start with the end marker (only ever checked at a header boundary). */
  private atEndMarker(): boolean {
    const marker = this.endMarker;
    if (marker === undefined || this.bufferedBytes < marker.length) return false;
    // The staged bytes of the block come after `buffers`: compared in place, not flushed.
    const staged = this.block?.subarray(this.blockFrom, this.blockTo);
    let at = 0;
    for (const buf of staged ? [...this.buffers, staged] : this.buffers) {
      for (let i = 0; i < buf.length && at < marker.length; i++, at++) if (buf[i] !== marker[at]) return false;
      if (at === marker.length) return true;
    }
    return false;
  }

  /** The first `n` buffered bytes (n <= bufferedBytes), copied, without taking them. */
  private peek(n: number): Buffer {
    const out = Buffer.alloc(n);
    const staged = this.block?.subarray(this.blockFrom, this.blockTo);
    let at = 0;
    for (const buf of staged ? [...this.buffers, staged] : this.buffers) {
      at += buf.copy(out, at, 0, Math.min(buf.length, n - at));
      if (at === n) break;
    }
    return out;
  }

  private fail(err: VstreamError): never {
    this.failure = err;
    this.buffers.length = 0;
    this.bufferedBytes = 0;
    this.block = undefined;
    throw err;
  }

  /** Copies a small chunk to the end of the coalescing block (a fresh one when it is full). */
  private stage(chunk: Buffer): void {
    if (this.block === undefined || this.block.length - this.blockTo < chunk.length) {
      this.flushBlock();
      this.block = Buffer.allocUnsafeSlow(COALESCE_BLOCK_BYTES);
      this.blockFrom = 0;
      this.blockTo = 0;
    }
    chunk.copy(this.block, this.blockTo);
    this.blockTo += chunk.length;
  }

  /** Moves the staged bytes to the end of `buffers`, as one chunk. */
  private flushBlock(): void {
    if (this.block === undefined || this.blockTo === this.blockFrom) return;
    this.buffers.push(this.block.subarray(this.blockFrom, this.blockTo));
    this.blockFrom = this.blockTo;
  }

  /** Takes `n` bytes off the front, n <= bufferedBytes. */
  private consume(n: number): Buffer {
    // Flushed only when bytes are taken, so small chunks make at most two list entries a frame.
    this.flushBlock();
    this.bufferedBytes -= n;
    const first = this.buffers[0]!;
    if (n === first.length) return this.buffers.shift()!;
    if (n < first.length) {
      this.buffers[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    let used = 0;
    while (filled < n) {
      const buf = this.buffers[used]!;
      const take = Math.min(buf.length, n - filled);
      buf.copy(out, filled, 0, take);
      filled += take;
      if (take === buf.length) used++;
      else this.buffers[used] = buf.subarray(take);
    }
    // One splice, not a shift() per chunk: shifting a list of a million one-byte chunks
    // one at a time is quadratic.
    this.buffers.splice(0, used);
    return out;
  }
}

/**
 * TcpFrameParser as a Writable stream: pipe a
 * connection into it and listen for `'frame'` (the payload Buffer). A malformed
 * header, an oversize length or input that ends mid-frame (on `end()`) is emitted as
 * `'error'` with a ProtocolError and the parser is destroyed; the caller closes that
 * connection. An exception thrown by a `'frame'` listener is emitted as `'error'` too, as is.
 */
export class TcpFrameWritable extends Writable {
  private readonly parser: TcpFrameParser;
  private readonly emitFrame = (payload: Buffer): void => {
    this.emit('frame', payload);
  };

  constructor(options: TcpFrameParserOptions = {}) {
    super();
    this.parser = new TcpFrameParser(options);
  }

  get maxFrameBytes(): number {
    return this.parser.maxFrameBytes;
  }

  /** Bytes received of the frame in progress (header included); 0 between frames. */
  get pendingBytes(): number {
    return this.parser.pendingBytes;
  }

  /** See TcpFrameParser.retainedBytes. */
  get retainedBytes(): number {
    return this.parser.retainedBytes;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    try {
      this.parser.push(chunk, this.emitFrame);
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    try {
      this.parser.end();
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }
}

export interface TcpFrameWritable {
  on(event: 'frame', listener: (payload: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
  once(event: 'frame', listener: (payload: Buffer) => void): this;
  once(event: 'error', listener: (err: Error) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}
