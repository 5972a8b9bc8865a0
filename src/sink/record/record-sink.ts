import { statfs, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutputError, VstreamError } from '../../errors.js';
import type { ReceivedFrame } from '../../frame/frame.js';
import { withoutMetadata } from '../../frame/metadata.js';
import { pngAsJpeg } from '../../decode/png-as-jpeg.js';
import { exceedsPixelLimit, PixelLimitError } from '../../decode/limits.js';
import type { Problem, ProblemReporter } from '../../problems.js';
import { formatBytes } from '../../text/format.js';
import { wireText } from '../../text/wire-text.js';
import { errnoCode } from '../exclusive-file.js';
import type { DropListener, FrameSink } from '../types.js';
import { FfmpegFile } from './ffmpeg-file.js';
import type { RecordCodec } from './ffmpeg-args.js';
import { MatroskaWriter } from './matroska.js';
import { MkvFile } from './mkv-file.js';
import { recordPath, type RecordName } from './record-name.js';
import type { RecordTarget } from './target.js';
import { MAX_CLOCK_SKEW_MS, Timeline } from './timeline.js';

/** Bytes recorded between two looks at the free space: a look is one statfs(2). */
export const FREE_CHECK_BYTES = 16 * 1024 * 1024;

export interface RecordSinkOptions {
  name: RecordName;
  codec: RecordCodec;
  /** A new file when a file has lasted this long (its frames' times). */
  segmentMs?: number;
  /** Bytes all files of the run may hold; past that the recording stops with ERR_RECORD_LIMIT. */
  maxBytes?: number;
  /** Free bytes each file's disk keeps; below, the recording stops with ERR_DISK_FULL. */
  minFree: number;
  /** For the formats ffmpeg writes. */
  ffmpegPath?: string;
  maxPixels: number;
  report: ProblemReporter;
  /** One line per file started and finished. */
  log: (line: string) => void;
}

/**
 * Frames the sink takes ahead of the disk: a few seconds of a camera, enough to cover an
 * ffmpeg starting at a segment boundary; past that it pushes back.
 */
export const BACKLOG_FRAMES = 240;
export const BACKLOG_BYTES = 32 * 1024 * 1024;

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A frame, with who waits for it to be in the file; or a sender's departure. */
type Job = { frame: ReceivedFrame; written?: Waiter } | { gone: number };

/** The file a sender is being recorded to. */
interface OpenFile {
  target: RecordTarget;
  writer: MatroskaWriter;
  width: number;
  height: number;
  /** On the sender's time line: the file's first frame, and where its segment started. */
  start: number;
  segmentStart: number;
  frames: number;
  lastTime: number;
}

/** One sender's connection: a reconnection is another one, and gets a file of its own. */
interface Sender {
  name: string;
  timeline: Timeline;
  file: OpenFile | undefined;
}

/**
 * Records each sender's frames to a file of its own, one file per connection and per segment,
 * each frame's JPEG as it arrived (vstream's metadata segment left out, as every file sink
 * does: the file holds the sender's JPEGs, and the capture times are the frames' timestamps)
 * in Matroska written here, or through ffmpeg for MP4, AVI and H.264.
 */
export class RecordSink implements FrameSink {
  readonly ended: Promise<void>;
  private rejectEnded!: (error: unknown) => void;
  private readonly senders = new Map<number, Sender>();
  /** Frames and departures in arrival order, written one at a time by `work`. */
  private readonly jobs: Job[] = [];
  private jobBytes = 0;
  private worker: Promise<void> | undefined;
  /** `write` waiting for the backlog to shrink. */
  private room: Waiter | undefined;
  private failure: { error: unknown } | undefined;
  private bytes = 0;
  /** `bytes` when the free space was last looked at. */
  private freeCheckedAt = 0;
  private onDrop: DropListener = () => {};
  private closed = false;

  constructor(private readonly options: RecordSinkOptions) {
    this.ended = new Promise<void>((_, reject) => (this.rejectEnded = reject));
    this.ended.catch(() => {});
  }

  reportDropsTo(listener: DropListener): void {
    this.onDrop = listener;
  }

  /**
   * A live frame goes into the backlog at once while it has room: a file starting (an ffmpeg
   * spawning at a segment boundary) or a disk pausing for a moment loses no live frame. Once
   * it is full, resolves only as it shrinks, which pushes back on the receiver. Any other
   * frame resolves once it is in the file: a transfer's frame is confirmed to its sender only
   * then, and it never needs the backlog, since its sender waits rather than drops.
   */
  write(frame: ReceivedFrame): Promise<void> | undefined {
    if (this.failure) return Promise.reject(this.failure.error);
    if (this.closed) return undefined;
    this.jobBytes += frame.data.length;
    if (frame.meta?.live !== true) {
      return new Promise((resolve, reject) => {
        this.jobs.push({ frame, written: { resolve, reject } });
        this.worker ??= this.work();
      });
    }
    this.jobs.push({ frame });
    this.worker ??= this.work();
    if (!this.full()) return undefined;
    return new Promise((resolve, reject) => (this.room = { resolve, reject }));
  }

  /** The sender left: its file is finished once its frames taken so far are in it. */
  senderGone(connectionId: number): void {
    if (this.closed || this.failure) return;
    this.jobs.push({ gone: connectionId });
    this.worker ??= this.work();
  }

  /** Writes what the backlog holds, then finishes every file. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.worker;
    const errors: unknown[] = [];
    await Promise.all([...this.senders.values()].map((sender) => (sender.file ? this.finish(sender, sender.file).catch((err: unknown) => errors.push(err)) : undefined)));
    this.senders.clear();
    // A failure already reported ends recv with its own message.
    if (errors.length > 0 && !this.failure) throw errors[0];
  }

  private full(): boolean {
    return this.jobs.length >= BACKLOG_FRAMES || this.jobBytes >= BACKLOG_BYTES;
  }

  private async work(): Promise<void> {
    for (let job = this.jobs.shift(); job !== undefined; job = this.jobs.shift()) {
      try {
        if ('frame' in job) await this.record(job.frame);
        else await this.leave(job.gone);
      } catch (error) {
        for (const waiting of [job, ...this.jobs.splice(0)]) if ('frame' in waiting) waiting.written?.reject(error);
        this.jobBytes = 0;
        this.failed(error);
        break;
      }
      if ('frame' in job) {
        this.jobBytes -= job.frame.data.length;
        job.written?.resolve();
      }
      if (this.room && !this.full()) {
        const { resolve } = this.room;
        this.room = undefined;
        resolve();
      }
    }
    this.worker = undefined;
  }

  private async leave(connectionId: number): Promise<void> {
    const sender = this.senders.get(connectionId);
    this.senders.delete(connectionId);
    if (sender?.file) await this.finish(sender, sender.file);
  }

  private failed(error: unknown): void {
    if (this.failure) return;
    this.failure = { error };
    this.rejectEnded(error);
    this.room?.reject(error);
    this.room = undefined;
  }

  private async record(frame: ReceivedFrame): Promise<void> {
    const jpeg = await this.jpegOf(frame);
    if (jpeg === undefined) return;
    let sender = this.senders.get(frame.connectionId);
    if (!sender) {
      sender = { name: frame.sender, timeline: new Timeline(), file: undefined };
      this.senders.set(frame.connectionId, sender);
    }
    const time = sender.timeline.time(frame);
    let file = sender.file;
    if (file && (file.width !== jpeg.width || file.height !== jpeg.height || this.segmentEnded(file, time))) {
      // A player's file has one picture size; a segment's boundary is the next file's first frame.
      const segmentStart = file.width === jpeg.width && file.height === jpeg.height ? this.nextSegmentStart(file, time) : time;
      await this.finish(sender, file);
      file = await this.openFile(sender, frame, jpeg, time, segmentStart);
    } else if (!file) {
      file = await this.openFile(sender, frame, jpeg, time, time);
    }
    // Checked before the writer takes the frame: the file is then finished without it.
    const size = jpeg.parts.reduce((sum, part) => sum + part.length, 0);
    if (this.options.maxBytes !== undefined && this.bytes + size > this.options.maxBytes) {
      throw new OutputError(
        `the recordings reached --record-max-bytes (${formatBytes(this.options.maxBytes)}): recording stopped, every file closed`,
        'ERR_RECORD_LIMIT',
      );
    }
    const chunk = file.writer.frame(time - file.start, jpeg.parts);
    await this.keepFree(file, size);
    this.bytes += size;
    await this.guard(file.target.path, file.target.write(chunk));
    file.frames += 1;
    file.lastTime = time;
  }

  /** Looks at the free space on a file's start and every FREE_CHECK_BYTES: statfs is cheap, not free. */
  private async keepFree(file: OpenFile, size: number): Promise<void> {
    if (file.frames > 0 && this.bytes - this.freeCheckedAt < FREE_CHECK_BYTES) return;
    this.freeCheckedAt = this.bytes;
    const disk = await this.guard(file.target.path, statfs(dirname(file.target.path)));
    const free = disk.bavail * disk.bsize;
    if (free - size < this.options.minFree) {
      throw new OutputError(
        `${file.target.path}: ${formatBytes(free)} left on the disk, under --record-min-free (${formatBytes(this.options.minFree)}): recording stopped, every file closed`,
        'ERR_DISK_FULL',
      );
    }
  }

  /** The frame's JPEG (a PNG made one), or undefined when it cannot be recorded: reported and dropped. */
  private async jpegOf(frame: ReceivedFrame): Promise<{ parts: Buffer[]; width: number; height: number } | undefined> {
    const skip = (problem: Problem) => {
      this.onDrop(frame);
      this.options.report(problem);
      return undefined;
    };
    const what = `frame ${frame.seq} from ${wireText(frame.sender)} not recorded`;
    if (frame.type === 'png') {
      const jpeg = await pngAsJpeg(frame, this.options.maxPixels).catch((err: unknown) => err as Error);
      if (!Buffer.isBuffer(jpeg)) {
        return skip({ code: jpeg instanceof PixelLimitError ? 'ERR_PIXEL_LIMIT' : 'ERR_BAD_JPEG', message: `${what}: ${wireText(jpeg.message.split('\n')[0] ?? '', 160)}` });
      }
      return { parts: [jpeg], width: frame.width!, height: frame.height! };
    }
    if (frame.type !== 'jpeg') return skip({ code: 'ERR_NOT_JPEG', message: `${what}: not a JPEG` });
    const { width, height } = frame;
    if (width === undefined || height === undefined || width === 0 || height === 0) return skip({ code: 'ERR_BAD_JPEG', message: `${what}: its JPEG header gives no size` });
    if (exceedsPixelLimit({ width, height }, this.options.maxPixels)) {
      return skip({ code: 'ERR_PIXEL_LIMIT', message: `${what}: ${width}x${height} is more than --max-pixels ${this.options.maxPixels}` });
    }
    return { parts: withoutMetadata(frame.data), width, height };
  }

  private segmentEnded(file: OpenFile, time: number): boolean {
    return this.options.segmentMs !== undefined && time >= file.segmentStart + this.options.segmentMs;
  }

  /** Segments keep to their grid: a gap in the frames does not shift the boundaries after it. */
  private nextSegmentStart(file: OpenFile, time: number): number {
    const length = this.options.segmentMs;
    if (length === undefined) return time;
    return file.segmentStart + Math.floor((time - file.segmentStart) / length) * length;
  }

  private async openFile(sender: Sender, frame: ReceivedFrame, jpeg: { width: number; height: number }, time: number, segmentStart: number): Promise<OpenFile> {
    const path = recordPath(this.options.name, sender.name, frame.receivedAt);
    const target = await this.guard(path, this.createTarget(path));
    const writer = new MatroskaWriter({ width: jpeg.width, height: jpeg.height, title: wireText(sender.name, 255), startedAt: startTime(frame) });
    const file: OpenFile = { target, writer, width: jpeg.width, height: jpeg.height, start: time, segmentStart, frames: 0, lastTime: time };
    sender.file = file;
    await this.guard(path, target.write(writer.header()));
    this.options.log(`recording ${wireText(sender.name)} to ${target.path}`);
    return file;
  }

  private createTarget(path: string): Promise<RecordTarget> {
    const { container } = this.options.name;
    if (this.options.ffmpegPath === undefined) return MkvFile.create(path);
    return FfmpegFile.create(path, container, this.options.codec, this.options.ffmpegPath).then((target) => {
      // ffmpeg dying between frames ends recv as a failure would in a write.
      void target.failed.then((error) => this.failed(error));
      return target;
    });
  }

  private async finish(sender: Sender, file: OpenFile): Promise<void> {
    if (sender.file === file) sender.file = undefined;
    if (file.frames === 0) {
      // Stopped before its first frame went in (a limit, a failure): an empty file is nobody's recording.
      await file.target.finish(file.writer.finish()).catch(() => {});
      await unlink(file.target.path).catch(() => {});
      return;
    }
    await this.guard(file.target.path, file.target.finish(file.writer.finish()));
    const seconds = (file.lastTime - file.start) / 1000;
    this.options.log(`recorded ${file.frames} frame${file.frames === 1 ? '' : 's'} (${seconds.toFixed(1)} s) of ${wireText(sender.name)} to ${file.target.path}`);
  }

  /** A file system failure as one line naming the file; a full disk gets its own code. */
  private async guard<T>(path: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (err) {
      if (err instanceof VstreamError) throw err;
      const code = errnoCode(err);
      const reason = err instanceof Error ? err.message.split(', ')[0] : String(err);
      if (code === 'ENOSPC' || code === 'EDQUOT') {
        throw new OutputError(`${path}: no space left on the disk (${code}); recording stopped`, 'ERR_DISK_FULL', { cause: err });
      }
      throw new OutputError(`cannot record to ${path}: ${reason}`, 'ERR_OUTPUT', { cause: err });
    }
  }
}

/** The wall-clock time a file starts: its first frame's capture time, unless that is not to be believed. */
function startTime(frame: ReceivedFrame): number {
  const capture = frame.captureTime;
  return capture !== undefined && Math.abs(capture - frame.receivedAt) <= MAX_CLOCK_SKEW_MS ? capture : frame.receivedAt;
}
