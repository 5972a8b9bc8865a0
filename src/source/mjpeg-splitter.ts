/**
 * Splits a byte stream of concatenated JPEGs (MJPEG) into frames, the way GStreamer's jpegparse
 * does: from SOI (FFD8) it walks the segments by their lengths and, inside entropy-coded data,
 * skips FF00 stuffing and RSTn, so an FFD9 inside a segment (an EXIF thumbnail, say) does not
 * end the frame. Progressive JPEGs work too: markers between scans are walked the same way.
 *
 * Incremental: the state survives between chunks, so no byte is looked at twice, and a frame is
 * copied at most once (not at all when it lies within one chunk: it is then a view of that
 * chunk, so callers must not reuse chunk buffers, which Node streams never do).
 */
import { SourceError } from '../errors.js';

export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_GARBAGE_BYTES = 1024 * 1024;

export interface MjpegSplitterOptions {
  /** A frame larger than this is an error: the stream is not the MJPEG it claims to be. */
  maxFrameBytes?: number;
  /** How many bytes may pass without a complete frame (garbage, broken frames) before giving up. */
  maxGarbageBytes?: number;
}

const SOI = Buffer.from([0xff, 0xd8]);
const FF = Buffer.from([0xff]);

// Parser states.
const SEEK_SOI = 0; // outside a frame, looking for FFD8
const MARKER = 1; // expecting the FF that starts the next marker
const MARKER_CODE = 2; // after FF, expecting the marker's code (more FFs are fill)
const LENGTH_HIGH = 3;
const LENGTH_LOW = 4;
const SEGMENT = 5; // skipping a segment's payload
const ENTROPY = 6; // scan data: looking for the next FF
const ENTROPY_FF = 7; // scan data: after FF, a stuffed zero, RSTn, or a real marker
type State = typeof SEEK_SOI | typeof MARKER | typeof MARKER_CODE | typeof LENGTH_HIGH | typeof LENGTH_LOW | typeof SEGMENT | typeof ENTROPY | typeof ENTROPY_FF;

const isRst = (code: number): boolean => code >= 0xd0 && code <= 0xd7;

export class MjpegSplitter {
  private readonly maxFrameBytes: number;
  private readonly maxGarbageBytes: number;
  private state: State = SEEK_SOI;
  /** SEEK_SOI: the previous chunk ended with FF, so a leading D8 completes an SOI. */
  private pendingFF = false;
  /** Bytes of the frame in progress from earlier chunks. */
  private parts: Buffer[] = [];
  private partsBytes = 0;
  private lengthHigh = 0;
  private segmentLeft = 0;
  private segmentIsScan = false;
  /** Bytes consumed since the last complete frame, not counting the frame in progress. */
  private garbage = 0;

  constructor(options: MjpegSplitterOptions = {}) {
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    this.maxGarbageBytes = options.maxGarbageBytes ?? DEFAULT_MAX_GARBAGE_BYTES;
  }

  /** True while a frame has started but not ended. */
  get inFrame(): boolean {
    return this.state !== SEEK_SOI;
  }

  /** Feeds the next chunk; returns the frames it completed, in order. Throws `SourceError` on a limit. */
  push(chunk: Buffer): Buffer[] {
    const frames: Buffer[] = [];
    const n = chunk.length;
    let start = this.inFrame ? 0 : -1; // where the frame in progress begins in this chunk
    let i = 0;
    while (i < n) {
      switch (this.state) {
        case SEEK_SOI: {
          let d8: number;
          if (this.pendingFF && chunk[i] === 0xd8) {
            d8 = i;
          } else {
            const at = chunk.indexOf(SOI, i);
            d8 = at < 0 ? -1 : at + 1;
          }
          this.pendingFF = false;
          if (d8 < 0) {
            this.addGarbage(n - i);
            this.pendingFF = chunk[n - 1] === 0xff;
            i = n;
          } else {
            this.addGarbage(Math.max(0, d8 - 1 - i));
            start = this.beginFrame(chunk, d8);
            i = d8 + 1;
          }
          break;
        }
        case MARKER:
          if (chunk[i] === 0xff) {
            this.state = MARKER_CODE;
            i += 1;
          } else {
            this.discardFrame(i - start); // not a JPEG after all, or a broken one: resync on this byte
            start = -1;
          }
          break;
        case ENTROPY: {
          const ff = chunk.indexOf(0xff, i);
          if (ff < 0) {
            i = n;
          } else {
            this.state = ENTROPY_FF;
            i = ff + 1;
          }
          break;
        }
        case ENTROPY_FF:
        case MARKER_CODE: {
          const code = chunk[i];
          i += 1;
          if (code === 0xff) break; // fill byte
          if (this.state === ENTROPY_FF && (code === 0x00 || isRst(code))) {
            this.state = ENTROPY;
          } else if (code === 0xd9) {
            frames.push(this.endFrame(chunk, start, i));
            start = -1;
          } else if (code === 0xd8) {
            // A new SOI inside a frame: the previous one was cut short. Keep the new one.
            this.discardFrame(i - 2 - start);
            start = this.beginFrame(chunk, i - 1);
          } else if (code === 0x01 || isRst(code)) {
            this.state = MARKER; // standalone markers have no length
          } else if (code === 0x00) {
            this.discardFrame(i - start);
            start = -1;
          } else {
            this.segmentIsScan = code === 0xda;
            this.state = LENGTH_HIGH;
          }
          break;
        }
        case LENGTH_HIGH:
          this.lengthHigh = chunk[i];
          this.state = LENGTH_LOW;
          i += 1;
          break;
        case LENGTH_LOW: {
          const length = (this.lengthHigh << 8) | chunk[i];
          i += 1;
          if (length < 2) {
            this.discardFrame(i - start);
            start = -1;
          } else {
            this.segmentLeft = length - 2;
            this.state = SEGMENT;
          }
          break;
        }
        case SEGMENT: {
          const take = Math.min(this.segmentLeft, n - i);
          i += take;
          this.segmentLeft -= take;
          if (this.segmentLeft === 0) this.state = this.segmentIsScan ? ENTROPY : MARKER;
          break;
        }
      }
    }
    if (this.inFrame) {
      this.parts.push(chunk.subarray(start));
      this.partsBytes += n - start;
      this.checkFrameSize(this.partsBytes);
    }
    return frames;
  }

  /** Call at end of input: throws `ERR_SOURCE_TRUNCATED_FRAME` if it stopped inside a frame. */
  end(): void {
    if (!this.inFrame) return;
    const bytes = this.partsBytes;
    this.parts = [];
    this.partsBytes = 0;
    this.state = SEEK_SOI;
    throw new SourceError(`input ended in the middle of a JPEG frame (${bytes} bytes discarded)`, 'ERR_SOURCE_TRUNCATED_FRAME');
  }

  /** Starts a frame at the SOI whose D8 is at `d8`; returns where it begins in `chunk`. */
  private beginFrame(chunk: Buffer, d8: number): number {
    this.state = MARKER;
    this.parts = [];
    this.partsBytes = 0;
    if (d8 > 0 && chunk[d8 - 1] === 0xff) return d8 - 1;
    // The FF was the last byte of the previous chunk.
    this.parts.push(FF);
    this.partsBytes = 1;
    return d8;
  }

  private endFrame(chunk: Buffer, start: number, end: number): Buffer {
    const tail = chunk.subarray(start, end);
    const bytes = this.partsBytes + tail.length;
    this.checkFrameSize(bytes);
    const frame = this.parts.length === 0 ? tail : Buffer.concat([...this.parts, tail], bytes);
    this.parts = [];
    this.partsBytes = 0;
    this.state = SEEK_SOI;
    this.garbage = 0;
    return frame;
  }

  /** Drops the frame in progress (`bytesInChunk` of it are in the current chunk) and resyncs. */
  private discardFrame(bytesInChunk: number): void {
    const bytes = this.partsBytes + Math.max(0, bytesInChunk);
    this.parts = [];
    this.partsBytes = 0;
    this.state = SEEK_SOI;
    this.addGarbage(bytes);
  }

  private addGarbage(bytes: number): void {
    this.garbage += bytes;
    if (this.garbage > this.maxGarbageBytes) {
      throw new SourceError(
        `input is not MJPEG: no complete JPEG frame in ${this.garbage} bytes (expected JPEG images back to back)`,
        'ERR_NOT_MJPEG',
      );
    }
  }

  private checkFrameSize(bytes: number): void {
    if (bytes > this.maxFrameBytes) {
      throw new SourceError(`a JPEG frame exceeds the ${this.maxFrameBytes}-byte limit: the input is probably not MJPEG`, 'ERR_SOURCE_FRAME_TOO_LARGE');
    }
  }
}
