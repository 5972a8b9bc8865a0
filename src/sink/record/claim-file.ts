/**
 * A recording's file, created under a name nobody has: `rec.mkv`, else `rec-1.mkv`, ... Never
 * an existing file replaced or written through: O_EXCL refuses an existing file and a symlink
 * alike, so a taken name is detected atomically and the next is tried.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { OutputError } from '../../errors.js';
import { refusalOf } from '../exclusive-file.js';
import { withCopySuffix } from './record-name.js';

/** Names tried for one file: this many taken in a row means something else is wrong. */
export const MAX_COPIES = 10_000;

export interface ClaimedFile {
  path: string;
  handle: FileHandle;
}

/** Creates the first free one of `path`, `path-1`, ... (the folders too), open for writing. */
export async function claimFile(path: string): Promise<ClaimedFile> {
  await mkdir(dirname(path), { recursive: true });
  for (let copy = 0; copy <= MAX_COPIES; copy++) {
    const candidate = withCopySuffix(path, copy);
    try {
      return { path: candidate, handle: await open(candidate, 'wx') };
    } catch (err) {
      if (refusalOf(err) !== 'exists') throw err;
    }
  }
  throw new OutputError(`no free name for the recording ${path}: ${MAX_COPIES} copies exist`, 'ERR_OUTPUT');
}
