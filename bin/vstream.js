#!/usr/bin/env node
// The CLI is compiled TypeScript in dist/ (built by `npm ci` / `npm run build`).
import('../dist/cli/index.js').then(
  ({ main }) => main(process.argv),
  (err) => {
    process.stderr.write(`vstream: cannot load the compiled program (run \`npm run build\`): ${err.message}\n`);
    process.exitCode = 1;
  },
);
