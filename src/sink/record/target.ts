import type { Chunk } from './matroska.js';

/** Where a recording's Matroska bytes go: the file itself, or an ffmpeg that turns them into another. */
export interface RecordTarget {
  /** The file the user gets. */
  readonly path: string;
  /** Resolves once the output took the chunk (a slow disk or ffmpeg pushes back through it). */
  write(chunk: Chunk): Promise<void>;
  /** Writes the last chunk and closes: resolves once the file is complete. */
  finish(last: Chunk): Promise<void>;
}
