/** The journals of the folders `--save-dir` writes in, opened once each (a bounded cache). */
import { MAX_CACHED_FOLDERS } from './save-folders.js';
import { SaveJournal } from './save-journal.js';

export class SaveJournals {
  private readonly byPath = new Map<string, Promise<SaveJournal>>();

  /** The journal of the folder at `path`; one forgotten is read again from disk, with the same result. */
  of(path: string): Promise<SaveJournal> {
    let journal = this.byPath.get(path);
    if (journal === undefined) {
      journal = SaveJournal.open(path);
      if (this.byPath.size >= MAX_CACHED_FOLDERS) this.byPath.delete(this.byPath.keys().next().value as string);
      this.byPath.set(path, journal);
      // A failure (a full disk) is not remembered: the next frame tries again.
      journal.catch(() => {
        if (this.byPath.get(path) === journal) this.byPath.delete(path);
      });
    }
    return journal;
  }
}
