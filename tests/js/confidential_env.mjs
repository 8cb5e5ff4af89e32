// What the confidential flows (confidential_ethers.mjs, confidential_viem.mjs)
// share: the parties, their API keys and the refusal a node running the
// confidential policy answers. The flows themselves use the tools unmodified;
// this file only reads the environment.
//
// Environment (set by tests/it/js_confidential.rs, or by hand against a node
// started with `coco dev --confidential` and keys from `coco keys add`):
//   COCO_URL, COCO_WS_URL   as for the open flows (see harness.mjs)
//   COCO_KEY_A              API key covering only dev account 0 (user A)
//   COCO_KEY_B              API key covering only dev account 1 (user B)
//   COCO_KEY_C              API key covering only dev account 2 (outsider C)
//   COCO_KEY_AUDITOR        an auditor key
import { assert } from "./harness.mjs";

/** The JSON-RPC error code of every policy refusal (src/rpc/policy.rs). */
export const NOT_AUTHORIZED = -32030;

/** Dev accounts 0, 1 and 2 of the "test test ... junk" mnemonic: A, B and C. */
export const PRIVATE_KEYS = {
  A: "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
  B: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  C: "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
};

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`${name} is not set`);
    process.exit(2);
  }
  return v;
}

/** The parties' API keys. */
export const KEYS = {
  A: required("COCO_KEY_A"),
  B: required("COCO_KEY_B"),
  C: required("COCO_KEY_C"),
  AUDITOR: required("COCO_KEY_AUDITOR"),
};

/** `base` with the API key as its path, for tools that take only a URL. */
export function withKey(base, key) {
  return `${base.replace(/\/+$/, "")}/${key}`;
}

/**
 * Finds the JSON-RPC error object inside whatever a library threw: ethers keeps
 * it in `error` / `info.error`, viem in a chain of `cause`s (with `code` on the
 * error itself). Returns { code, message } or undefined.
 */
export function rpcError(e) {
  const seen = new Set();
  const queue = [e];
  while (queue.length) {
    const x = queue.shift();
    if (!x || typeof x !== "object" || seen.has(x)) continue;
    seen.add(x);
    if (typeof x.code === "number") {
      return { code: x.code, message: x.details ?? x.message };
    }
    queue.push(x.error, x.info?.error, x.cause);
  }
  return undefined;
}

/**
 * Awaits `promise`, which must fail with the policy refusal: code -32030 and a
 * message starting "not authorized" that names `method` (a clear error, never
 * a fake zero). Returns the message.
 */
export async function expectRefusal(promise, method) {
  let value;
  try {
    value = await promise;
  } catch (e) {
    const rpc = rpcError(e);
    assert(rpc, `no JSON-RPC error in: ${e?.shortMessage ?? e?.message ?? e}`);
    assert(rpc.code === NOT_AUTHORIZED, `code ${rpc.code} (want ${NOT_AUTHORIZED}): ${rpc.message}`);
    assert(/not authorized/.test(rpc.message), `message: ${rpc.message}`);
    if (method) assert(rpc.message.includes(method), `message does not name ${method}: ${rpc.message}`);
    return rpc.message;
  }
  const shown = JSON.stringify(value, (_, v) => (typeof v === "bigint" ? `${v}n` : v));
  throw new Error(`not refused: answered ${shown}`);
}
