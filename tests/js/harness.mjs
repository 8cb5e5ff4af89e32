// The small check runner shared by the JavaScript tool flows (ethers.mjs,
// viem.mjs). Each check prints one line, `ok - <name>` or
// `FAIL - <name>: <why>`; `finish()` exits 1 when any check failed, so the
// Rust wrapper (tests/it/js_tools.rs) only looks at the exit status and shows
// this output when it is not 0.
//
// Environment (set by the Rust wrapper, or by hand against any node):
//   COCO_URL          http://127.0.0.1:PORT
//   COCO_WS_URL       ws://127.0.0.1:PORT
//   COCO_PRIVATE_KEY  a funded key (default: dev account 0)
import { readFileSync } from "node:fs";

/** Dev account 0 of the "test test ... junk" mnemonic. */
const DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

export const URL_HTTP = required("COCO_URL");
export const URL_WS = required("COCO_WS_URL");
export const PRIVATE_KEY = process.env.COCO_PRIVATE_KEY || DEV_KEY_0;
/** The chain id of a coco (and anvil) dev node. */
export const CHAIN_ID = 31337;

/** A single check taking longer than this is a hang (a missing subscription, say). */
const CHECK_TIMEOUT_MS = Number(process.env.COCO_CHECK_TIMEOUT_MS || 60_000);

let failures = 0;

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

/** `contracts/out/<name>.json` (Foundry artifact shape): { abi, bytecode }. */
export function artifact(name) {
  const file = new URL(`../../contracts/out/${name}.json`, import.meta.url);
  const json = JSON.parse(readFileSync(file, "utf8"));
  return { abi: json.abi, bytecode: json.bytecode.object };
}

/** Throws unless `cond`. */
export function assert(cond, message) {
  if (!cond) throw new Error(message);
}

/** Throws unless `actual === expected` (compared as strings, so bigint 1n equals "1"). */
export function assertEq(actual, expected, what) {
  if (String(actual) !== String(expected)) {
    throw new Error(`${what}: expected ${expected}, got ${actual}`);
  }
}

/** Rejects after `ms` with `what` in the message. */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves after `ms`. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Collects what a listener or watcher delivers. `next(pred, ms)` resolves with
 * the first item (already seen or still to come) matching `pred`, or rejects
 * after `ms`.
 */
export function collector() {
  const items = [];
  let waiters = [];
  return {
    push(item) {
      items.push(item);
      const still = [];
      for (const w of waiters) (w.pred(item) ? w.resolve(item) : still.push(w));
      waiters = still;
    },
    next(pred, ms, what) {
      const seen = items.find(pred);
      if (seen) return Promise.resolve(seen);
      return withTimeout(new Promise((resolve) => waiters.push({ pred, resolve })), ms, what);
    },
  };
}

/**
 * Subscriptions and watchers are set up in the background (ethers and viem
 * do not say when eth_subscribe / eth_newFilter has been answered), so an
 * event sent at once may come before them and be missed. Sends with `send()`
 * (which returns a transaction hash) until `items` delivers an item whose
 * `hash(item)` is one of the sent hashes; a few tries, then fails.
 * Returns { item, sent }.
 */
export async function sendUntilDelivered(items, hash, send, what, { tries = 4, waitMs = 4000 } = {}) {
  await sleep(300);
  const sent = [];
  for (let i = 0; i < tries; i++) {
    sent.push(await send());
    try {
      const item = await items.next((x) => sent.includes(hash(x)), waitMs, what);
      return { item, sent };
    } catch (_) {
      // not delivered yet: the listener may not have been set up; send again
    }
  }
  throw new Error(`${what}: nothing delivered for ${tries} transactions (${sent.join(", ")})`);
}

/**
 * Runs one check and prints its line. Returns the check's value, or
 * `undefined` when it failed. With `{ fatal: true }` a failure ends the run
 * (later checks need what this one makes).
 */
export async function check(name, fn, { fatal = false } = {}) {
  try {
    const value = await withTimeout(Promise.resolve().then(fn), CHECK_TIMEOUT_MS, name);
    console.log(`ok - ${name}`);
    return value;
  } catch (e) {
    failures += 1;
    console.log(`FAIL - ${name}: ${describe(e)}`);
    if (fatal) finish();
    return undefined;
  }
}

/** A one-line description of an error, with the JSON-RPC error if the library kept it. */
export function describe(e) {
  const parts = [e?.shortMessage || e?.message || String(e)];
  if (e?.code !== undefined) parts.push(`code=${e.code}`);
  const rpc = e?.error ?? e?.info?.error ?? e?.cause;
  if (rpc?.message && rpc.message !== parts[0]) parts.push(`rpc: ${rpc.message}`);
  return parts.join(" | ").replace(/\s+/g, " ");
}

/** Prints the summary line and exits: 0 when every check passed. */
export function finish() {
  console.log(failures === 0 ? "all checks passed" : `${failures} check(s) failed`);
  process.exit(failures === 0 ? 0 : 1);
}
