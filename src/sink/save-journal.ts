/**
 * Which frames of resumable transfers (frames that carry a stream id and ask for
 * acknowledgement) a save folder holds, so that a frame sent again after a receiver restart is
 * acknowledged without being saved twice.
 *
 * A frame is published in four steps: 1) written to a temporary named after its stream and seq,
 * 2) linked to its final name, 3) `stream seq` appended to the folder's journal
 * (`.vstream-journal`), 4) the temporary unlinked. So after a crash at any point, (stream, seq)
 * was saved if and only if the journal has it, or its temporary is still there with a link
 * count of 2 (a crash between 2 and 3): such a temporary is recorded, then removed, when the
 * folder is next used. Only the highest seq of each stream is kept in memory: a stream's frames
 * are saved in order.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { OutputError } from '../errors.js';
import { join } from 'node:path';
import { errnoCode, TEMP_PREFIX } from './exclusive-file.js';

export const JOURNAL_NAME = '.vstream-journal';
/** Streams whose highest seq a folder remembers; the one written least recently is forgotten first. */
export const MAX_JOURNAL_STREAMS = 1024;
/** `stream seq`: a 64-character id, a space, 16 digits. Longer lines are not records. */
const MAX_LINE = 64 + 1 + 16;
const RECORD = /^([0-9A-Za-z_-]{1,64}) (0|[1-9][0-9]{0,15})$/;
const RESUME_TEMP = /^\.vstream-s\.([0-9A-Za-z_-]{1,64})\.(0|[1-9][0-9]{0,15})\.(\d{1,10})-[0-9a-f]{16}\.part$/;
const READ_CHUNK = 64 * 1024;
const NEWLINE = 0x0a;

export class SaveJournal {
  private readonly highest = new Map<string, number>();
  private readonly path: string;

  private constructor(private readonly folder: string) {
    this.path = join(folder, JOURNAL_NAME);
  }

  /** The journal of `folder`, with what a crash left half done recorded. */
  static async open(folder: string): Promise<SaveJournal> {
    const journal = new SaveJournal(folder);
    // A line cut short by a crash must not run into the next record.
    if (!(await journal.read())) await journal.append('\n');
    await journal.recover();
    return journal;
  }

  /** Whether the frame `seq` of `stream` is saved in this folder. */
  saved(stream: string, seq: number): boolean {
    const highest = this.highest.get(stream);
    return highest !== undefined && seq <= highest;
  }

  /** A fresh temporary name that says which frame it holds (step 1). */
  tempName(stream: string, seq: number): string {
    return `${TEMP_PREFIX}s.${stream}.${seq}.${process.pid}-${randomBytes(8).toString('hex')}.part`;
  }

  /** Records a frame that has its final name (step 3). */
  async record(stream: string, seq: number): Promise<void> {
    await this.append(`${stream} ${seq}\n`);
    this.note(stream, seq);
  }

  private note(stream: string, seq: number): void {
    const highest = this.highest.get(stream);
    if (highest !== undefined && highest >= seq) return;
    this.highest.delete(stream);
    if (this.highest.size >= MAX_JOURNAL_STREAMS) this.highest.delete(this.highest.keys().next().value as string);
    this.highest.set(stream, seq);
  }

  /** Appends with O_APPEND, never through a symlink: one short write, so records never interleave. */
  private async append(text: string): Promise<void> {
    const file = await openJournal(this.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT);
    try {
      await file.write(text);
    } finally {
      await file.close();
    }
  }

  /**
   * Reads the records, a chunk at a time, holding at most one line; lines that are not records
   * (cut short, too long, foreign) are skipped. True when the file ends with a newline (or is
   * empty or absent).
   */
  private async read(): Promise<boolean> {
    let file;
    try {
      file = await openJournal(this.path, constants.O_RDONLY);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return true;
      throw err;
    }
    try {
      const chunk = Buffer.allocUnsafe(READ_CHUNK);
      const line = Buffer.allocUnsafe(MAX_LINE);
      let length = 0;
      let overlong = false;
      let last = NEWLINE;
      for (;;) {
        const { bytesRead } = await file.read(chunk, 0, READ_CHUNK, null);
        if (bytesRead === 0) return last === NEWLINE;
        for (let i = 0; i < bytesRead; i++) {
          const byte = chunk[i]!;
          if (byte === NEWLINE) {
            if (!overlong) this.parse(line.toString('latin1', 0, length));
            length = 0;
            overlong = false;
          } else if (length < MAX_LINE) {
            line[length++] = byte;
          } else {
            overlong = true;
          }
        }
        last = chunk[bytesRead - 1]!;
      }
    } finally {
      await file.close();
    }
  }

  private parse(text: string): void {
    const match = RECORD.exec(text);
    if (match) this.note(match[1]!, Number(match[2]));
  }

  /**
   * Temporaries of frames a crash left behind: one with a second link was saved (its record is
   * written now); one without, of a process that is gone, was never saved and is removed.
   */
  private async recover(): Promise<void> {
    for (const name of await readdir(this.folder)) {
      const match = RESUME_TEMP.exec(name);
      if (!match) continue;
      const path = join(this.folder, name);
      const stats = await lstat(path).catch(() => undefined);
      if (!stats?.isFile()) continue;
      if (stats.nlink >= 2) {
        await this.record(match[1]!, Number(match[2]));
      } else if (isRunning(Number(match[3]))) {
        continue;
      }
      await unlink(path).catch(() => {});
    }
  }
}

/**
 * Opens the journal, refusing anything but a regular file: not through a symlink, and without
 * blocking on a FIFO planted under its name.
 */
async function openJournal(path: string, flags: number): Promise<FileHandle> {
  const file = await open(path, flags | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  if (!(await file.stat()).isFile()) {
    await file.close();
    throw new OutputError(`${path} is not a regular file`, 'ERR_OUTPUT');
  }
  return file;
}

/** Whether a process of that id exists (it may be writing that temporary now). */
function isRunning(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errnoCode(err) !== 'ESRCH';
  }
}
