/** The Python that can run the reference-style OpenCV peers, and whether it is usable here. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** Debian's python3-opencv imports only under the system Python, not the first python3 on PATH. */
export const PYTHON = '/usr/bin/python3';
export const PYTHON_FIXTURES = join(fileURLToPath(new URL('../..', import.meta.url)), 'test', 'fixtures', 'python');

const probe = spawnSync(PYTHON, ['-c', 'import cv2, numpy'], { encoding: 'utf8' });
export const HAVE_CV2 = probe.status === 0;
/** Why the OpenCV cases are skipped, or '' when they run. */
export const CV2_SKIP_REASON = HAVE_CV2
  ? ''
  : `${PYTHON} cannot import cv2 (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? '').trim()}); install Debian's python3-opencv`;
