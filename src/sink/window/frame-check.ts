import { imageSize, noSizeReason } from '../../decode/pixels.js';
import type { Problem } from '../../problems.js';
import { wireText } from '../../text/wire-text.js';
import type { ReceivedFrame } from '../../frame/frame.js';
import type { Size } from './fit.js';

/** How the window sink names a sender in a problem: its label (escaped) and its address. */
export function senderName(frame: Pick<ReceivedFrame, 'sender' | 'peer'>): string {
  return frame.sender === frame.peer ? frame.peer : `${wireText(frame.sender)} (${frame.peer})`;
}

/**
 * The image size a frame's JPEG or PNG header claims, if the window may decode it; otherwise the
 * problem that drops it. Read from the header alone, before any decoder, buffer or window
 * is allocated: a few bytes on the wire can claim 65535x65535 (12 GB of RGB).
 */
export function checkFrameSize(frame: ReceivedFrame, maxPixels: number): Size | Problem {
  const size = imageSize(frame);
  if (!size) {
    return {
      code: 'ERR_BAD_JPEG',
      message: `frame from ${senderName(frame)} dropped by the window: ${noSizeReason(frame.type)}`,
    };
  }
  const pixels = size.width * size.height;
  if (pixels > maxPixels) {
    return {
      code: 'ERR_PIXEL_LIMIT',
      message:
        `frame from ${senderName(frame)} dropped by the window: ${size.width}x${size.height} ` +
        `is over the limit of ${maxPixels} pixels (--max-pixels)`,
    };
  }
  return size;
}

export function isProblem(value: Size | Problem): value is Problem {
  return 'code' in value;
}
