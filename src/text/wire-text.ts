/**
 * Text that came from a peer (labels, file names, peer-chosen strings) on its way to a log
 * line or an error message. A label is the sender's to choose: raw, it could move the cursor,
 * recolour or clear the terminal, or make one log line 60 KB long.
 */

/** Longest piece of wire text a log line carries, in characters (code points). */
export const MAX_WIRE_TEXT_CHARS = 64;

// C0 controls, DEL, C1 controls, and the bidirectional overrides and isolates that reorder
// what a terminal shows (Trojan Source).
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/gu;

/** `text` with unsafe characters as `\xNN` (`\u{NNNN}` above 0xff), cut to `max` characters. */
export function wireText(text: string, max = MAX_WIRE_TEXT_CHARS): string {
  // Code points, not UTF-16 units, so an emoji is never cut in half; and no further than
  // needed, since a hostile label can be 60 KB.
  const chars: string[] = [];
  for (const c of text) {
    if (chars.length === max + 1) break;
    chars.push(c);
  }
  const cut = chars.length > max;
  const escaped = escapeUnsafe((cut ? chars.slice(0, max) : chars).join(''));
  return cut ? `${escaped}…` : escaped;
}

/** `text` with the characters a terminal would act on as `\xNN` (`\u{NNNN}` above 0xff), uncut. */
export function escapeUnsafe(text: string): string {
  return text.replace(UNSAFE, (c) => {
    const code = c.codePointAt(0)!;
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
  });
}
