#!/usr/bin/env node
// A JSON-RPC logging proxy, for seeing exactly what a tool sends:
//   node scripts/tools/rpc-log-proxy.js <listen-port> <upstream-url> <log.jsonl>
//   e.g. node scripts/tools/rpc-log-proxy.js 8598 http://127.0.0.1:8599 /tmp/rpc.jsonl
// then point cast/forge at http://127.0.0.1:8598. Every request/response pair is
// appended to the log as one JSON line: {t, tag, req, status, res}. The tag comes
// from the X-Tag request header or, if absent, from the RPC_TAG file next to
// the log (write a label into <log>.tag before each command to group them).
// BLOCK_METHODS=m1,m2 answers those methods with -32601 "method not found"
// without forwarding (to check that a tool falls back when a node lacks them).
'use strict';
const http = require('http');
const fs = require('fs');

const [port, upstream, logFile] = process.argv.slice(2);
if (!port || !upstream || !logFile) {
  console.error('usage: rpc-log-proxy.js <listen-port> <upstream-url> <log.jsonl>');
  process.exit(2);
}
const up = new URL(upstream);
const blocked = new Set((process.env.BLOCK_METHODS || '').split(',').filter(Boolean));
const log = (tag, req, status, res) =>
  fs.appendFileSync(logFile, JSON.stringify({ t: Date.now(), tag, req, status, res }) + '\n');

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let tag = req.headers['x-tag'];
      if (!tag) {
        try { tag = fs.readFileSync(logFile + '.tag', 'utf8').trim(); } catch (_) { tag = ''; }
      }
      let parsed;
      try { parsed = JSON.parse(body.toString()); } catch (_) { parsed = undefined; }
      if (parsed && !Array.isArray(parsed) && blocked.has(parsed.method)) {
        const out = { jsonrpc: '2.0', id: parsed.id, error: { code: -32601, message: `the method ${parsed.method} does not exist/is not available` } };
        log(tag, parsed, 200, out);
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(out));
        return;
      }
      const headers = { ...req.headers, host: up.host, 'content-length': body.length };
      const preq = http.request(
        { hostname: up.hostname, port: up.port, path: up.pathname, method: req.method, headers },
        (pres) => {
          const out = [];
          pres.on('data', (c) => out.push(c));
          pres.on('end', () => {
            const rbody = Buffer.concat(out);
            let resJson;
            try { resJson = JSON.parse(rbody.toString()); } catch (_) { resJson = rbody.toString(); }
            log(tag, parsed === undefined ? body.toString() : parsed, pres.statusCode, resJson);
            res.writeHead(pres.statusCode, pres.headers);
            res.end(rbody);
          });
        },
      );
      preq.on('error', (e) => { res.writeHead(502); res.end(String(e)); });
      preq.end(body);
    });
  })
  .listen(Number(port), '127.0.0.1');
