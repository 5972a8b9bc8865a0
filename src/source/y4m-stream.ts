/** A FrameSource over ffmpeg's Y4M output, each frame JPEG-encoded by the libjpeg-turbo addon. */
import { encodeRawFrame } from '../encode/yuv-jpeg.js';
import { makeFrame } from '../frame/image-info.js';
import { StreamSource, type Producer } from './frame-stream.js';
import { Y4mSplitter, type RawFrame } from './y4m-splitter.js';
import type { FrameSource } from './types.js';

export interface Y4mStreamOptions {
  input: AsyncIterable<unknown> & { destroy?(): unknown };
  live: boolean;
  description: string;
  producer?: Producer;
  quality?: number;
}

export function y4mStreamSource({ quality, ...options }: Y4mStreamOptions): FrameSource {
  const splitter = new Y4mSplitter();
  return new StreamSource<RawFrame>({
    ...options,
    splitter,
    encodeAhead: true,
    toFrame: async (raw, captureTime) => {
      try {
        return makeFrame(await encodeRawFrame(raw, quality), { captureTime });
      } finally {
        // The JPEG is a new buffer: the planes can take the next frame.
        splitter.release(raw.planes);
      }
    },
  });
}
