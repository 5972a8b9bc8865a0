/**
 * Splits a YUV4MPEG2 stream (ffmpeg's `-f yuv4mpegpipe`) into raw 4:2:0 frames. Y4M rather than
 * bare rawvideo because its header says the size, so a file's frames need no probe first, and
 * (ffmpeg >= 4.4) the colour range.
 *
 * A state machine over chunks, like the MJPEG splitter: stream header line, then per frame a
 * `FRAME` line and exactly width x height x 1.5 bytes of planes, copied once into the frame's
 * own buffer. Buffers handed back with `release()` once a frame is encoded are filled again:
 * a fresh one a frame cost ten times the copy in page faults.
 */
import { SourceError } from '../errors.js';
import { MAX_FRAME_PIXELS } from '../options/limits.js';
import type { Size } from './types.js';

/** One frame's planes: Y (width x height), then U and V (each ceil(w/2) x ceil(h/2)). */
export interface RawFrame extends Size {
  planes: Buffer;
  /** True when the samples are limited range (16-235), the Y4M default; JPEG needs full range. */
  limitedRange: boolean;
}

/** Header lines are short; a stream whose line runs on is not Y4M. */
const MAX_LINE = 1024;
/** More is a broken header, not a frame: no source makes bigger frames. */
const MAX_PIXELS = MAX_FRAME_PIXELS;
/** Released buffers kept for reuse: enough for the frames being encoded at once. */
const MAX_FREE_BUFFERS = 4;

const enum State {
  StreamHeader,
  FrameHeader,
  Planes,
}

export function yuv420FrameBytes({ width, height }: Size): number {
  return width * height + 2 * Math.ceil(width / 2) * Math.ceil(height / 2);
}

export class Y4mSplitter {
  private state = State.StreamHeader;
  private line = '';
  private size: Size | undefined;
  private limitedRange = true;
  private frameBytes = 0;
  private frame: Buffer | undefined;
  private filled = 0;
  private readonly free: Buffer[] = [];

  /** The stream's frame size, once its header has been read. */
  get jpegSize(): Size | undefined {
    return this.size;
  }

  push(chunk: Buffer): RawFrame[] {
    const frames: RawFrame[] = [];
    let at = 0;
    while (at < chunk.length) {
      if (this.state === State.Planes) {
        const take = Math.min(this.frameBytes - this.filled, chunk.length - at);
        chunk.copy(this.frame!, this.filled, at, at + take);
        this.filled += take;
        at += take;
        if (this.filled === this.frameBytes) {
          frames.push({ planes: this.frame!, width: this.size!.width, height: this.size!.height, limitedRange: this.limitedRange });
          this.frame = undefined;
          this.state = State.FrameHeader;
        }
        continue;
      }
      const newline = chunk.indexOf(0x0a, at);
      const end = newline === -1 ? chunk.length : newline;
      this.line += chunk.toString('latin1', at, end);
      if (this.line.length > MAX_LINE) throw this.error('a header line longer than 1 KB');
      at = end;
      if (newline === -1) continue;
      at += 1;
      const line = this.line;
      this.line = '';
      if (this.state === State.StreamHeader) this.readStreamHeader(line);
      else this.readFrameHeader(line);
    }
    return frames;
  }

  /**
   * Hands back a frame's planes once nothing reads them any more (its encode has finished), to
   * be filled with a later frame. Optional: an unreleased buffer is simply garbage collected.
   */
  release(planes: Buffer): void {
    if (planes.length === this.frameBytes && this.free.length < MAX_FREE_BUFFERS && !this.free.includes(planes)) this.free.push(planes);
  }

  /** The stream ended: only at a frame boundary is that clean. */
  end(): void {
    if (this.state === State.StreamHeader && this.line === '') return;
    if (this.state === State.FrameHeader && this.line === '') return;
    throw this.error(this.state === State.Planes ? `the stream ended inside a frame (${this.filled} of ${this.frameBytes} bytes)` : 'the stream ended inside a header');
  }

  private readStreamHeader(line: string): void {
    const [magic, ...params] = line.split(' ');
    if (magic !== 'YUV4MPEG2') throw this.error('not a YUV4MPEG2 stream');
    let width = 0;
    let height = 0;
    let colorspace = '420jpeg';
    for (const param of params) {
      const value = param.slice(1);
      switch (param[0]) {
        case 'W':
          width = Number(value);
          break;
        case 'H':
          height = Number(value);
          break;
        case 'C':
          colorspace = value;
          break;
        case 'X':
          if (value === 'COLORRANGE=FULL') this.limitedRange = false;
          break;
      }
    }
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || width * height > MAX_PIXELS) {
      throw this.error(`bad frame size ${width}x${height}`);
    }
    // 420jpeg, 420mpeg2 and 420paldv differ only in chroma siting.
    if (!/^420(jpeg|mpeg2|paldv)?$/.test(colorspace)) throw this.error(`colour space C${colorspace}, expected 4:2:0`);
    this.size = { width, height };
    this.frameBytes = yuv420FrameBytes(this.size);
    this.state = State.FrameHeader;
  }

  private readFrameHeader(line: string): void {
    if (line !== 'FRAME' && !line.startsWith('FRAME ')) throw this.error('expected a FRAME header');
    // Never a buffer a frame still holds: the frame may wait in a slot while the next fills.
    this.frame = this.free.pop() ?? Buffer.allocUnsafe(this.frameBytes);
    this.filled = 0;
    this.state = State.Planes;
  }

  private error(what: string): SourceError {
    return new SourceError(`unreadable raw video from ffmpeg: ${what}`, 'ERR_Y4M');
  }
}
