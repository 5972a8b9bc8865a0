/**
 * One connection to a URL that ffmpeg opens itself (RTSP, RTMP, SRT, ...): asked first what
 * the stream's codec is, so that an MJPEG camera's JPEGs pass through (`-c:v copy`) while
 * anything else (H.264, H.265) is decoded and encoded as other video sources are.
 */
import { execFile } from 'node:child_process';
import { FfmpegError, SourceError, type VstreamError } from '../../errors.js';
import { ffmpegSource } from '../ffmpeg-source.js';
import { relevantLine } from '../ffmpeg/process.js';
import { globalArgs } from '../ffmpeg/args.js';
import { probeInput, type ProbedStream } from '../ffmpeg/probe.js';
import { explainUrlFailure } from './explain.js';
import { rtspTimeoutOption, urlInputArgs } from './ffmpeg-url-args.js';
import type { Session } from './reconnecting-source.js';
import type { UrlSourceSettings } from './settings.js';


export async function openFfmpegSession(url: string, display: string, settings: UrlSourceSettings): Promise<Session> {
  const ffmpegPath = settings.ffmpegPath();
  const rtspTimeout = /^rtsps?:/i.test(url) ? await rtspTimeoutOf(ffmpegPath) : undefined;
  const input = urlInputArgs({ url, timeoutMs: settings.frameTimeoutMs, ...(rtspTimeout && { rtspTimeout }) });
  const asIs = settings.size === undefined && settings.quality === undefined && typeof settings.fps !== 'number';
  // Asked every time: besides the codec, it says at once when the camera cannot be reached.
  const { probed, output } = await probeInput(ffmpegPath, input, settings.frameTimeoutMs);
  if (probed?.codec === undefined) throw unreadable(display, output);
  const source = ffmpegSource({
    ffmpegPath,
    encoder: asIs && probed.codec === 'mjpeg' ? 'copy' : settings.encoder,
    input,
    output: { size: settings.size, fps: settings.fps === 'max' ? undefined : settings.fps, quality: settings.quality },
    explainFailure: explainUrlFailure(display),
    live: true,
    description: `url ${display}`,
  });
  return { frames: source, close: () => source.close() };
}

/** Why ffmpeg found no video in a URL, from what it printed, in the user's terms. */
function unreadable(display: string, output: string): VstreamError {
  const line = relevantLine(output.split('\n').filter((text) => !/at least one output file must be specified/i.test(text)).join('\n'));
  const detail = line ? `: ${line}` : '';
  const cause = { cause: new FfmpegError(`ffmpeg found no video in ${display}${detail}`, 'ERR_FFMPEG_FAILED', output) };
  return explainUrlFailure(display)({ tail: output, line, detail, cause }) ?? new SourceError(`${display}: no video stream ffmpeg reads${detail}`, 'ERR_URL_NOT_A_STREAM', cause);
}

/** What ffmpeg says of a stream's first bytes, given on its stdin; undefined when it says nothing in time. */
export async function probePiped(ffmpegPath: string, prefix: Buffer, timeoutMs: number): Promise<ProbedStream | undefined> {
  return (await probeInput(ffmpegPath, ['-i', 'pipe:0'], timeoutMs, prefix)).probed;
}

const rtspTimeouts = new Map<string, Promise<'timeout' | 'stimeout'>>();

/** Asked once per ffmpeg binary: its RTSP options name the socket timeout differently by version. */
function rtspTimeoutOf(ffmpegPath: string): Promise<'timeout' | 'stimeout'> {
  let known = rtspTimeouts.get(ffmpegPath);
  if (!known) {
    known = new Promise((resolve) => {
      execFile(ffmpegPath, [...globalArgs().slice(0, 2), '-h', 'demuxer=rtsp'], { timeout: 10_000, windowsHide: true }, (_error, stdout) => resolve(rtspTimeoutOption(String(stdout))));
    });
    rtspTimeouts.set(ffmpegPath, known);
  }
  return known;
}
