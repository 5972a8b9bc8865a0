/**
 * The bytes of a multipart/x-mixed-replace MJPEG response, as mjpg-streamer and µStreamer
 * write it (clients written against them expect exactly this, boundary name included).
 *
 * Each part ends with the next boundary right after the image, as µStreamer does: a client
 * knows the part is complete at once, instead of when the next frame arrives. Chrome still
 * shows a part only when the next part's headers have come too; with `advanceHeaders` those
 * headers follow each image at once (µStreamer's `advance_headers`), which rules out
 * Content-Length, since the next image's size is not known yet.
 */
import type { ServedFrame } from './served-frame.js';
import { imageMime } from './served-frame.js';

export const BOUNDARY = 'boundarydonotcross';
export const MULTIPART_TYPE = `multipart/x-mixed-replace;boundary=${BOUNDARY}`;

const CRLF = '\r\n';

/** `X-Timestamp`: seconds since the epoch with microseconds, µStreamer's format. */
export function timestampHeader(captureTimeMs: number): string {
  return (captureTimeMs / 1000).toFixed(6);
}

/** What opens the body: the first boundary, and with advance headers the first part's headers. */
export function openingBytes(advanceHeaders: boolean): Buffer {
  return Buffer.from(`--${BOUNDARY}${CRLF}${advanceHeaders ? `Content-Type: image/jpeg${CRLF}${CRLF}` : ''}`, 'latin1');
}

/**
 * One part: its headers (unless sent ahead), the image, the boundary after it, and with advance
 * headers the next part's headers. The image is not copied.
 */
export function partChunks(frame: ServedFrame, advanceHeaders: boolean, now: number): Buffer[] {
  const time = timestampHeader(frame.captureTime ?? now);
  const mime = imageMime(frame) ?? 'application/octet-stream';
  const head = advanceHeaders ? '' : `Content-Type: ${mime}${CRLF}Content-Length: ${frame.data.length}${CRLF}X-Timestamp: ${time}${CRLF}${CRLF}`;
  const tail = `${CRLF}--${BOUNDARY}${CRLF}${advanceHeaders ? `Content-Type: ${mime}${CRLF}${CRLF}` : ''}`;
  return [...(head ? [Buffer.from(head, 'latin1')] : []), frame.data, Buffer.from(tail, 'latin1')];
}
