/**
 * One connection to an http(s) URL, as `send --url` reads it. What the answer is decides how
 * its frames are made, from its Content-Type and its first bytes (ffmpeg's `-listen` server says
 * application/octet-stream whatever it sends):
 * - multipart/x-mixed-replace, or a body starting with a `--` boundary line: MJPEG parts,
 *   passed through as they are (no decode, no encode);
 * - a body starting with a JPEG: JPEGs back to back, passed through; an answer of one JPEG
 *   is a snapshot URL, asked again at the frame rate;
 * - a web page or text: not a stream (ERR_URL_NOT_A_STREAM);
 * - anything else (MPEG-TS, Matroska, FLV...): handed to ffmpeg on its stdin, which decodes it,
 *   and encoded as other video sources are.
 * With a size or quality asked, MJPEG goes through ffmpeg too, as `--file` does.
 */
import { Readable } from 'node:stream';
import { NetworkError, SourceError, VstreamError } from '../../errors.js';
import type { Frame } from '../../frame/frame.js';
import { makeFrame } from '../../frame/image-info.js';
import { ffmpegSource } from '../ffmpeg-source.js';
import { nowMs } from '../frame-stream.js';
import { MjpegSplitter } from '../mjpeg-splitter.js';
import { boundaryOf, MultipartJpegParser, type MultipartJpeg } from '../http-mjpeg/multipart-parser.js';
import { displayUrl, httpGet, socketError } from '../http-mjpeg/http-get.js';
import { pipedInputArgs } from './ffmpeg-url-args.js';
import { BodyReader } from './body-reader.js';
import { probePiped } from './ffmpeg-session.js';
import { explainUrlFailure } from './explain.js';
import type { Session } from './reconnecting-source.js';
import type { UrlSourceSettings } from './settings.js';

/** Enough of the body to tell a boundary line or a JPEG from anything else (past a CRLF or two). */
const SNIFF_BYTES = 8;
/** What ffmpeg is shown to tell the codec of a stream in a container: its header and first frames. */
const PROBE_BYTES = 64 * 1024;
/** A slow stream's first bytes are not waited for longer than this. */
const PROBE_WAIT_MS = 2000;
/** An X-Timestamp this far from our clock is another clock (another host's, a monotonic one): ignored. */
const MAX_CLOCK_SKEW_MS = 5000;

export type HttpStreamKind = 'multipart' | 'jpeg' | 'page' | 'video';

/** What an answer is, from its Content-Type and its first bytes. Pure, for tests. */
export function classifyAnswer(contentType: string | undefined, head: Buffer): HttpStreamKind {
  const type = (contentType ?? '').toLowerCase();
  if (type.startsWith('multipart/')) return 'multipart';
  const start = head.subarray(head.findIndex((byte) => byte !== 0x0d && byte !== 0x0a && byte !== 0x20));
  if (start.length >= 2 && start[0] === 0x2d && start[1] === 0x2d) return 'multipart';
  if (start.length >= 3 && start[0] === 0xff && start[1] === 0xd8 && start[2] === 0xff) return 'jpeg';
  if (/^(text\/|application\/(json|xml|xhtml))/.test(type)) return 'page';
  return 'video';
}

export async function openHttpSession(url: URL, settings: UrlSourceSettings): Promise<Session> {
  const display = displayUrl(url);
  const abort = new AbortController();
  const response = await httpGet(url, { timeoutMs: settings.frameTimeoutMs, signal: abort.signal });
  const close = async () => {
    abort.abort();
    response.destroy();
  };
  try {
    const contentType = response.headers['content-type'];
    const reader = new BodyReader(response[Symbol.asyncIterator]() as AsyncIterator<Buffer>, (error) => {
      if (abort.signal.aborted) return new NetworkError(`${display}: closed`, 'ERR_CONNECTION_CLOSED');
      return error instanceof VstreamError ? error : socketError(display, error as Error);
    });
    // A multipart Content-Type says it all; otherwise the first bytes tell.
    const filled = await reader.fill(/^multipart\//i.test(contentType ?? '') ? 1 : SNIFF_BYTES, settings.frameTimeoutMs);
    if (reader.bytes === 0) {
      if (filled === 'late') throw new NetworkError(`${display} sent nothing for ${settings.frameTimeoutMs / 1000} s`, 'ERR_TIMEOUT');
      throw new NetworkError(`${display} answered with an empty body`, 'ERR_CONNECTION_CLOSED');
    }
    const kind = classifyAnswer(contentType, reader.prefix());
    const reencode = settings.size !== undefined || settings.quality !== undefined;
    if (kind === 'page') throw new SourceError(`${display} is a ${contentType?.split(';')[0] ?? 'text'} page, not a video stream`, 'ERR_URL_NOT_A_STREAM');
    if (kind === 'video' || reencode) {
      const format = kind === 'multipart' ? 'mpjpeg' : kind === 'jpeg' ? 'mjpeg' : undefined;
      // An MJPEG video in a container (Matroska, AVI) is copied, as `--file` copies it: ffmpeg
      // is asked what the first bytes hold.
      const asIs = kind === 'video' && !reencode && typeof settings.fps !== 'number';
      const codec = asIs ? await probeCodec(reader, settings) : undefined;
      return ffmpegSession({ format, copy: codec === 'mjpeg' }, reader.body(), close, display, settings);
    }
    if (kind === 'multipart') return { frames: multipartFrames(reader.body(), boundaryOf(contentType), settings), close };
    // One JPEG and the end of the answer: a snapshot URL (mjpg-streamer's says no Content-Length).
    const counted = { frames: 0 };
    const pollAfterMs = 1000 / (typeof settings.fps === 'number' ? settings.fps : DEFAULT_SNAPSHOT_FPS);
    return {
      frames: concatenatedFrames(reader.body(), settings, counted),
      close,
      get pollAfterMs() {
        return counted.frames === 1 ? pollAfterMs : undefined;
      },
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** How often a snapshot URL is asked when no --fps says. */
export const DEFAULT_SNAPSHOT_FPS = 2;

async function* multipartFrames(body: AsyncIterable<Buffer>, boundary: string | undefined, settings: UrlSourceSettings): AsyncGenerator<Frame> {
  const parser = new MultipartJpegParser(boundary, { maxPartBytes: settings.maxFrameBytes });
  const thin = thinner(settings.fps);
  const clock = serverClock();
  for await (const chunk of body) {
    const arrival = nowMs();
    for (const part of parser.push(chunk)) {
      if (thin(arrival)) yield makeFrame(part.jpeg, { captureTime: clock(part, arrival) });
    }
    if (parser.closed) return;
  }
}

async function* concatenatedFrames(body: AsyncIterable<Buffer>, settings: UrlSourceSettings, counted: { frames: number }): AsyncGenerator<Frame> {
  const splitter = new MjpegSplitter({ maxFrameBytes: settings.maxFrameBytes });
  const thin = thinner(settings.fps);
  for await (const chunk of body) {
    const arrival = nowMs();
    for (const jpeg of splitter.push(chunk)) {
      counted.frames += 1;
      if (thin(arrival)) yield makeFrame(jpeg, { captureTime: arrival });
    }
  }
  splitter.end();
}

/**
 * The capture time of a part: its X-Timestamp when the first one of the connection is within
 * MAX_CLOCK_SKEW_MS of our clock (same host, or clocks in sync), never later than its arrival;
 * else the time it arrived. Decided once per connection, so latencies do not jump between clocks.
 */
function serverClock(): (part: MultipartJpeg, arrival: number) => number {
  let trusted: boolean | undefined;
  return (part, arrival) => {
    if (part.timestampMs === undefined) return arrival;
    trusted ??= Math.abs(arrival - part.timestampMs) <= MAX_CLOCK_SKEW_MS;
    return trusted ? Math.min(part.timestampMs, arrival) : arrival;
  };
}

/** With a numeric --fps: frames kept no closer than 1/fps apart (the rest are left out, not re-encoded). */
function thinner(fps: number | 'max' | undefined): (at: number) => boolean {
  if (typeof fps !== 'number') return () => true;
  const gap = 1000 / fps;
  let next = 0;
  return (at) => {
    // A millisecond of slack: a camera at exactly the asked rate keeps every frame.
    if (at < next - 1) return false;
    next = (at - next > gap ? at : next) + gap;
    return true;
  };
}

/** What ffmpeg says the stream's first bytes hold: a few hundred kilobytes, or what came in a few seconds. */
async function probeCodec(reader: BodyReader, settings: UrlSourceSettings): Promise<string | undefined> {
  await reader.fill(PROBE_BYTES, Math.min(PROBE_WAIT_MS, settings.frameTimeoutMs));
  return (await probePiped(settings.ffmpegPath(), reader.prefix(), settings.frameTimeoutMs))?.codec;
}

/**
 * The body decoded by ffmpeg from its stdin, encoded as every video source is; or, with
 * `copy`, its MJPEG frames unwrapped from the container, not encoded again.
 */
function ffmpegSession(
  { format, copy }: { format: string | undefined; copy: boolean },
  body: AsyncIterable<Buffer>,
  closeHttp: () => Promise<void>,
  display: string,
  settings: UrlSourceSettings,
): Session {
  const stdin = Readable.from(body, { objectMode: false });
  const source = ffmpegSource({
    ffmpegPath: settings.ffmpegPath(),
    encoder: copy ? 'copy' : settings.encoder,
    input: pipedInputArgs(format ? { format } : {}),
    output: { size: settings.size, fps: settings.fps === 'max' ? undefined : settings.fps, quality: settings.quality },
    explainFailure: explainUrlFailure(display),
    live: true,
    description: `url ${display}`,
    stdin,
  });
  return {
    frames: source,
    close: async () => {
      stdin.destroy();
      await closeHttp();
      await source.close();
    },
  };
}
