/**
 * `--stdin`: JPEG frames back to back (MJPEG) on standard input, or on the given stream. Frames
 * pass through byte for byte: size, quality and fps do not apply, since re-encoding would only
 * cost quality and time, and the writer already sets the pace. Not live: reading stops while the
 * consumer is busy, so the writer blocks rather than frames being lost.
 */
import { mjpegStreamSource } from './mjpeg-stream.js';
import { flag } from '../options/schema.js';
import type { FrameSource, SourceKind } from './types.js';

const options = { stdin: flag('--stdin', 'read JPEG frames concatenated on standard input (MJPEG)') };

export const stdinSource: SourceKind<'stdin', { stream?: NodeJS.ReadableStream }, typeof options> = {
  kind: 'stdin',
  options,
  selector: 'stdin',
  needsFfmpeg: false,
  fromSettings: () => ({}),
  open: (source) => openStdin(source),
};

export async function openStdin(options: { stream?: NodeJS.ReadableStream } = {}): Promise<FrameSource> {
  const input = options.stream ?? process.stdin;
  return mjpegStreamSource({ input, live: false, description: input === process.stdin ? 'stdin' : 'input stream' });
}
