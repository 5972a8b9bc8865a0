/**
 * Which folder of `--save-dir DIR` a sender's frames go to, and the numbering inside it. The
 * choice depends only on the sender's label and on what is on disk, never on timing or on
 * which senders are connected: frames without a label go into DIR, a label's into
 * `DIR/<safe label>/`, or `<safe label>-1`, `-2`, ... when that name is a file or a symlink.
 */
import { lstat, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { wireText } from '../text/wire-text.js';
import { refusalOf } from './exclusive-file.js';
import { FALLBACK_FOLDER_NAME, fileNumber, safeFolderName } from './safe-file-name.js';

/** Folders remembered; one forgotten is looked up again on disk, with the same result. */
export const MAX_CACHED_FOLDERS = 1024;
/** `label-1` ... `label-N` tried when `label` is taken by something not a directory. */
export const MAX_FOLDER_COPIES = 100;

/** Names whose last copy number a folder remembers. */
export const MAX_REMEMBERED_NAMES = 256;

/** One folder frames are saved in. */
export class SaveFolder {
  // Where the last `name-N` of a name went, so that a name sent again and again (a folder
  // transfer repeated, or a peer insisting) costs one attempt, not N.
  private readonly lastCopies = new Map<string, number>();

  constructor(
    readonly path: string,
    /** The path for messages: the label part passed through wireText. */
    readonly display: string,
    private nextNumber: number,
  ) {}

  /** A number above every numbered file the folder held when first seen, and never handed out before. */
  takeNumber(): number {
    return this.nextNumber++;
  }

  /** The highest copy number tried for this file name so far (0: none). */
  lastCopy(fileName: string): number {
    return this.lastCopies.get(fileName) ?? 0;
  }

  noteCopy(fileName: string, copy: number): void {
    this.lastCopies.delete(fileName);
    if (this.lastCopies.size >= MAX_REMEMBERED_NAMES) this.lastCopies.delete(this.lastCopies.keys().next().value as string);
    this.lastCopies.set(fileName, copy);
  }
}

type Claim = 'created' | 'directory' | 'taken' | 'invalid';

export class SaveFolders {
  private readonly byLabel = new Map<string, Promise<SaveFolder>>();
  // Two labels can meet in one folder ("a/b" and "ab"): they share its numbering.
  private readonly byPath = new Map<string, Promise<SaveFolder>>();

  constructor(private readonly root: string) {}

  /** The folder for frames of a sender with this label, or without one (undefined). */
  folderFor(label: string | undefined): Promise<SaveFolder> {
    if (label === undefined) return this.folderAt(this.root, this.root, false);
    let folder = this.byLabel.get(label);
    if (folder === undefined) {
      folder = this.resolve(label);
      cache(this.byLabel, label, folder);
    }
    return folder;
  }

  /** Where a label's folder goes (the root without one), for messages about failing to create it. */
  displayFor(label: string | undefined): string {
    return label === undefined ? this.root : join(this.root, wireText(safeFolderName(label)));
  }

  private async resolve(label: string): Promise<SaveFolder> {
    for (let copy = 0; copy <= MAX_FOLDER_COPIES; copy++) {
      const name = safeFolderName(label, copy);
      const path = join(this.root, name);
      const claim = await claimFolder(path);
      if (claim === 'created' || claim === 'directory') return this.folderAt(path, join(this.root, wireText(name)), claim === 'created');
      // A name the file system refuses (too long for it, odd characters) will not get better with -N.
      if (claim === 'invalid') break;
    }
    if (label === FALLBACK_FOLDER_NAME) throw new Error(`no usable folder name in ${this.root}`);
    return this.resolve(FALLBACK_FOLDER_NAME);
  }

  private folderAt(path: string, display: string, fresh: boolean): Promise<SaveFolder> {
    let folder = this.byPath.get(path);
    if (folder === undefined) {
      folder = (fresh ? Promise.resolve(0) : nextFreeNumber(path)).then((next) => new SaveFolder(path, display, next));
      cache(this.byPath, path, folder);
    }
    return folder;
  }
}

/** Makes `path` a directory of ours, or says why it cannot be. Never follows a symlink. */
async function claimFolder(path: string): Promise<Claim> {
  try {
    await mkdir(path);
    return 'created';
  } catch (err) {
    const refusal = refusalOf(err);
    if (refusal === 'invalid') return 'invalid';
    if (refusal !== 'exists') throw err;
  }
  // lstat, not stat: a symlink to a directory is "taken", so no write ever goes through it.
  const stats = await lstat(path).catch(() => undefined);
  return stats?.isDirectory() ? 'directory' : 'taken';
}

/** One more than the highest numbered file in `path`, so a restart continues and never overwrites. */
async function nextFreeNumber(path: string): Promise<number> {
  let highest = -1;
  for (const name of await readdir(path)) {
    const n = fileNumber(name);
    if (n !== undefined && n > highest) highest = n;
  }
  return highest + 1;
}

/** Adds to a bounded cache; a rejected promise is dropped so that a later frame tries again. */
function cache<K>(map: Map<K, Promise<SaveFolder>>, key: K, value: Promise<SaveFolder>): void {
  if (map.size >= MAX_CACHED_FOLDERS) map.delete(map.keys().next().value as K);
  map.set(key, value);
  value.catch(() => {
    if (map.get(key) === value) map.delete(key);
  });
}
