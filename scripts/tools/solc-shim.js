#!/usr/bin/env node
// A `solc` executable around solcjs (npm solc@0.8.37), enough for forge:
// `solc --version` and `solc --standard-json [--base-path P] [--include-path P]...`.
// Installed by scripts/install-tools.sh as .tools/bin/solc (a copy, so that
// __dirname is .tools/bin and solcjs is found in .tools/node_modules).
'use strict';
const fs = require('fs');
const path = require('path');
const solcDir = path.join(__dirname, '..', 'node_modules', 'solc');
const loadSolc = () => require(solcDir);

// Loading soljson takes ~1 s and forge asks for the version on every run, so
// the full version string is cached next to the package (keyed by its version).
function version() {
  const pkg = JSON.parse(fs.readFileSync(path.join(solcDir, 'package.json'), 'utf8')).version;
  const cache = path.join(__dirname, '..', `.solc-version-${pkg}`);
  try { return fs.readFileSync(cache, 'utf8').trim(); } catch (_) { /* compute it */ }
  const v = loadSolc().version();
  try { fs.writeFileSync(cache, v + '\n'); } catch (_) { /* read-only: fine */ }
  return v;
}

const args = process.argv.slice(2);
if (args.includes('--version') || args.includes('-v')) {
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version()}\n`);
} else if (args.includes('--standard-json')) {
  const solc = loadSolc();
  // Directories that relative imports may be found under (forge passes these).
  const roots = [process.cwd()];
  for (let i = 0; i < args.length; i++) {
    if (['--base-path', '--include-path', '--allow-paths'].includes(args[i]) && args[i + 1]) {
      for (const p of args[++i].split(',')) if (p) roots.push(path.resolve(p));
    }
  }
  const findImports = (file) => {
    for (const root of path.isAbsolute(file) ? [''] : roots) {
      const p = path.join(root, file);
      try { return { contents: fs.readFileSync(p, 'utf8') }; } catch (_) { /* next */ }
    }
    return { error: `File not found: ${file}` };
  };
  const input = fs.readFileSync(0, 'utf8');
  process.stdout.write(solc.compile(input, { import: findImports }));
} else {
  process.stderr.write('solc shim (solcjs): only --version and --standard-json are supported\n');
  process.exitCode = 1;
}
