#!/usr/bin/env node
import('../dist/cli.js').then(
  (cli) => cli.main(process.argv.slice(2)),
  (err) => {
    process.stderr.write(`tsgi: cannot start: ${err && err.message ? err.message : err}\nRun \`npm run build\` if dist/ is missing.\n`);
    process.exit(1);
  },
);
