"""web3.py against `pvm-node --dev` (run by tests/clients.rs).

Environment: WEB3_PATH (folder web3 was installed into with `pip install --target`),
ETH_RPC_URL, CONTRACTS (testdata/contracts), SR25519_TX and SR25519_FROM (an sr25519
transfer the test sealed before, and its signer's mapped address). Exits non-zero on the
first failed check.
"""
import json
import os
import sys

sys.path.insert(0, os.environ["WEB3_PATH"])

from web3 import Web3  # noqa: E402
from web3.exceptions import ContractCustomError  # noqa: E402

CONTRACTS = os.environ["CONTRACTS"]
# The first two keys of `test test ... junk`, as Hardhat and anvil know them.
KEY0 = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
KEY1 = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def blob(name):
    with open(os.path.join(CONTRACTS, name + ".polkavm"), "rb") as file:
        return "0x" + file.read().hex()


def abi(name):
    with open(os.path.join(CONTRACTS, name + ".abi.json")) as file:
        return json.load(file)


w3 = Web3(Web3.HTTPProvider(os.environ["ETH_RPC_URL"]))
alice = w3.eth.account.from_key(KEY0)
bob = w3.eth.account.from_key(KEY1)
assert alice.address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
assert w3.is_connected()
assert w3.eth.chain_id == 420420420
assert w3.eth.get_balance(alice.address) == Web3.to_wei(10000, "ether")


def send(account, tx):
    """Fills nonce and gas, signs, sends, waits for the receipt."""
    tx.setdefault("from", account.address)
    tx.setdefault("nonce", w3.eth.get_transaction_count(account.address, "pending"))
    tx.setdefault("chainId", 420420420)
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(tx)
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30, poll_latency=0.05)


# Deploy Token with a supply, as an EIP-1559 transaction built by web3.
Token = w3.eth.contract(abi=abi("Token"), bytecode=blob("Token"))
deploy = Token.constructor(1000000).build_transaction(
    {"from": alice.address, "nonce": w3.eth.get_transaction_count(alice.address), "maxFeePerGas": 1, "maxPriorityFeePerGas": 1}
)
receipt = send(alice, deploy)
assert receipt.status == 1, receipt
assert receipt.type == 2
token = w3.eth.contract(address=receipt.contractAddress, abi=abi("Token"))
assert token.functions.balanceOf(alice.address).call() == 1000000

# transfer as a legacy transaction; the Transfer event from the receipt and eth_getLogs.
tx = token.functions.transfer(bob.address, 300).build_transaction(
    {"from": alice.address, "nonce": w3.eth.get_transaction_count(alice.address), "gasPrice": 1}
)
receipt = send(alice, tx)
assert receipt.status == 1 and receipt.type == 0, receipt
events = token.events.Transfer().process_receipt(receipt)
assert len(events) == 1 and events[0].args["to"] == bob.address and events[0].args["value"] == 300, events
logs = token.events.Transfer().get_logs(from_block=0)
assert [log.args["value"] for log in logs] == [1000000, 300], logs
assert token.functions.balanceOf(bob.address).call() == 300

# estimate_gas, and a transfer above the balance: OpenZeppelin's custom error.
assert 0 < token.functions.transfer(bob.address, 1).estimate_gas({"from": alice.address}) < 30000000
selector = Web3.keccak(text="ERC20InsufficientBalance(address,uint256,uint256)")[:4].hex()
try:
    token.functions.transfer(alice.address, 1000).call({"from": bob.address})
    raise AssertionError("a transfer above the balance went through")
except ContractCustomError as error:
    assert str(error.data).removeprefix("0x").startswith(selector.removeprefix("0x")), error.data

# Flipper: deploy, flip, read.
Flipper = w3.eth.contract(abi=abi("Flipper"), bytecode=blob("Flipper"))
receipt = send(alice, Flipper.constructor(True).build_transaction({"from": alice.address, "nonce": w3.eth.get_transaction_count(alice.address), "gasPrice": 1}))
flipper = w3.eth.contract(address=receipt.contractAddress, abi=abi("Flipper"))
assert flipper.functions.get().call() is True
send(alice, flipper.functions.flip().build_transaction({"from": alice.address, "nonce": w3.eth.get_transaction_count(alice.address), "gasPrice": 1}))
assert flipper.functions.get().call() is False

block = w3.eth.get_block("latest", full_transactions=True)
assert block.number == w3.eth.block_number and len(block.transactions) == 1
# An sr25519 extrinsic (author_submitExtrinsic) as web3.py reads it from the Ethereum view.
sr25519 = w3.eth.get_transaction(os.environ["SR25519_TX"])
assert sr25519["from"].lower() == os.environ["SR25519_FROM"], sr25519
assert w3.eth.get_transaction_receipt(os.environ["SR25519_TX"])["status"] == 1
sr25519_block = w3.eth.get_block(sr25519["blockNumber"], full_transactions=True)
assert any(tx["hash"] == sr25519["hash"] for tx in sr25519_block["transactions"])

print("web3.py: all checks passed")
