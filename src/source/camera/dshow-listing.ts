/**
 * A DirectShow camera's formats, from `ffmpeg -f dshow -list_options true -i video=NAME`: lines
 * `vcodec=mjpeg  min s=1280x720 fps=5 max s=1280x720 fps=30` and `pixel_format=yuyv422 ...`,
 * repeated with a colour-range suffix by ffmpeg 4.4 and later. Pure functions of the text.
 */
import { FormatList, listingLines, rate, size, type CameraFormat } from './formats.js';

const OPTION_LINE = /^\s*(vcodec|pixel_format)=(\S+)\s+min s=(\d+)x(\d+) fps=([\d.]+) max s=(\d+)x(\d+) fps=([\d.]+)/;

export function parseDshowOptions(text: string): CameraFormat[] {
  const list = new FormatList();
  for (const line of listingLines(text)) {
    const match = OPTION_LINE.exec(line);
    if (!match) continue;
    const [, key, name] = match as unknown as [string, 'vcodec' | 'pixel_format', string];
    const kind = key === 'pixel_format' ? 'raw' : name === 'mjpeg' ? 'mjpeg' : 'other';
    const format = list.format(kind, name, '');
    const min = size(match[3]!, match[4]!);
    const max = size(match[6]!, match[7]!);
    const low = rate(match[5]!);
    const high = rate(match[8]!);
    if (!format || !min || !max || low === undefined || high === undefined) continue;
    const rates = [{ min: Math.min(low, high), max: Math.max(low, high) }];
    if (min.width === max.width && min.height === max.height) FormatList.mode(format, max, rates);
    else format.range = { min, max, step: { width: 1, height: 1 }, rates };
  }
  return list.list();
}
