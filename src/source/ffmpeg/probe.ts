/**
 * How many frames a file will give, for `send --file`'s progress line: ffmpeg run on the file
 * alone (`ffmpeg -i PATH`, no output) prints its duration and its video stream's rate, and
 * exits. ffprobe would say the same, but not every ffmpeg vstream finds comes with one (the
 * npm-bundled binary does not). An estimate: a variable-rate file gives about that many.
 */
import { runBriefly } from './run-briefly.js';

/** A local file answers in milliseconds; a URL that does not answer is not waited for. */
const PROBE_TIMEOUT_MS = 5000;
/** ffmpeg prints the header first: the lines needed are in the first few kilobytes. */
const MAX_PROBE_OUTPUT = 64 * 1024;

export interface ProbeOptions {
  ffmpegPath: string;
  path: string;
  /** A numeric `--fps` resamples the file: then that is the rate, whatever the stream's. */
  fps?: number | 'max' | undefined;
  timeoutMs?: number;
}

/** The estimated frame count, or undefined when ffmpeg does not say (no duration: a live URL). */
export async function probeFrameCount(options: ProbeOptions): Promise<number | undefined> {
  const probed = await probeFile(options);
  return probed && frameCount(probed, options.fps);
}

/** What ffmpeg says of the file's first video stream; undefined when it could not be run. */
export async function probeFile({ ffmpegPath, path, timeoutMs = PROBE_TIMEOUT_MS }: Omit<ProbeOptions, 'fps'>): Promise<ProbedStream | undefined> {
  return (await probeInput(ffmpegPath, ['-i', path], timeoutMs)).probed;
}

/**
 * What `ffmpeg INPUT` (no output) says of the stream, and all it printed (bounded); `stdin`,
 * when given, is what ffmpeg reads as `pipe:0`.
 */
export async function probeInput(ffmpegPath: string, input: readonly string[], timeoutMs: number, stdin?: Buffer): Promise<{ probed: ProbedStream | undefined; output: string }> {
  const run = await runBriefly(ffmpegPath, ['-hide_banner', '-nostdin', ...input], { timeoutMs, maxChars: MAX_PROBE_OUTPUT, ...(stdin && { input: stdin }) });
  return { probed: run && parseProbeOutput(run.stderr), output: run?.stderr ?? '' };
}

export interface ProbedStream {
  /** Seconds, from `Duration: HH:MM:SS.ss`; unset for `Duration: N/A`. */
  durationSeconds?: number;
  /** Frames per second of the first video stream (`25 fps`, else `25 tbr`). */
  fps?: number;
  /** The first video stream's codec as ffmpeg names it (`mjpeg`, `h264`). */
  codec?: string;
}

/** What `ffmpeg -i` printed about the input. Pure, for tests. */
export function parseProbeOutput(text: string): ProbedStream {
  const probed: ProbedStream = {};
  const duration = /Duration: (\d+):(\d{2}):(\d{2}(?:\.\d+)?)/.exec(text);
  if (duration) probed.durationSeconds = Number(duration[1]) * 3600 + Number(duration[2]) * 60 + Number(duration[3]);
  const video = /Stream #\d+:\d+.*?: Video: (.*)/.exec(text)?.[1] ?? '';
  const codec = /^([A-Za-z0-9_]+)/.exec(video)?.[1];
  if (codec) probed.codec = codec;
  const rate = /(\d+(?:\.\d+)?)(k?) fps/.exec(video) ?? /(\d+(?:\.\d+)?)(k?) tbr/.exec(video);
  if (rate) probed.fps = Number(rate[1]) * (rate[2] === 'k' ? 1000 : 1);
  return probed;
}

/** Frames in `durationSeconds` at `fps` (the numeric `--fps`, else the stream's). */
export function frameCount({ durationSeconds, fps: streamFps }: ProbedStream, fps?: number | 'max'): number | undefined {
  const rate = typeof fps === 'number' ? fps : streamFps;
  if (durationSeconds === undefined || rate === undefined || !(rate > 0)) return undefined;
  const frames = Math.round(durationSeconds * rate);
  return frames > 0 ? frames : undefined;
}
