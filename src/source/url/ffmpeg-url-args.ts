/**
 * ffmpeg's input arguments for `send --url`, as pure functions: a URL ffmpeg opens itself
 * (RTSP, RTMP, SRT, ...) or a stream vstream fetched and hands over on stdin (an HTTP answer
 * that is not multipart MJPEG). Live inputs: never `-re`, they come at their own rate.
 */

/** Microseconds, as ffmpeg's socket timeouts count. */
const US_PER_MS = 1000;

export interface UrlInputOptions {
  url: string;
  /** A silent socket this long fails ffmpeg, so the source can reconnect. */
  timeoutMs: number;
  /**
   * How this ffmpeg names RTSP's socket timeout: `-timeout` from ffmpeg 5, `-stimeout` before
   * (where `-timeout` meant listening for a connection instead). See rtspTimeoutOption.
   */
  rtspTimeout?: 'timeout' | 'stimeout';
}

/**
 * RTSP over TCP (`-rtsp_transport tcp`): a camera's UDP packets are lost across NAT and Wi-Fi,
 * and most cameras serve both. Other URLs get ffmpeg's generic I/O timeout.
 */
export function urlInputArgs({ url, timeoutMs, rtspTimeout = 'timeout' }: UrlInputOptions): string[] {
  const timeout = String(timeoutMs * US_PER_MS);
  if (/^rtsps?:/i.test(url)) return ['-rtsp_transport', 'tcp', `-${rtspTimeout}`, timeout, '-i', url];
  if (/^rtmps?:/i.test(url)) return ['-rw_timeout', timeout, '-i', url];
  return ['-rw_timeout', timeout, '-i', url];
}

/** A stream on ffmpeg's stdin; `format` when vstream already knows it (`mpjpeg` for multipart MJPEG). */
export function pipedInputArgs({ format }: { format?: string } = {}): string[] {
  return [...(format ? ['-f', format] : []), '-i', 'pipe:0'];
}

/** From `ffmpeg -h demuxer=rtsp`: the option that sets the socket timeout in this ffmpeg. */
export function rtspTimeoutOption(help: string): 'timeout' | 'stimeout' {
  if (/^\s*-stimeout\b/m.test(help)) return 'stimeout';
  return 'timeout';
}
