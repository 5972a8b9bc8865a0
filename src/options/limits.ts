/**
 * Largest frame width or height vstream accepts anywhere: `--size` on the command line,
 * `size` in the library, and the native JPEG addon (native/jpeg), which refuses bigger
 * frames because libjpeg's JPEG_MAX_DIMENSION is 65500.
 */
export const MAX_DIMENSION = 65500;
