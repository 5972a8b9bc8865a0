/** sharp's module, typed. */
export type Sharp = (typeof import('sharp'))['default'];

let loading: Promise<Sharp> | undefined;

/**
 * Loads sharp on first use: it takes a good part of a second to load, and most runs of `send`
 * (ffmpeg sources) and `recv` (pass-through sinks) never need it.
 */
export function loadSharp(): Promise<Sharp> {
  loading ??= import('sharp').then((mod) => mod.default);
  return loading;
}
