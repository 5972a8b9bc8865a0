/**
 * Loads the libjpeg-turbo addon (native/jpeg), which both decodes (src/decode) and encodes
 * (src/encode). Loaded once, lazily, and optional: when it is missing or turned off, callers
 * fall back to sharp.
 */
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** What native/jpeg/vstream_jpeg.c returns. */
export interface TurboImage {
  data: Buffer;
  width: number;
  height: number;
  channels: number;
}

/** The addon's functions; see native/jpeg/vstream_jpeg.c. Both run on libuv's thread pool. */
export interface TurboAddon {
  /** Into `target` when given (rejects with ERR_JPEG_TARGET_SIZE if it is too small). */
  decode(jpeg: Buffer, format: 0 | 1 | 2, scaleDenom: 1 | 2 | 4 | 8, maxPixels: number, target?: Buffer): Promise<TurboImage>;
  encodeYuv420(planes: Buffer, width: number, height: number, quality: number, optimize: boolean, limitedRange: boolean): Promise<TurboImage>;
  jpegLibVersion: number;
}

/** Where `npm run build:jpeg` puts the addon (same relative path from src/ and dist/). */
export const TURBO_ADDON_PATH = fileURLToPath(new URL('../../native/jpeg/build/vstream_jpeg.node', import.meta.url));

let addon: TurboAddon | null | undefined;
let loadError: string | undefined;

/**
 * The libjpeg-turbo addon, or undefined when it was not built (then callers use sharp).
 * `VSTREAM_JPEG=sharp` turns it off, for comparison and as an escape hatch.
 */
export function loadTurbo(): TurboAddon | undefined {
  if (addon === undefined) {
    if (process.env.VSTREAM_JPEG === 'sharp') {
      addon = null;
      loadError = 'turned off by VSTREAM_JPEG=sharp';
    } else {
      try {
        addon = createRequire(import.meta.url)(TURBO_ADDON_PATH) as TurboAddon;
      } catch (err) {
        addon = null;
        loadError = (err as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'not built' : `not loadable (${(err as Error).message.split('\n')[0]})`;
      }
    }
  }
  return addon ?? undefined;
}

/** Why `loadTurbo()` gave nothing, for `vstream doctor`. */
export function turboUnavailableReason(): string | undefined {
  loadTurbo();
  return loadError;
}
