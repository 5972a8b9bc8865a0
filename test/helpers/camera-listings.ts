/** Real camera listings kept in test/fixtures/camera/ (each names its source on its first line). */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const CAMERA_FIXTURES = fileURLToPath(new URL('../fixtures/camera/', import.meta.url));

export function cameraListing(name: string): string {
  return readFileSync(`${CAMERA_FIXTURES}${name}`, 'utf8');
}
