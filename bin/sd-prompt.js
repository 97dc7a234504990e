#!/usr/bin/env node
// The `sd-prompt` command (package.json "bin"): the bundled CLI built by `npm run build`.
require('../dist/cli.js').runCli();
