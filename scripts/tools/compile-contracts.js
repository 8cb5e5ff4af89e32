#!/usr/bin/env node
// Compiles contracts/*.sol with solcjs (the pinned solc@0.8.37 in .tools) and
// writes Foundry-shaped artifacts to contracts/out/<Name>.json:
//   { "abi": [...], "bytecode": {"object": "0x.."}, "deployedBytecode": {"object": "0x.."},
//     "methodIdentifiers": {...}, "compiler": {...} }
// alloy's `sol!(Name, "contracts/out/Name.json")` reads this shape.
// Settings: optimizer on, 200 runs, evmVersion prague (pinned, not solc's default).
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..', '..');
const solc = require(path.join(root, '.tools', 'node_modules', 'solc'));
const dir = path.join(root, 'contracts');
const outDir = path.join(dir, 'out');

const EVM_VERSION = 'prague';
const files = fs.readdirSync(dir).filter((f) => f.endsWith('.sol')).sort();
const input = {
  language: 'Solidity',
  sources: Object.fromEntries(files.map((f) => [f, { content: fs.readFileSync(path.join(dir, f), 'utf8') }])),
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: EVM_VERSION,
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object', 'evm.methodIdentifiers'] } },
  },
};
const findImports = (p) => {
  try { return { contents: fs.readFileSync(path.join(dir, p), 'utf8') }; } catch (_) { return { error: `not found: ${p}` }; }
};
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const errors = (output.errors || []).filter((e) => e.severity === 'error');
for (const e of output.errors || []) process.stderr.write(e.formattedMessage || e.message);
if (errors.length) process.exit(1);

fs.mkdirSync(outDir, { recursive: true });
for (const [file, contracts] of Object.entries(output.contracts)) {
  for (const [name, c] of Object.entries(contracts)) {
    // Interfaces and abstract contracts have no bytecode: skip them.
    if (!c.evm.bytecode.object) continue;
    const artifact = {
      abi: c.abi,
      bytecode: { object: '0x' + c.evm.bytecode.object },
      deployedBytecode: { object: '0x' + c.evm.deployedBytecode.object },
      methodIdentifiers: c.evm.methodIdentifiers,
      compiler: { solc: solc.version(), optimizer: { enabled: true, runs: 200 }, evmVersion: EVM_VERSION, source: `contracts/${file}` },
    };
    fs.writeFileSync(path.join(outDir, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
  }
}
