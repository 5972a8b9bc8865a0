/**
 * One client's playback: its own source, each frame as a 16-byte header and the JPEG, then
 * the client's reply before the next frame (stop-and-wait, as the reference server), `EOF` at
 * the end of the video.
 */
import type { Socket } from 'node:net';
import { tcpFrame } from '../../frame/framer.js';
import { frameMeta } from '../../frame/frame-meta.js';
import { payloadParts } from '../../frame/payload.js';
import type { Frame } from '../../frame/frame.js';
import { END } from './wire.js';
import { ReplyReader } from './reply-reader.js';

/** A client that takes this long to reply to a frame (or to read it) is let go. */
export const REPLY_WAIT_MS = 30_000;

/** How a playback ended. */
export type PlaybackEnd = 'end of video' | 'stopped by the client' | 'client gone' | 'no reply' | 'server stopping' | 'source failed';

export interface PlaybackOptions {
  socket: Socket;
  /** The frames, the first of them already read (it decided that the video plays). */
  first: Frame;
  rest: AsyncIterator<Frame>;
  metadata: boolean;
  label: string | undefined;
  /** Aborted when the server stops, which also closes the source. */
  stopped: AbortSignal;
  replyWaitMs?: number;
  /** Before the first frame: the client's replies are listened for meanwhile. */
  pauseMs?: number;
}

export interface PlaybackResult {
  frames: number;
  end: PlaybackEnd;
  /** What went wrong with the source, for `source failed`. */
  error?: unknown;
}

export async function play(options: PlaybackOptions): Promise<PlaybackResult> {
  const { socket, stopped } = options;
  const replies = new ReplyReader(socket);
  const replyWaitMs = options.replyWaitMs ?? REPLY_WAIT_MS;
  const interrupt = () => replies.interrupt();
  stopped.addEventListener('abort', interrupt, { once: true });
  if (options.pauseMs) await new Promise((resolve) => setTimeout(resolve, options.pauseMs));
  let frames = 0;
  let frame: Frame = options.first;
  let end: PlaybackEnd | undefined;
  let error: unknown;
  while (end === undefined) {
    if (stopped.aborted) break;
    if (replies.ended) {
      end = 'stopped by the client';
      break;
    }
    const meta = frameMeta(frame, { metadata: options.metadata, seq: frames, ...(options.label !== undefined && { label: options.label }) });
    socket.cork();
    for (const part of tcpFrame(payloadParts(frame, meta))) socket.write(part);
    socket.uncork();
    frames += 1;
    // A client that stops reading never replies: the reply's deadline bounds that too.
    const reply = await replies.next(replyWaitMs);
    if (reply === 'interrupted') break;
    if (reply !== 'next') {
      end = reply === 'end' ? 'stopped by the client' : reply === 'gone' ? 'client gone' : 'no reply';
      break;
    }
    try {
      const next = await options.rest.next();
      if (next.done) end = 'end of video';
      else frame = next.value;
    } catch (err) {
      end = 'source failed';
      error = err;
    }
  }
  stopped.removeEventListener('abort', interrupt);
  // Closing the source at a stop ends its frames early: that is the stop, not the video's end.
  if (stopped.aborted && end !== 'stopped by the client' && end !== 'client gone') end = 'server stopping';
  end ??= 'server stopping';
  // The reference client stops at `EOF` where a header would be: the end of the video, and the
  // server going away, are said the same way.
  if (end === 'end of video' || end === 'server stopping' || end === 'source failed') socket.end(END);
  else if (end === 'stopped by the client') socket.end();
  else socket.destroy();
  return { frames, end, ...(error !== undefined && { error }) };
}
