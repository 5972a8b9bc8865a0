/** `recv`'s window: on by default, `--no-window` to go without. */
import { DisplayError } from '../errors.js';
import { parseIntInRange } from '../options/parsers.js';
import { negatable, valueOr } from '../options/schema.js';
import type { SinkKind } from './kind.js';
import { DEFAULT_MAX_WINDOWS, WindowSink } from './window.js';

const windowOptions = {
  window: negatable('--no-window', 'do not open a window'),
  maxWindows: valueOr(
    '--max-windows <n>',
    `windows open at once; a sender that left gives its window up to a new one (default ${DEFAULT_MAX_WINDOWS})`,
    (text) => parseIntInRange('--max-windows', text, 1, 1000),
    DEFAULT_MAX_WINDOWS,
  ),
};

function hasDisplay(): boolean {
  if (process.platform !== 'linux') return true;
  return Boolean(process.env.DISPLAY || process.env.WAYLAND_DISPLAY);
}

export const windowSinkKind: SinkKind<typeof windowOptions, WindowSink> = {
  name: 'window',
  options: windowOptions,
  async open({ window, maxWindows, maxPixels }, { report, warn, headless }) {
    if (!window || (headless && !hasDisplay())) return undefined;
    try {
      return await WindowSink.open({ maxWindows, maxPixels, report });
    } catch (err) {
      // With other sinks the frames still go somewhere: a missing display is only news then.
      if (!(err instanceof DisplayError) || !headless) throw err;
      warn(`${err.message}; going on without a window`);
      return undefined;
    }
  },
};
