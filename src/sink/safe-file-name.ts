/**
 * Names from the wire (a sender's label, a file name in the metadata) made into one path
 * component that common file systems accept. A peer chooses these names: raw, `../x` would
 * escape the folder, 200 x "é" exceeds the 255-byte limit of ext4, NTFS and friends, and
 * `CON.jpg` cannot be opened on Windows or on a Windows share.
 */

/** The longest path component of ext4, XFS, Btrfs, tmpfs, NTFS and exFAT, in bytes of UTF-8. */
export const MAX_NAME_BYTES = 255;
/** The stem of a saved file whose name from the wire has nothing usable left. */
export const FALLBACK_FILE_STEM = 'frame';
/** The folder of a sender whose label has nothing usable left. */
export const FALLBACK_FOLDER_NAME = 'sender';

// C0 controls, DEL, C1 controls, path separators, and what Windows forbids in a name.
// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f<>:"/\\|?*]/gu;
// Windows refuses these as a base name, whatever the extension and case.
const RESERVED = /^(con|prn|aux|nul|com[1-9¹²³]|lpt[1-9¹²³])$/iu;
// A name's suffix, as file managers show it: what the image's real type replaces.
const SUFFIX = /\.[\p{L}\p{N}]{1,8}$/u;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/gu;

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/**
 * The file name for a frame whose sender named it `name`: its safe stem, `-copy` when
 * `copy` > 0, then `.ext`. At most MAX_NAME_BYTES of UTF-8 however long `name` is.
 */
export function safeFileName(name: string, ext: string, copy = 0): string {
  const stem = cleanName(name).replace(SUFFIX, '');
  const tail = `${copySuffix(copy)}.${ext}`;
  return fitName(stem, MAX_NAME_BYTES - Buffer.byteLength(tail), FALLBACK_FILE_STEM) + tail;
}

/**
 * The file name for a file of a folder transfer, saved as it was: its own suffix kept (made
 * safe like the rest), `-copy` before it when `copy` > 0. At most MAX_NAME_BYTES of UTF-8.
 */
export function safeOwnFileName(name: string, copy = 0): string {
  const clean = cleanName(name);
  const suffix = SUFFIX.exec(clean)?.[0] ?? '';
  const tail = `${copySuffix(copy)}${suffix}`;
  return fitName(clean.slice(0, clean.length - suffix.length), MAX_NAME_BYTES - Buffer.byteLength(tail), FALLBACK_FILE_STEM) + tail;
}

/** The folder name for a sender labelled `label`, with `-copy` when `copy` > 0. */
export function safeFolderName(label: string, copy = 0): string {
  const tail = copySuffix(copy);
  return fitName(cleanName(label), MAX_NAME_BYTES - Buffer.byteLength(tail), FALLBACK_FOLDER_NAME) + tail;
}

/** `000042.jpg`: at least six digits, so that numbered files sort by name up to a million. */
export function numberedFileName(n: number, ext: string): string {
  return `${String(n).padStart(6, '0')}.${ext}`;
}

/** The number of a file `numberedFileName` made (or that looks like one), else undefined. */
export function fileNumber(fileName: string): number | undefined {
  const match = /^(\d{1,15})\.[a-z0-9]+$/i.exec(fileName);
  return match ? Number(match[1]) : undefined;
}

function copySuffix(copy: number): string {
  return copy > 0 ? `-${copy}` : '';
}

/**
 * `text` without forbidden characters, `..`, leading dots (hidden files, `.`/`..`) and
 * leading or trailing dots and spaces (Windows drops trailing ones, so two names would meet).
 * May be empty.
 */
function cleanName(text: string): string {
  return trimEnds(text.replace(LONE_SURROGATE, '\ufffd').replace(FORBIDDEN, '').replace(/\.{2,}/g, '.'));
}

function trimEnds(text: string): string {
  return text.replace(/^[\s.]+/u, '').replace(/[\s.]+$/u, '');
}

/** `stem` cut to `maxBytes` of UTF-8, not reserved, not empty (else `fallback`). */
function fitName(stem: string, maxBytes: number, fallback: string): string {
  let name = trimEnds(cutUtf8(stem, maxBytes));
  if (isReserved(name)) name = trimEnds(cutUtf8(`_${name}`, maxBytes));
  return name === '' ? fallback : name;
}

function isReserved(name: string): boolean {
  const base = name.split('.', 1)[0]!.trimEnd();
  return RESERVED.test(base);
}

/**
 * The longest prefix of `text` within `maxBytes` of UTF-8. It cuts between grapheme clusters
 * (an accented letter or an emoji sequence stays whole); a single cluster longer than the
 * limit (a letter under hundreds of combining marks) is cut between code points.
 */
export function cutUtf8(text: string, maxBytes: number): string {
  let used = 0;
  let end = 0;
  for (const char of text) {
    const size = utf8Size(char.codePointAt(0)!);
    if (used + size > maxBytes) break;
    used += size;
    end += char.length;
  }
  if (end === text.length) return text;
  // Only the cluster at the cut is looked at: segmenting the whole name costs far more.
  const cluster = graphemes.segment(text).containing(end);
  const start = cluster?.index ?? end;
  return text.slice(0, start > 0 ? start : end);
}

function utf8Size(codePoint: number): number {
  if (codePoint <= 0x7f) return 1;
  if (codePoint <= 0x7ff) return 2;
  return codePoint <= 0xffff ? 3 : 4;
}
