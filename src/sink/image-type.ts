import type { ImageType } from '../frame/frame.js';

/**
 * The file suffix for a payload of this type. A peer's file name may say `.png` for what is
 * now a JPEG (the sender re-encoded it), and a raw peer may send any bytes at all: the suffix
 * on disk must say what a viewer will find inside.
 */
export type ImageSuffix = 'jpg' | 'png' | 'bin';

export function imageSuffix(type: ImageType): ImageSuffix {
  return type === 'jpeg' ? 'jpg' : type === 'png' ? 'png' : 'bin';
}
