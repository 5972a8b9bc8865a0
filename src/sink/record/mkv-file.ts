import type { FileHandle } from 'node:fs/promises';
import type { Chunk } from './matroska.js';
import type { RecordTarget } from './target.js';
import { claimFile } from './claim-file.js';

/**
 * A `.mkv` recording written by vstream itself, no ffmpeg: appended at the end, and the
 * writer's patches (sizes, Duration, SeekHead) written in place, so the file is readable all
 * along and complete once finished.
 */
export class MkvFile implements RecordTarget {
  private position = 0;

  private constructor(
    readonly path: string,
    private readonly handle: FileHandle,
  ) {}

  static async create(path: string): Promise<MkvFile> {
    const { path: claimed, handle } = await claimFile(path);
    return new MkvFile(claimed, handle);
  }

  async write(chunk: Chunk): Promise<void> {
    await this.append(chunk.append);
    for (const patch of chunk.patches) await this.writeAt(patch.bytes, patch.offset);
  }

  async finish(last: Chunk): Promise<void> {
    try {
      await this.write(last);
    } finally {
      await this.handle.close();
    }
  }

  /** writev until every byte is written: a write may be short (a signal, a nearly full disk). */
  private async append(parts: readonly Buffer[]): Promise<void> {
    let pending = parts.filter((part) => part.length > 0);
    while (pending.length > 0) {
      let { bytesWritten } = await this.handle.writev(pending, this.position);
      if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
      this.position += bytesWritten;
      while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
      if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
    }
  }

  private async writeAt(bytes: Buffer, offset: number): Promise<void> {
    let done = 0;
    while (done < bytes.length) {
      const { bytesWritten } = await this.handle.write(bytes, done, bytes.length - done, offset + done);
      if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
      done += bytesWritten;
    }
  }
}
