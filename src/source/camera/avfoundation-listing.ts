/**
 * An AVFoundation camera's modes, from the list ffmpeg prints when asked for a mode the camera
 * lacks (`Supported modes:` then `  1280x720@[1.000000 30.000000]fps`). AVFoundation hands
 * ffmpeg decoded pixels only, so every mode is raw. A pure function of the text.
 */
import { FormatList, listingLines, rate, size, type CameraFormat } from './formats.js';

const MODE_LINE = /^\s*(\d+)x(\d+)@\[([\d.]+) ([\d.]+)\]fps/;

export function parseAvfoundationModes(text: string): CameraFormat[] {
  const list = new FormatList();
  for (const line of listingLines(text)) {
    const match = MODE_LINE.exec(line);
    if (!match) continue;
    const at = size(match[1]!, match[2]!);
    const low = rate(match[3]!);
    const high = rate(match[4]!);
    const format = list.format('raw', '', 'AVFoundation');
    if (format && at && low !== undefined && high !== undefined) FormatList.mode(format, at, [{ min: Math.min(low, high), max: Math.max(low, high) }]);
  }
  return list.list();
}
