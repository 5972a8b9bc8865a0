/**
 * Puts a file into a folder without ever replacing, truncating or writing through what is
 * already there, and without ever leaving a partial file under a final name.
 *
 * The bytes go to a temporary file created with O_EXCL (which refuses an existing file and a
 * symlink alike), then `link(2)` gives it its final name: unlike `rename(2)`, link fails with
 * EEXIST instead of replacing, so a taken name is detected atomically and the next is tried.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

/** Why a name was not used: taken, or refused by the file system as a name. */
export type Refusal = 'exists' | 'invalid';

/** Names to try in turn: called without argument for the first, then with why the last was refused. */
export type NameSource = (refused?: Refusal) => string;

/** Temporary files start with a dot: never a name a saved frame gets, and hidden in listings. */
export const TEMP_PREFIX = '.vstream-';

// The file system refused the name itself, not the folder or the disk: another name may work.
const NAME_ERRORS = new Set(['ENAMETOOLONG', 'EINVAL', 'EILSEQ']);
// No hard links on this file system (FAT, exFAT, some network and FUSE ones).
const NO_LINK_ERRORS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

export interface PublishOptions {
  /** The temporary's name in `folder` (a dot-file, unique), instead of a random one. */
  tempName?: string;
  /**
   * Called once the file has its final name, while the temporary is still a second link to
   * it. When it fails the temporary is kept: a link count of 2 then says the file was saved.
   */
  published?: (name: string) => Promise<void>;
}

/** Writes `parts` into `folder` under the first name of `names` that is free; returns that name. */
export async function publishExclusive(folder: string, parts: readonly Buffer[], names: NameSource, options: PublishOptions = {}): Promise<string> {
  const temp = await writeTemp(folder, parts, options.tempName);
  let keepTemp = false;
  try {
    let name = names();
    for (;;) {
      const refusal = await publishAs(temp, join(folder, name));
      if (refusal === undefined) {
        keepTemp = options.published !== undefined;
        await options.published?.(name);
        keepTemp = false;
        return name;
      }
      name = names(refusal);
    }
  } finally {
    // After a link the temporary name is a second link to the saved file; after a rename it is gone.
    if (!keepTemp) await unlink(temp).catch(() => {});
  }
}

/** The errno code of a failed system call, or '' for anything else. */
export function errnoCode(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : '';
}

async function writeTemp(folder: string, parts: readonly Buffer[], name?: string): Promise<string> {
  const path = join(folder, name ?? `${TEMP_PREFIX}${process.pid}-${randomBytes(8).toString('hex')}.part`);
  const file = await open(path, 'wx');
  try {
    await writeAll(file, parts);
    await file.close();
  } catch (err) {
    await file.close().catch(() => {});
    await unlink(path).catch(() => {});
    throw err;
  }
  return path;
}

/** writev until every byte is written: a write may be short (a signal, a nearly full disk). */
async function writeAll(file: FileHandle, parts: readonly Buffer[]): Promise<void> {
  let pending = parts.filter((part) => part.length > 0);
  while (pending.length > 0) {
    let { bytesWritten } = await file.writev(pending);
    if (bytesWritten === 0) throw new Error('the file system accepted no bytes');
    while (pending.length > 0 && bytesWritten >= pending[0]!.length) bytesWritten -= pending.shift()!.length;
    if (bytesWritten > 0) pending[0] = pending[0]!.subarray(bytesWritten);
  }
}

async function publishAs(temp: string, final: string): Promise<Refusal | undefined> {
  try {
    await link(temp, final);
    return undefined;
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal !== undefined) return refusal;
    if (!NO_LINK_ERRORS.has(errnoCode(err))) throw err;
  }
  // Without hard links: claim the name exclusively with an empty file, then move the complete
  // file over our own claim, so the name still never shows partial content.
  try {
    await (await open(final, 'wx')).close();
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal !== undefined) return refusal;
    throw err;
  }
  try {
    await rename(temp, final);
  } catch (err) {
    await unlink(final).catch(() => {});
    throw err;
  }
  return undefined;
}

/** 'exists' for EEXIST, 'invalid' for an error that only says the name itself is unusable. */
export function refusalOf(err: unknown): Refusal | undefined {
  const code = errnoCode(err);
  if (code === 'EEXIST') return 'exists';
  if (NAME_ERRORS.has(code)) return 'invalid';
  return undefined;
}
