/** `recv --record FILE` and its options: what the user asks for, checked before anything is received. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { FfmpegError, UsageError } from '../../errors.js';
import { value, valueOr } from '../../options/schema.js';
import { locateFfmpeg } from '../../source/ffmpeg/locate.js';
import type { SinkKind } from '../kind.js';
import type { RecordCodec } from './ffmpeg-args.js';
import { parseRecordName, parseSegmentDuration } from './record-name.js';
import { RecordSink } from './record-sink.js';

const run = promisify(execFile);

/**
 * Free space a recording leaves on its disk: a stream that runs for days must not fill the
 * disk the system (and recv's own logs) live on.
 */
export const DEFAULT_MIN_FREE = 256 * 1024 * 1024;

const recordOptions = {
  record: value('--record <file>', 'record each sender to a video file, .mkv, .avi or .mp4 ({sender} and %Y %m %d %H %M %S in the name)', parseRecordName),
  recordSegment: value('--record-segment <duration>', 'start a new recording file every DURATION (30s, 10m, 1h)', parseSegmentDuration, { needs: '--record' }),
  recordCodec: valueOr('--record-codec <codec>', 'mjpeg: the JPEGs as they arrived (default); h264: transcoded, smaller', parseCodec, 'mjpeg' as RecordCodec, {
    needs: '--record',
  }),
  recordMaxBytes: value('--record-max-bytes <size>', 'stop recording (exit 8) once the files of this run reach SIZE (e.g. 500M, 20G)', (text) => parseRecordBytes('--record-max-bytes', text), {
    needs: '--record',
  }),
  recordMinFree: valueOr(
    '--record-min-free <size>',
    `stop recording (exit 8) rather than leave less than SIZE free on the disk (default ${DEFAULT_MIN_FREE / 2 ** 20}M)`,
    (text) => parseRecordBytes('--record-min-free', text, 0),
    DEFAULT_MIN_FREE,
    { needs: '--record' },
  ),
};

/** `recv --record FILE`. */
export const recordSinkKind: SinkKind<typeof recordOptions> = {
  name: 'record',
  options: recordOptions,
  async open(settings, { report, warn }) {
    const { record, recordSegment, recordCodec, recordMaxBytes, recordMinFree, maxPixels } = settings;
    if (record === undefined) return undefined;
    const ffmpegPath = record.container !== 'mkv' || recordCodec === 'h264' ? await recordingFfmpeg(recordCodec) : undefined;
    // recv's own --quiet: this sink's lines are connection news like recv's.
    const quiet = (settings as { quiet?: boolean }).quiet === true;
    return new RecordSink({
      name: record,
      codec: recordCodec,
      ...(recordSegment !== undefined && { segmentMs: recordSegment }),
      ...(recordMaxBytes !== undefined && { maxBytes: recordMaxBytes }),
      minFree: recordMinFree,
      ...(ffmpegPath !== undefined && { ffmpegPath }),
      maxPixels,
      report,
      log: quiet ? () => {} : warn,
    });
  },
};

/** The ffmpeg for the formats it writes, checked at start: a missing one (or libx264) is a one-line error now, not at the first frame. */
async function recordingFfmpeg(codec: RecordCodec): Promise<string> {
  const { path } = locateFfmpeg();
  if (codec !== 'h264') return path;
  const encoders = await run(path, ['-hide_banner', '-encoders'], { timeout: 15_000 }).then(
    ({ stdout }) => stdout,
    (err: Error) => {
      throw new FfmpegError(`${path} does not run as ffmpeg: ${err.message.split('\n', 1)[0]}`, 'ERR_FFMPEG_BROKEN', '', { cause: err });
    },
  );
  if (!/\blibx264\b/.test(encoders)) throw new FfmpegError(`--record-codec h264 needs an ffmpeg with libx264; ${path} has none`, 'ERR_FFMPEG');
  return path;
}

function parseCodec(text: string): RecordCodec {
  const codec = text.trim().toLowerCase();
  if (codec === 'mjpeg' || codec === 'h264') return codec;
  throw new UsageError(`invalid --record-codec "${text}": expected mjpeg or h264`);
}

/** A byte count such as `500M` or `20G`: recordings outgrow the 2 GiB other limits stop at. */
function parseRecordBytes(name: string, text: string, min = 1024): number {
  const match = /^(\d+)([kKmMgGtT]?)i?[bB]?$/.exec(text.trim());
  const unit = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 }[(match?.[2] ?? '').toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const bytes = match ? Number(match[1]) * unit : NaN;
  if (!Number.isSafeInteger(bytes) || bytes < min) throw new UsageError(`invalid ${name} "${text}": expected a size${min > 0 ? ' of at least 1k' : ''}, such as 500M or 20G`);
  return bytes;
}
