"""web3.py 7 against a node, unmodified: what a Python dapp or script does.

    COCO_URL=http://127.0.0.1:8545 COCO_WS_URL=ws://127.0.0.1:8545 \
        .tools/bin/python-web3 tests/py/web3_flow.py

Prints one line per check (`ok - name` or `FAIL - name: why`) and exits 1 when
any check failed; tests/it/js_tools.rs runs it and looks at the exit status.
The venv with the pinned web3 comes from scripts/install-tools.sh.
"""

import asyncio
import json
import os
import sys
import time
from pathlib import Path

from web3 import AsyncWeb3, Web3
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.middleware import SignAndSendRawMiddlewareBuilder
from web3.providers.persistent import WebSocketProvider

DEV_KEY_0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
CHAIN_ID = 31337
URL = os.environ["COCO_URL"]
WS_URL = os.environ["COCO_WS_URL"]
KEY = os.environ.get("COCO_PRIVATE_KEY") or DEV_KEY_0
# keccak256("TooLarge(uint256,uint256)")[:4]
TOO_LARGE_SELECTOR = "0x677fd0e3"

failures = 0


def check(name, fn, fatal=False):
    """Runs one check and prints its line; returns its value (None on failure)."""
    global failures
    try:
        value = fn()
        print(f"ok - {name}", flush=True)
        return value
    except Exception as e:  # noqa: BLE001 - every failure is reported the same way
        failures += 1
        why = " ".join(f"{type(e).__name__}: {e}".split())
        print(f"FAIL - {name}: {why}", flush=True)
        if fatal:
            finish()
        return None


def finish():
    print("all checks passed" if failures == 0 else f"{failures} check(s) failed", flush=True)
    sys.exit(0 if failures == 0 else 1)


def expect_eq(actual, expected, what):
    if actual != expected:
        raise AssertionError(f"{what}: expected {expected!r}, got {actual!r}")


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


artifact = json.loads(
    (Path(__file__).resolve().parents[2] / "contracts/out/Counter.json").read_text()
)
ABI, BYTECODE = artifact["abi"], artifact["bytecode"]["object"]

w3 = Web3(Web3.HTTPProvider(URL, request_kwargs={"timeout": 30}))
acct = w3.eth.account.from_key(KEY)
# Sign locally and send with eth_sendRawTransaction, as against a hosted node.
w3.middleware_onion.inject(SignAndSendRawMiddlewareBuilder.build(acct), layer=0)
w3.eth.default_account = acct.address


def mined(tx_hash):
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)
    expect_eq(receipt["status"], 1, f"status of {tx_hash.hex()}")
    return receipt


def chain_info():
    expect(w3.is_connected(), "is_connected")
    expect_eq(w3.eth.chain_id, CHAIN_ID, "chain_id")
    expect(w3.eth.block_number >= 0, "block_number")
    expect(w3.eth.get_balance(acct.address) > 0, "balance")
    expect(w3.eth.gas_price > 0, "gas_price")
    expect(w3.eth.max_priority_fee >= 0, "max_priority_fee")
    expect(len(w3.client_version) > 0, "client_version")


check("connect: chain id, block number, balance, gas price, client version", chain_info)


def deploy():
    receipt = mined(w3.eth.contract(abi=ABI, bytecode=BYTECODE).constructor().transact())
    address = receipt["contractAddress"]
    expect(address, "no contractAddress")
    expect(len(w3.eth.get_code(address)) > 0, "no code")
    return w3.eth.contract(address=address, abi=ABI)


counter = check("deploy Counter (constructor().transact, signed locally)", deploy, fatal=True)
state = {}


def transact_and_events():
    expect_eq(counter.functions.number().call(), 0, "number() before")
    receipt = mined(counter.functions.increment().transact())
    events = counter.events.Incremented().process_receipt(receipt)
    expect_eq(len(events), 1, "Incremented in the receipt")
    expect_eq(events[0]["args"]["by"], acct.address, "by")
    expect_eq(events[0]["args"]["value"], 1, "value")
    expect_eq(counter.functions.number().call(), 1, "number() after")
    state["increment"] = receipt


check("transact increment(), wait_for_transaction_receipt, process_receipt", transact_and_events)


def get_logs():
    logs = counter.events.Incremented().get_logs(from_block=0)
    expect_eq(len(logs), 1, "Incremented logs")
    expect_eq(logs[0]["transactionHash"], state["increment"]["transactionHash"], "transactionHash")
    raw = w3.eth.get_logs({"address": counter.address, "fromBlock": 0, "toBlock": "latest"})
    expect_eq(len(raw), 1, "eth_getLogs by address")


check("events via get_logs", get_logs)


def log_filter():
    flt = counter.events.Incremented().create_filter(from_block="latest")
    blocks = w3.eth.filter("latest")
    # Nodes differ on whether the first poll repeats the logs of the block the
    # filter started at (anvil does, geth does not): start from a clean slate.
    flt.get_new_entries()
    blocks.get_new_entries()
    before = counter.functions.number().call()
    receipt = mined(counter.functions.increment().transact())
    entries = flt.get_new_entries()
    expect_eq(len(entries), 1, "new entries")
    expect_eq(entries[0]["args"]["value"], before + 1, "value")
    expect_eq(entries[0]["transactionHash"], receipt["transactionHash"], "transactionHash")
    expect_eq(flt.get_new_entries(), [], "entries after reading them")
    all_hashes = [e["transactionHash"] for e in flt.get_all_entries()]
    expect(receipt["transactionHash"] in all_hashes, f"get_all_entries: {all_hashes}")
    hashes = blocks.get_new_entries()
    expect(receipt["blockHash"] in hashes, f"block filter: {receipt['blockHash'].hex()} not in {hashes}")
    expect(w3.eth.uninstall_filter(flt.filter_id), "uninstall_filter")
    expect(w3.eth.uninstall_filter(blocks.filter_id), "uninstall_filter (blocks)")


check("events via a filter: create_filter, get_new_entries, get_all_entries, block filter", log_filter)


def reverts():
    try:
        counter.functions.fail().call()
        raise AssertionError("fail() did not raise")
    except ContractLogicError as e:
        expect("Counter: failed" in str(e), f"message {e}")
    try:
        counter.functions.fail().estimate_gas()
        raise AssertionError("estimate_gas of fail() did not raise")
    except ContractLogicError as e:
        expect("Counter: failed" in str(e), f"message {e}")
    try:
        counter.functions.setSmall(101).call()
        raise AssertionError("setSmall(101) did not raise")
    except ContractCustomError as e:
        expect(str(e.data).startswith(TOO_LARGE_SELECTOR), f"custom error data {e.data}")


check('reverts: "Counter: failed" (call, estimate_gas) and TooLarge custom error', reverts)


def estimate_and_transfer():
    gas = counter.functions.increment().estimate_gas()
    expect(21000 < gas < 100000, f"estimate {gas}")
    receipt = mined(w3.eth.send_transaction({"to": counter.address, "value": w3.to_wei(1, "gwei")}))
    expect_eq(receipt["gasUsed"] > 21000, True, "gasUsed of a transfer to a contract")
    expect_eq(w3.eth.get_balance(counter.address), w3.to_wei(1, "gwei"), "contract balance")


check("estimate_gas and send_transaction with value", estimate_and_transfer)


def node_signed():
    # The dev node's own accounts, signing on the node (eth_accounts,
    # eth_sendTransaction): what web3.py tutorials do against anvil/hardhat.
    plain = Web3(Web3.HTTPProvider(URL, request_kwargs={"timeout": 30}))
    accounts = plain.eth.accounts
    expect(len(accounts) >= 1, f"eth_accounts: {accounts}")
    sender = accounts[-1]
    c = plain.eth.contract(address=counter.address, abi=ABI)
    before = c.functions.number().call()
    tx_hash = c.functions.increment().transact({"from": sender})
    receipt = plain.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.1)
    expect_eq(receipt["status"], 1, "status")
    expect_eq(receipt["from"], sender, "from")
    expect_eq(c.functions.number().call(), before + 1, "number()")


check("node-signed: eth_accounts + transact({'from': dev account}) (eth_sendTransaction)", node_signed)


async def subscriptions():
    async with AsyncWeb3(WebSocketProvider(WS_URL)) as aw3:
        expect_eq(await aw3.eth.chain_id, CHAIN_ID, "chain_id over ws")
        heads = await aw3.eth.subscribe("newHeads")
        logs = await aw3.eth.subscribe("logs", {"address": counter.address})
        receipt = await asyncio.to_thread(lambda: mined(counter.functions.increment().transact()))
        got_head = got_log = False
        deadline = time.monotonic() + 15
        async for msg in aw3.socket.process_subscriptions():
            if msg["subscription"] == heads and msg["result"]["number"] >= receipt["blockNumber"]:
                got_head = True
            if msg["subscription"] == logs and msg["result"]["transactionHash"] == receipt["transactionHash"]:
                got_log = True
            if (got_head and got_log) or time.monotonic() > deadline:
                break
        expect(got_head, "no newHeads notification for the transaction's block")
        expect(got_log, "no logs notification for the transaction")
        expect(await aw3.eth.unsubscribe(heads), "unsubscribe newHeads")
        expect(await aw3.eth.unsubscribe(logs), "unsubscribe logs")


def run_subscriptions():
    try:
        asyncio.run(asyncio.wait_for(subscriptions(), 30))
    except asyncio.TimeoutError:
        raise AssertionError("timed out after 30 s waiting for eth_subscription notifications") from None


check("WebSocketProvider: eth_subscribe newHeads and logs", run_subscriptions)

finish()
