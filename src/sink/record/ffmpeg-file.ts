import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { FfmpegError, type VstreamError } from '../../errors.js';
import { describeFailure, StderrTail } from '../../source/ffmpeg/process.js';
import type { Chunk } from './matroska.js';
import type { RecordTarget } from './target.js';
import { claimFile } from './claim-file.js';
import { recordFfmpegArgs, type RecordCodec } from './ffmpeg-args.js';
import type { Container } from './record-name.js';

/**
 * A recording ffmpeg writes: vstream's live Matroska goes to its stdin, and the file is
 * complete (trailer written) once ffmpeg has read the end of it and exited. ffmpeg runs in a
 * process group of its own, so a Ctrl-C in the terminal reaches only recv, which then ends
 * the input: ffmpeg never dies with the file half-written, and if recv is killed outright,
 * the end of its stdin still lets ffmpeg finish the file.
 */
export class FfmpegFile implements RecordTarget {
  private readonly tail = new StderrTail();
  private readonly exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>;
  private exited = false;
  private ending = false;

  private constructor(
    readonly path: string,
    private readonly child: ChildProcess,
  ) {
    child.stderr!.setEncoding('utf8').on('data', (text: string) => this.tail.push(text));
    // A write after ffmpeg died fails with EPIPE; the exit says why, and is what is reported.
    child.stdin!.on('error', () => {});
    this.exit = new Promise((resolve) => {
      child.once('error', (err) => {
        if (child.pid === undefined) resolve({ code: null, signal: null, spawnError: err });
      });
      child.once('close', (code, signal) => resolve({ code, signal }));
    });
    void this.exit.then(() => (this.exited = true));
  }

  /** Claims the name (never replacing a file), then starts the ffmpeg that fills it. */
  static async create(path: string, container: Container, codec: RecordCodec, ffmpegPath: string): Promise<FfmpegFile> {
    const { path: claimed, handle } = await claimFile(path);
    await handle.close();
    const child = spawn(ffmpegPath, recordFfmpegArgs(container, codec, claimed), {
      stdio: ['pipe', 'ignore', 'pipe'],
      windowsHide: true,
      detached: process.platform !== 'win32',
    });
    return new FfmpegFile(claimed, child);
  }

  /** Resolves with ffmpeg's failure if it ends before its input did, else never. */
  get failed(): Promise<VstreamError> {
    return this.exit.then((exit) => (this.ending ? new Promise<never>(() => {}) : this.failure(exit)));
  }

  async write(chunk: Chunk): Promise<void> {
    const stdin = this.child.stdin!;
    let ok = true;
    for (const part of chunk.append) ok = stdin.write(part);
    if (!ok && !this.exited) await Promise.race([once(stdin, 'drain'), this.exit]);
    if (this.exited) throw this.failure(await this.exit);
  }

  async finish(last: Chunk): Promise<void> {
    this.ending = true;
    if (!this.exited) {
      for (const part of last.append) this.child.stdin!.write(part);
      this.child.stdin!.end();
    }
    const exit = await this.exit;
    if (exit.code !== 0) throw this.failure(exit);
  }

  private failure(exit: { code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }): VstreamError {
    if (exit.spawnError) return new FfmpegError(`cannot start ffmpeg for ${this.path}: ${exit.spawnError.message}`, 'ERR_FFMPEG_SPAWN', '', { cause: exit.spawnError });
    const error = describeFailure(exit, this.tail.toString());
    return new FfmpegError(`recording ${this.path}: ${error.message}`, error.code as FfmpegError['code'], this.tail.toString());
  }
}
