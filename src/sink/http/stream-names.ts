/**
 * URL names of the streams a viewer serves: `/stream/NAME`. A name comes from the sender's
 * display name (its label, else `host:port`), which is wire text, so it is made safe for a
 * path segment here and made unique among the streams live at once.
 */

/** Long enough for any real label; a longer one is cut (a label may be 200 characters). */
export const MAX_NAME_CHARS = 48;

/**
 * `Front door` -> `front-door`, `[::1]:5000` -> `1-5000`, `192.168.1.2:40000` ->
 * `192.168.1.2-40000`: lower-case letters, digits, `.`, `_` and `-`, no leading or trailing
 * punctuation, never `.` or `..`, never empty.
 */
export function urlSafeName(display: string): string {
  const cleaned = display
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^[-._]+|[-._]+$/g, '')
    .slice(0, MAX_NAME_CHARS)
    .replace(/[-._]+$/g, '');
  return cleaned === '' ? 'stream' : cleaned;
}

/** Hands out unique names: the second `cam` is `cam-2`, then `cam-3`; a name is free again once released. */
export class StreamNames {
  private readonly taken = new Set<string>();

  take(display: string): string {
    const base = urlSafeName(display);
    let name = base;
    for (let copy = 2; this.taken.has(name); copy++) name = `${base}-${copy}`;
    this.taken.add(name);
    return name;
  }

  release(name: string): void {
    this.taken.delete(name);
  }
}
