/** A FrameSource over concatenated JPEGs (MJPEG): ffmpeg's MJPEG output, or standard input. */
import type { Frame } from '../frame/frame.js';
import { makeFrame } from '../frame/image-info.js';
import { StreamSource, type Producer } from './frame-stream.js';
import { MjpegSplitter } from './mjpeg-splitter.js';
import type { FrameSource } from './types.js';

export { nowMs, type Producer } from './frame-stream.js';

export interface MjpegStreamOptions {
  input: AsyncIterable<unknown> & { destroy?(): unknown };
  live: boolean;
  description: string;
  producer?: Producer;
  maxFrameBytes?: number;
}

export function mjpegStreamSource({ maxFrameBytes, ...options }: MjpegStreamOptions): FrameSource {
  return new StreamSource<Buffer>({
    ...options,
    splitter: new MjpegSplitter(maxFrameBytes === undefined ? {} : { maxFrameBytes }),
    toFrame: (jpeg, captureTime): Frame => makeFrame(jpeg, { captureTime }),
  });
}
