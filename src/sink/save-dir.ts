import { mkdir } from 'node:fs/promises';
import { withoutMetadata } from '../frame/metadata.js';
import { OutputError, VstreamError } from '../errors.js';
import type { ProblemReporter } from '../problems.js';
import { wireText } from '../text/wire-text.js';
import type { ReceivedFrame } from '../frame/frame.js';
import { errnoCode, publishExclusive, type NameSource } from './exclusive-file.js';
import { imageSuffix, type ImageSuffix } from './image-type.js';
import { numberedFileName, safeFileName, safeOwnFileName } from './safe-file-name.js';
import { SaveFolders, type SaveFolder } from './save-folders.js';
import type { FrameSink } from './types.js';
import { value } from '../options/schema.js';
import type { SinkKind } from './kind.js';
import { ackRequest } from '../frame/ack-reply.js';
import { SaveJournals } from './save-journals.js';

const saveDirOptions = {
  saveDir: value('--save-dir <dir>', "save one file per frame in this folder (a labelled sender's in DIR/<label>/)", (text) => text),
};

/** `recv --save-dir DIR`. */
export const saveDirSinkKind: SinkKind<typeof saveDirOptions> = {
  name: 'save-dir',
  options: saveDirOptions,
  open: async ({ saveDir }, { report }) => (saveDir === undefined ? undefined : SaveDirSink.open(saveDir, { onProblem: report })),
};

/** `name-1` ... `name-N` tried for a named frame whose name is taken; then it is numbered. */
export const MAX_NAME_COPIES = 100;
/**
 * Names tried for one frame before giving up: numbered names are taken only when something
 * else writes into the folder at the same time, so this many in a row means a runaway.
 */
export const MAX_NAME_ATTEMPTS = 10_000;

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

export interface SaveDirOptions {
  /** Told when a peer-chosen name was unusable here and the frame got a numbered name instead. */
  onProblem?: ProblemReporter;
}

/**
 * Saves one file per frame, never losing, replacing or half-writing one. Frames without a label
 * go into the folder itself, a labelled sender's into a subfolder named after the label (see
 * SaveFolders). Frames of a folder transfer keep their (made safe) names, `name-1.jpg` if taken;
 * the others are numbered from after the highest number already in their folder. The suffix is
 * the payload's real type.
 */
export class SaveDirSink implements FrameSink {
  private readonly folders: SaveFolders;
  private readonly journals = new SaveJournals();

  private constructor(
    root: string,
    private readonly options: SaveDirOptions,
  ) {
    this.folders = new SaveFolders(root);
  }

  static async open(root: string, options: SaveDirOptions = {}): Promise<SaveDirSink> {
    try {
      await mkdir(root, { recursive: true });
    } catch (err) {
      throw saveError(err, root, 'cannot create folder');
    }
    return new SaveDirSink(root, options);
  }

  async write(frame: ReceivedFrame): Promise<void> {
    const label = senderLabel(frame);
    let folder: SaveFolder;
    try {
      folder = await this.folders.folderFor(label);
    } catch (err) {
      throw saveError(err, this.folders.displayFor(label), 'cannot create folder');
    }
    // A folder transfer's file is kept as it came, under its own name and suffix.
    const asSent = frame.meta?.sourceType !== undefined;
    const names = this.frameNames(frame.meta?.name, folder, imageSuffix(frame.type), asSent);
    try {
      await this.publish(folder, frame, names, asSent);
    } catch (err) {
      throw saveError(err, folder.display, 'cannot save frames in');
    }
  }

  async close(): Promise<void> {}

  /**
   * Saves the frame; one of a resumable transfer through its folder's journal, so that once
   * saved it is never saved again, even when it is sent again after a restart.
   */
  private async publish(folder: SaveFolder, frame: ReceivedFrame, names: NameSource, asSent: boolean): Promise<void> {
    const resumable = ackRequest(frame.meta);
    if (!resumable) {
      await publishExclusive(folder.path, asSent ? [frame.data] : withoutMetadata(frame.data), names);
      return;
    }
    const { stream, seq } = resumable;
    const journal = await this.journals.of(folder.path);
    if (journal.saved(stream, seq)) return;
    await publishExclusive(folder.path, withoutMetadata(frame.data), names, {
      tempName: journal.tempName(stream, seq),
      published: () => journal.record(stream, seq),
    });
  }

  /**
   * The names to try for one frame: its own name, then `name-1`, `name-2`, ...; numbered names
   * when it has none, after MAX_NAME_COPIES, or when the file system refuses its name.
   */
  private frameNames(name: string | undefined, folder: SaveFolder, suffix: ImageSuffix, ownSuffix: boolean): NameSource {
    const named = (copy = 0) => (ownSuffix ? safeOwnFileName(name!, copy) : safeFileName(name!, suffix, copy));
    const original = name === undefined ? undefined : named();
    // The copies up to the last one tried for this name are taken already: start after it.
    let copy = original === undefined ? 0 : folder.lastCopy(original);
    let numbered = original === undefined || copy >= MAX_NAME_COPIES;
    let attempts = 0;
    return (refused) => {
      if (++attempts > MAX_NAME_ATTEMPTS) throw new OutputError(`no free file name in ${folder.display}`, 'ERR_OUTPUT');
      if (!numbered && name !== undefined && original !== undefined) {
        if (refused === undefined && copy === 0) return original;
        if (refused !== 'invalid' && copy < MAX_NAME_COPIES) {
          folder.noteCopy(original, ++copy);
          return named(copy);
        }
        numbered = true;
        if (refused === 'invalid') {
          this.options.onProblem?.({
            code: 'ERR_SAVE_NAME',
            message: `${folder.display}: the file system refused the name "${wireText(name)}"; saved under a number`,
          });
        }
      } else if (refused === 'invalid') {
        throw new OutputError(`${folder.display} refuses numbered file names`, 'ERR_OUTPUT');
      }
      return numberedFileName(folder.takeNumber(), suffix);
    };
  }
}

/** The sender's label, or undefined for a sender that never sent one (`sender` is then its address). */
function senderLabel(frame: ReceivedFrame): string | undefined {
  return frame.meta?.label ?? (frame.sender !== frame.peer ? frame.sender : undefined);
}

/** A one-line OutputError naming the folder; a full disk gets its own code. */
function saveError(err: unknown, where: string, doing: string): VstreamError {
  if (err instanceof VstreamError) return err;
  const code = errnoCode(err);
  if (DISK_FULL.has(code)) {
    return new OutputError(`${where}: no space left on the disk (${code}); frames can no longer be saved`, 'ERR_DISK_FULL', { cause: err });
  }
  // Node's message for a failed system call repeats the full path after a comma: the folder is named already.
  const message = err instanceof Error ? err.message : String(err);
  const reason = code !== '' ? message.split(', ')[0] : message;
  return new OutputError(`${doing} ${where}: ${reason}`, 'ERR_OUTPUT', { cause: err });
}
