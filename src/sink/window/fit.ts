/** Geometry for showing a frame in a window without distorting it. */

export interface Size {
  width: number;
  height: number;
}

export interface Rect extends Size {
  x: number;
  y: number;
}

/**
 * The largest rectangle with the image's aspect ratio inside `box`, centred: the bars left
 * over (top and bottom, or left and right) are what a viewer paints black.
 */
export function fitRect(image: Size, box: Size): Rect {
  const scale = Math.min(box.width / image.width, box.height / image.height);
  const width = Math.max(1, Math.min(box.width, Math.round(image.width * scale)));
  const height = Math.max(1, Math.min(box.height, Math.round(image.height * scale)));
  return {
    x: Math.floor((box.width - width) / 2),
    y: Math.floor((box.height - height) / 2),
    width,
    height,
  };
}

/**
 * A new window's size: the frame's own pixels, so nothing is rescaled, unless the frame is
 * larger than `limit` (the usable display area); then scaled down to fit, aspect kept.
 */
export function initialWindowSize(frame: Size, limit: Size): Size {
  if (frame.width <= limit.width && frame.height <= limit.height) {
    return { width: frame.width, height: frame.height };
  }
  const { width, height } = fitRect(frame, limit);
  return { width, height };
}
