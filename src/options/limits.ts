/**
 * Largest frame width or height vstream accepts anywhere: `--size` on the command line,
 * `size` in the library, and the native JPEG addon (native/jpeg), which refuses bigger
 * frames because libjpeg's JPEG_MAX_DIMENSION is 65500.
 */
export const MAX_DIMENSION = 65500;

/**
 * Largest frame in pixels a source makes (16K x 16K, 400 MB of raw 4:2:0 a frame): `--size`
 * beyond it is refused up front rather than by the raw-frame reader mid-stream.
 */
export const MAX_FRAME_PIXELS = 16384 * 16384;
