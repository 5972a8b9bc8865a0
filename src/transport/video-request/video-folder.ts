/**
 * The folder a video server plays from, and the only way from a client's words to a file: a
 * name is taken only if it is a regular file inside the folder, however it is spelt and
 * whatever its symlinks point at.
 */
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { SourceError } from '../../errors.js';

/** Longest name taken, in UTF-8 bytes; the whole request is at most 1024 bytes anyway. */
const MAX_NAME_BYTES = 1024;
/** Names `--list` gives at most, and folders it looks into at most, so a huge tree costs little. */
export const MAX_LISTED_NAMES = 10_000;
const MAX_LIST_DEPTH = 8;

export type Lookup = { found: true; path: string } | { found: false; reason: string };

// C0 controls and DEL: no name a user would type, and a way to forge log lines.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

export class VideoFolder {
  private constructor(
    /** The folder as given, for messages. */
    readonly shown: string,
    /** Its real path: what every name must stay inside. */
    private readonly root: string,
  ) {}

  /** Opens `dir`; fails with a SourceError when it is missing or not a folder. */
  static async open(dir: string): Promise<VideoFolder> {
    let root: string;
    try {
      root = await realpath(dir);
    } catch {
      throw new SourceError(`folder not found: ${dir}`, 'ERR_DIR_NOT_FOUND');
    }
    if (!(await stat(root)).isDirectory()) throw new SourceError(`${dir} is not a folder`, 'ERR_NOT_A_DIR');
    return new VideoFolder(dir, root);
  }

  /**
   * The real path of the file a request names, or why it is refused. Refused before the file
   * system is asked: invalid UTF-8, control bytes, an absolute path, a `..` component; after:
   * a name that does not exist, resolves (through symlinks) outside the folder, or is not a
   * regular file.
   */
  async lookup(request: Buffer): Promise<Lookup> {
    const name = nameOf(request);
    if (typeof name !== 'string') return name;
    let real: string;
    try {
      real = await realpath(join(this.root, name));
    } catch {
      return { found: false, reason: 'no such video' };
    }
    if (!this.holds(real)) return { found: false, reason: 'not in the served folder' };
    try {
      if (!(await stat(real)).isFile()) return { found: false, reason: 'not a video file' };
    } catch {
      return { found: false, reason: 'no such video' };
    }
    return { found: true, path: real };
  }

  /**
   * The names a client can ask for, sorted: regular files under the folder (through symlinks
   * that stay inside), with `/` between folders; hidden ones and names no request can carry
   * are left out.
   */
  async names(): Promise<string[]> {
    const found: string[] = [];
    const walk = async (dir: string, prefix: string, depth: number): Promise<void> => {
      let entries: string[];
      try {
        entries = await readdir(dir);
      } catch {
        return;
      }
      for (const entry of entries.sort()) {
        if (found.length >= MAX_LISTED_NAMES) return;
        if (entry.startsWith('.') || CONTROL.test(entry)) continue;
        const name = prefix + entry;
        const path = join(dir, entry);
        let real: string;
        try {
          real = (await lstat(path)).isSymbolicLink() ? await realpath(path) : path;
        } catch {
          continue;
        }
        if (!this.holds(real)) continue;
        const info = await stat(real).catch(() => undefined);
        if (info?.isFile() && Buffer.byteLength(name) <= MAX_NAME_BYTES) found.push(name);
        // Symlinked folders are not entered: a loop of them would be walked to the depth limit.
        else if (info?.isDirectory() && real === path && depth < MAX_LIST_DEPTH) await walk(path, `${name}/`, depth + 1);
      }
    };
    await walk(this.root, '', 0);
    return found;
  }

  /** Whether a real path is the folder's or under it. */
  private holds(real: string): boolean {
    const inside = relative(this.root, real);
    return inside !== '' && !inside.startsWith(`..${sep}`) && inside !== '..' && !isAbsolute(inside);
  }
}

/** The name a request carries, or why none can be taken from it. */
function nameOf(request: Buffer): string | { found: false; reason: string } {
  // A trailing CR is the rest of a CRLF the request reader cut at its LF.
  const bytes = request.at(-1) === 0x0d ? request.subarray(0, -1) : request;
  if (bytes.length === 0) return { found: false, reason: 'no name given' };
  let name: string;
  try {
    name = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { found: false, reason: 'name is not UTF-8' };
  }
  if (CONTROL.test(name)) return { found: false, reason: 'name has control characters' };
  if (isAbsolute(name) || name.startsWith('\\') || /^[a-z]:/i.test(name)) return { found: false, reason: 'absolute paths are not served' };
  if (name.split(/[/\\]/).includes('..')) return { found: false, reason: 'names with .. are not served' };
  return name;
}
