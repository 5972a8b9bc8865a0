import { mkdir, open } from 'node:fs/promises';
import { join } from 'node:path';
import { withoutMetadata } from '../frame/metadata.js';
import { OutputError } from '../errors.js';
import type { ReceivedFrame } from '../transport/types.js';
import type { FrameSink } from './types.js';

/**
 * Saves one JPEG file per frame. Frames of a folder transfer keep their original names (with a
 * `.jpg` extension when they were re-encoded from another format); others are numbered by
 * sequence, zero-padded so that they sort. The first sender writes into the folder itself;
 * a sender connected while another is active gets a subfolder named after it, so that two
 * streams never overwrite each other's files.
 */
export class SaveDirSink implements FrameSink {
  private readonly folders = new Map<number, string>();
  private readonly active = new Set<number>();

  private constructor(private readonly root: string) {}

  static async open(root: string): Promise<SaveDirSink> {
    try {
      await mkdir(root, { recursive: true });
    } catch (err) {
      throw new OutputError(`cannot create folder ${root}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
    return new SaveDirSink(root);
  }

  async write(frame: ReceivedFrame): Promise<void> {
    const folder = await this.folderFor(frame);
    const path = join(folder, fileName(frame));
    try {
      const file = await open(path, 'w');
      try {
        await file.writev(withoutMetadata(frame.jpeg));
      } finally {
        await file.close();
      }
    } catch (err) {
      throw new OutputError(`cannot write ${path}: ${(err as Error).message}`, 'ERR_OUTPUT', { cause: err });
    }
  }

  senderGone(connectionId: number): void {
    this.active.delete(connectionId);
    this.folders.delete(connectionId);
  }

  async close(): Promise<void> {}

  private async folderFor(frame: ReceivedFrame): Promise<string> {
    const known = this.folders.get(frame.connectionId);
    if (known !== undefined) return known;
    let folder = this.root;
    if (this.active.size > 0) {
      folder = join(this.root, safeName(frame.sender) ?? `sender-${frame.connectionId}`);
      await mkdir(folder, { recursive: true });
    }
    this.active.add(frame.connectionId);
    this.folders.set(frame.connectionId, folder);
    return folder;
  }
}

/** The file name for a frame. Names from the wire are untrusted: only a plain base name is used. */
export function fileName(frame: ReceivedFrame): string {
  const original = frame.meta?.name !== undefined ? safeName(frame.meta.name) : undefined;
  if (original !== undefined) return /\.jpe?g$/i.test(original) ? original : `${original.replace(/\.[^.]*$/, '')}.jpg`;
  return `${String(frame.seq).padStart(6, '0')}.jpg`;
}

/** A name that is safe as one path component on every OS, or undefined. */
export function safeName(name: string): string | undefined {
  const cleaned = name.replace(/[\u0000-\u001f<>:"/\\|?*]/g, '_').trim().slice(0, 200);
  if (cleaned === '' || /^\.+$/.test(cleaned) || cleaned.startsWith('.')) return undefined;
  return cleaned;
}
