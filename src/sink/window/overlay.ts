import type { Size } from './fit.js';
import { GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.js';

const MARGIN = 4;
const PADDING = 3;
/** Keeps the frame visible under the box while the white text stays readable on any image. */
const SHADE = 0.35;

/** Glyphs are doubled on windows wide enough, so that they stay readable on large screens. */
export function overlayScale(window: Size): number {
  return window.width >= 800 && window.height >= 400 ? 2 : 1;
}

/**
 * Draws `text` in white on a darkened box in the top-left corner of an RGB24 image, in
 * place. Clipped to the image: a window narrower than the text shows its beginning.
 */
export function drawOverlay(rgb: Buffer, size: Size, text: string): void {
  const scale = overlayScale(size);
  const advance = (GLYPH_WIDTH + 1) * scale;
  const pad = PADDING * scale;
  const boxRight = Math.min(size.width, MARGIN + 2 * pad + text.length * advance - scale);
  const boxBottom = Math.min(size.height, MARGIN + 2 * pad + GLYPH_HEIGHT * scale);
  for (let y = MARGIN; y < boxBottom; y++) {
    const row = y * size.width * 3;
    for (let i = row + MARGIN * 3; i < row + boxRight * 3; i++) rgb[i] = rgb[i]! * SHADE;
  }
  let x0 = MARGIN + pad;
  const y0 = MARGIN + pad;
  for (const char of text) {
    if (x0 >= size.width) break;
    drawGlyph(rgb, size, glyph(char), x0, y0, scale);
    x0 += advance;
  }
}

function drawGlyph(rgb: Buffer, size: Size, rows: Uint8Array, x0: number, y0: number, scale: number): void {
  for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
    const bits = rows[gy]!;
    if (bits === 0) continue;
    for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
      if ((bits & (1 << (GLYPH_WIDTH - 1 - gx))) === 0) continue;
      fillWhite(rgb, size, x0 + gx * scale, y0 + gy * scale, scale);
    }
  }
}

function fillWhite(rgb: Buffer, size: Size, x: number, y: number, scale: number): void {
  const right = Math.min(size.width, x + scale);
  const bottom = Math.min(size.height, y + scale);
  for (let py = y; py < bottom; py++) {
    const row = py * size.width * 3;
    rgb.fill(255, row + x * 3, row + right * 3);
  }
}
