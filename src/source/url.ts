/**
 * `--url URL`: a live stream from a server. MJPEG over HTTP (IP cameras, µStreamer,
 * mjpg-streamer, another vstream's `recv --http`) is cut into its JPEGs, which pass through as
 * they are; anything else (RTSP, RTMP, MPEG-TS over HTTP) goes through ffmpeg, copied when it
 * is MJPEG, else encoded as other video sources. Reconnects after an outage, as `--to` does.
 */
import { UsageError } from '../errors.js';
import { escapeUnsafe } from '../text/wire-text.js';
import { parseBytes, parseSeconds } from '../options/parsers.js';
import { value } from '../options/schema.js';
import { locateFfmpeg } from './ffmpeg/locate.js';
import { DEFAULT_MAX_PART_BYTES } from './http-mjpeg/multipart-parser.js';
import { displayUrl } from './http-mjpeg/http-get.js';
import { openFfmpegSession } from './url/ffmpeg-session.js';
import { openHttpSession } from './url/http-session.js';
import { openReconnecting } from './url/reconnecting-source.js';
import type { UrlSourceSettings } from './url/settings.js';
import type { CommonSourceOptions, FrameSource, SourceKind } from './types.js';

/** A camera that sends nothing for this long is down: reconnect. */
export const DEFAULT_URL_TIMEOUT_MS = 10_000;

const options = {
  url: value('--url <url>', 'read a live stream: MJPEG over http(s) (passed through), or RTSP, RTMP and other streams through ffmpeg', parseUrl),
  urlTimeoutMs: value('--url-timeout <seconds>', `with --url: a server that sends no frame for this long is reconnected (default ${DEFAULT_URL_TIMEOUT_MS / 1000})`, (text) => parseSeconds('--url-timeout', text), {
    needs: '--url',
  }),
  maxFrameBytes: value('--max-frame-bytes <n>', `with --url: largest JPEG accepted from the server (default ${DEFAULT_MAX_PART_BYTES / 2 ** 20}M)`, (text) => parseBytes('--max-frame-bytes', text), {
    needs: '--url',
  }),
};

export interface UrlChoice {
  url: string;
  timeoutMs?: number | undefined;
  maxFrameBytes?: number | undefined;
  /** How long one outage may last (`--retry`, ms); unset: forever, and a failing start is not waited out. */
  retryMs?: number | undefined;
  /** `--ffmpeg`, looked for only when a stream needs ffmpeg. */
  ffmpeg?: string | undefined;
  /** Where the outage lines go; default: stderr, as `vstream: LINE`. */
  say?: (line: string) => void;
}

export const urlSource: SourceKind<'url', UrlChoice, typeof options> = {
  kind: 'url',
  options,
  selector: 'url',
  // MJPEG over HTTP needs no ffmpeg: it is looked for when a stream does.
  needsFfmpeg: false,
  fromSettings: (settings) => {
    // `--retry` and `--ffmpeg` belong to `send` as a whole; a URL source honours them too.
    const shared = settings as typeof settings & { retryMs?: number; ffmpeg?: string };
    return { url: settings.url ?? '', timeoutMs: settings.urlTimeoutMs, maxFrameBytes: settings.maxFrameBytes, retryMs: shared.retryMs, ffmpeg: shared.ffmpeg };
  },
  open: (source) => openUrl(source),
};

function parseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid --url "${text}": expected a URL such as http://camera/video.mjpg or rtsp://camera/stream`, 'ERR_BAD_URL');
  }
  if (url.protocol === 'file:') throw new UsageError(`--url ${text} is a file: use --file`, 'ERR_BAD_URL');
  return text;
}

export async function openUrl(options: CommonSourceOptions & UrlChoice): Promise<FrameSource> {
  const url = new URL(parseUrl(options.url));
  const isHttp = url.protocol === 'http:' || url.protocol === 'https:';
  const display = isHttp ? displayUrl(url) : redacted(options.url);
  let ffmpegPath: string | undefined = options.ffmpegPath || undefined;
  const settings: UrlSourceSettings = {
    ffmpegPath: () => (ffmpegPath ??= locateFfmpeg(options.ffmpeg).path),
    encoder: options.encoder,
    size: options.size,
    fps: options.fps,
    quality: options.quality,
    maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_PART_BYTES,
    frameTimeoutMs: options.timeoutMs ?? DEFAULT_URL_TIMEOUT_MS,
  };
  return openReconnecting({
    description: `url ${display}`,
    address: display,
    connect: () => (isHttp ? openHttpSession(url, settings) : openFfmpegSession(options.url, display, settings)),
    retryMs: options.retryMs,
    frameTimeoutMs: settings.frameTimeoutMs,
    say: options.say ?? ((line) => process.stderr.write(`vstream: ${escapeUnsafe(line)}\n`)),
  });
}

/** `rtsp://user:pass@cam/...` as messages show it. */
function redacted(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1');
}
