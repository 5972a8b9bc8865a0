/**
 * `--dir PATH`: the folder's images in natural order (2.png before 10.png, case-insensitive),
 * each frame named by its file name. A batch transfer, so not live and as fast as the consumer
 * takes frames unless a numeric `fps` paces it.
 *
 * JPEG and PNG files pass through byte for byte unless `size` or an explicit `quality` asks
 * for re-encoding; other images (and JPEGs and PNGs then) are encoded as JPEG by sharp, at
 * quality 80 by default, and resized to exactly `size` (stretched, like the ffmpeg sources).
 * What a file holds decides, not its suffix. The next image is read while the consumer handles
 * the current one.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { encodeJpeg, isJpeg } from '../encode/jpeg.js';
import { DEFAULT_QUALITY } from '../encode/quality.js';
import { SourceError } from '../errors.js';
import type { Frame } from '../frame/frame.js';
import { imageInfo, makeFrame } from '../frame/image-info.js';
import { nowMs } from './mjpeg-stream.js';
import { value } from '../options/schema.js';
import type { FrameSource, Size, SourceKind } from './types.js';

const options = { dir: value('--dir <path>', 'send the images of a folder, in natural order (2.png before 10.png)', (text) => text) };

export const dirSource: SourceKind<'dir', { path: string }, typeof options> = {
  kind: 'dir',
  options,
  selector: 'dir',
  // Images are decoded and encoded in-process (sharp); ffmpeg is not involved.
  needsFfmpeg: false,
  fromSettings: (settings) => ({ path: settings.dir ?? '' }),
  open: (source) => openDir(source),
};

export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp', '.bmp', '.tif', '.tiff', '.gif', '.avif'];

export interface DirSourceOptions {
  path: string;
  size?: Size;
  fps?: number | 'max';
  quality?: number;
}

export async function openDir(options: DirSourceOptions): Promise<FrameSource> {
  const names = await listImages(options.path);
  const stopped = new AbortController();
  let iterated = false;
  const frames = async function* (): AsyncGenerator<Frame> {
    if (iterated) throw new Error(`dir ${options.path}: a FrameSource can be iterated only once`);
    iterated = true;
    try {
      yield* paced(readAll(names, options), options.fps, stopped.signal);
    } finally {
      stopped.abort();
    }
  };
  return {
    live: false,
    dropped: 0,
    description: `dir ${options.path} (${names.length} images)`,
    total: async () => names.length,
    [Symbol.asyncIterator]: frames,
    close: async () => stopped.abort(),
  };
}

const collator = new Intl.Collator('en', { numeric: true, sensitivity: 'base' });

/** Natural, case-insensitive order; names equal to the collator keep a stable code-point order. */
export function naturalCompare(a: string, b: string): number {
  return collator.compare(a, b) || (a < b ? -1 : a > b ? 1 : 0);
}

/** Base names of the images in `dir`, in natural order. Hidden files (macOS `._x.jpg` and the like) are skipped. */
export async function listImages(dir: string): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new SourceError(`folder not found: ${dir}`, 'ERR_DIR_NOT_FOUND');
    if (code === 'ENOTDIR') throw new SourceError(`${dir} is not a folder: use --file for a video`, 'ERR_NOT_A_DIR');
    throw new SourceError(`cannot read folder ${dir}: ${(error as Error).message}`, 'ERR_DIR_UNREADABLE', { cause: error });
  }
  const names = entries
    .filter((entry) => (entry.isFile() || entry.isSymbolicLink()) && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .filter((name) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase()))
    .sort(naturalCompare);
  if (names.length === 0) {
    throw new SourceError(`no images in ${dir} (looking for ${IMAGE_EXTENSIONS.join(' ')})`, 'ERR_DIR_EMPTY');
  }
  return names;
}

/** Loads each image while the previous one is being consumed: one read ahead, no more. */
async function* readAll(names: string[], options: DirSourceOptions): AsyncGenerator<{ image: Buffer; name: string }> {
  let next = loadImage(names[0]!, options);
  for (let i = 0; i < names.length; i++) {
    const current = next;
    if (i + 1 < names.length) {
      next = loadImage(names[i + 1]!, options);
      // Awaited on the next turn; this only keeps an early stop from leaving it unhandled.
      next.catch(() => {});
    }
    yield await current;
  }
}

/**
 * Hands frames on, at most `fps` per second when numeric. A folder has no capture moment, so
 * `captureTime` is when a frame is handed on: latency then measures the pipeline, not our
 * pacing or read-ahead.
 */
async function* paced(
  images: AsyncGenerator<{ image: Buffer; name: string }>,
  fps: number | 'max' | undefined,
  signal: AbortSignal,
): AsyncGenerator<Frame> {
  const interval = typeof fps === 'number' ? 1000 / fps : 0;
  let due = performance.now();
  for await (const { image, name } of images) {
    const now = performance.now();
    // More than a frame behind (a slow consumer): restart the cadence rather than burst to catch up.
    if (due < now - interval) due = now;
    if (due > now) await sleep(due - now, undefined, { signal }).catch(() => {});
    if (signal.aborted) return;
    yield makeFrame(image, { captureTime: nowMs(), name });
    due += interval;
  }
}

async function loadImage(name: string, { path, size, quality }: DirSourceOptions): Promise<{ image: Buffer; name: string }> {
  try {
    const bytes = await readFile(join(path, name));
    if (size === undefined && quality === undefined && passesThrough(bytes)) return { image: bytes, name };
    return { image: await encodeJpeg(bytes, { quality: quality ?? DEFAULT_QUALITY, ...(size && { size }) }), name };
  } catch (error) {
    const reason = (error as Error).message.split('\n')[0];
    throw new SourceError(`cannot read image ${name}: ${reason}`, 'ERR_IMAGE_UNREADABLE', { cause: error });
  }
}

/**
 * A JPEG, or a PNG whose header says its size: sent as it is. A PNG without a readable IHDR is
 * left to sharp, which names what is wrong with it, rather than sent for every receiver to refuse.
 */
function passesThrough(bytes: Buffer): boolean {
  if (isJpeg(bytes)) return true;
  const info = imageInfo(bytes);
  return info.type === 'png' && info.width !== undefined;
}
