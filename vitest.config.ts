import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Real ffmpeg, sockets and SDL windows: generous per-test limits, and every test waits on
    // events rather than on timers.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
