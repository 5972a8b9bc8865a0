/**
 * `recv --record FILE`: the file name pattern. `{sender}` is the sender's name made safe for
 * a file name, `%Y %m %d %H %M %S` the local time a file starts, `%%` a percent sign; the
 * extension says the container.
 */
import { UsageError } from '../../errors.js';
import { cutUtf8, safeFolderName } from '../safe-file-name.js';

export type Container = 'mkv' | 'avi' | 'mp4';

const CONTAINERS: readonly Container[] = ['mkv', 'avi', 'mp4'];
/** A sender's part of a name: room for the rest of it within a file name's 255 bytes. */
const MAX_SENDER_BYTES = 96;
const DIRECTIVE = /%(.)/gs;
const TIME_FIELDS = new Set(['Y', 'm', 'd', 'H', 'M', 'S', '%']);

export interface RecordName {
  readonly pattern: string;
  readonly container: Container;
  /** The pattern names the sender: each sender gets files of its own without a suffix. */
  readonly perSender: boolean;
}

/** Checks a `--record` pattern: a known extension, known `%` fields. */
export function parseRecordName(pattern: string): RecordName {
  const ext = /\.([A-Za-z0-9]+)$/.exec(pattern)?.[1]?.toLowerCase();
  const container = CONTAINERS.find((c) => c === ext);
  if (container === undefined) {
    throw new UsageError(`invalid --record "${pattern}": the file name must end in .mkv, .avi or .mp4 (the container)`);
  }
  for (const [, field] of pattern.matchAll(DIRECTIVE)) {
    if (!TIME_FIELDS.has(field!)) throw new UsageError(`invalid --record "${pattern}": %${field} is not one of %Y %m %d %H %M %S %%`);
  }
  return { pattern, container, perSender: pattern.includes('{sender}') };
}

/** The path for a file of `sender` starting at `startedAt` (ms since the epoch, shown in local time). */
export function recordPath(name: RecordName, sender: string, startedAt: number): string {
  const date = new Date(startedAt);
  const two = (n: number) => String(n).padStart(2, '0');
  const fields: Record<string, string> = {
    Y: String(date.getFullYear()),
    m: two(date.getMonth() + 1),
    d: two(date.getDate()),
    H: two(date.getHours()),
    M: two(date.getMinutes()),
    S: two(date.getSeconds()),
    '%': '%',
  };
  return name.pattern.replace(DIRECTIVE, (_, field: string) => fields[field]!).replaceAll('{sender}', senderPart(sender));
}

/**
 * A sender's name as part of a file name. An address loses its brackets and its port's colon
 * becomes `-` (`127.0.0.1-5000`), which the cleaning would only drop; the rest is cleaned as a
 * `--save-dir` folder name is (no separators, no `..`, no device names).
 */
export function senderPart(sender: string): string {
  return cutUtf8(safeFolderName(sender.replace(/[[\]]/g, '').replace(/:/g, '-')), MAX_SENDER_BYTES);
}

/** `rec.mkv` as `rec-1.mkv`, `rec-2.mkv`...: the names tried when one is taken. */
export function withCopySuffix(path: string, copy: number): string {
  if (copy === 0) return path;
  const dot = path.lastIndexOf('.');
  return `${path.slice(0, dot)}-${copy}${path.slice(dot)}`;
}

/** `30s`, `10m`, `1h`, `90` (seconds): a segment's length, in milliseconds. */
export function parseSegmentDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smh]?)$/.exec(text.trim());
  const unit = { '': 1000, s: 1000, m: 60_000, h: 3_600_000 }[(match?.[2] ?? '') as '' | 's' | 'm' | 'h'];
  const ms = match ? Math.round(Number(match[1]) * unit) : NaN;
  if (!(ms >= 1000) || ms > 7 * 86_400_000) {
    throw new UsageError(`invalid --record-segment "${text}": expected a duration from 1s to 168h, such as 30s, 10m or 1h`);
  }
  return ms;
}
