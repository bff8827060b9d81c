"""The Ethereum adapter against a real node: anvil, with an ERC-20 compiled by solcjs and
deployed by the test. Deposits of ether and of the token are found in real blocks and logs and
credited after their confirmations; withdrawals through ccxt become real signed transactions
mined on anvil; a credited deposit that a chain reorganisation takes back (anvil reverts to a
snapshot) is caught: the deposit is marked reverted and an incident freezes that asset's
withdrawals."""

import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

import ccxt
import pytest

from conftest import BIN, ROOT, Server
from test_custody import balance, confirm, confirm_link, user_with_key, wait_for
from test_ccxt import client

ANVIL = os.environ.get("ANVIL_BIN", os.path.join(ROOT, ".tools", "node_modules", "@foundry-rs",
                                                 "anvil-linux-amd64", "bin", "anvil"))
SOLCJS = os.environ.get("SOLCJS_BIN", os.path.join(ROOT, ".tools", "node_modules", ".bin", "solcjs"))
CONTRACT = os.path.join(os.path.dirname(__file__), "contracts", "TestToken.sol")
# anvil's well-known development accounts (mnemonic "test test … junk").
FUNDER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
HOT_KEY = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
HOT = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
COLD = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
DEST = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
WEI = 10 ** 18

pytestmark = pytest.mark.skipif(
    not (os.access(ANVIL, os.X_OK) and os.access(SOLCJS, os.X_OK)),
    reason="anvil and solcjs are installed by scripts/test.sh (npm)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Anvil:
    def __init__(self, data_dir):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(data_dir, "anvil.log"), "ab")
        self.proc = subprocess.Popen([ANVIL, "--port", str(self.port), "--chain-id", "31337",
                                      "--silent"], stdout=self.log, stderr=self.log)
        wait_for("anvil", lambda: self._up(), timeout=30)

    def _up(self):
        try:
            return self.rpc("eth_chainId") == "0x7a69"
        except Exception:
            return False

    def rpc(self, method, *params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        req = urllib.request.Request(self.url, data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            answer = json.load(r)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def send(self, to, value=0, data="0x", sender=FUNDER):
        tx = {"from": sender, "value": hex(value), "data": data}
        if to:
            tx["to"] = to
        txid = self.rpc("eth_sendTransaction", tx)
        receipt = wait_for("the receipt", lambda: self.rpc("eth_getTransactionReceipt", txid))
        assert receipt["status"] == "0x1", receipt
        return receipt

    def mine(self, blocks):
        self.rpc("anvil_mine", hex(blocks))

    def ether(self, address):
        return int(self.rpc("eth_getBalance", address, "latest"), 16)

    def token_balance(self, token, address):
        data = "0x70a08231" + address[2:].lower().rjust(64, "0")
        return int(self.rpc("eth_call", {"to": token, "data": data}, "latest"), 16)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def deploy_token(node, work_dir):
    out = os.path.join(work_dir, "solc-out")
    subprocess.run([SOLCJS, "--bin", "--optimize", "-o", out, CONTRACT], check=True,
                   capture_output=True, timeout=120)
    binary = open(os.path.join(out, [f for f in os.listdir(out) if f.endswith(".bin")][0])).read().strip()
    supply = (10 ** 9 * WEI).to_bytes(32, "big").hex()
    receipt = node.send(None, data="0x" + binary + supply)
    return receipt["contractAddress"]


def token_transfer(node, token, to, amount):
    data = "0xa9059cbb" + to[2:].lower().rjust(64, "0") + amount.to_bytes(32, "big").hex()
    return node.send(token, data=data)


@pytest.fixture
def ethereum():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-eth-") as data_dir:
        node = Anvil(data_dir)
        try:
            token = deploy_token(node, data_dir)
            key_path = os.path.join(data_dir, "hot.key")
            with open(key_path, "w") as f:
                f.write(HOT_KEY)
            os.chmod(key_path, 0o600)
            config = os.path.join(data_dir, "bulwark.toml")
            with open(config, "w") as f:
                f.write(f"""
[custody]
sim_block_ms = 0
hot_share_bps = 10000
hot_alarm_bps = 10000
reconcile_every_s = 0

[[custody.coins]]
asset = "BTC"
network = "BTC"
confirmations = 2
deposit_min = "0.0001"
withdraw_min = "0.001"
withdraw_fee = "0.0005"

[[custody.coins]]
asset = "ETH"
network = "ERC20"
confirmations = 3
deposit_min = "0.001"
withdraw_min = "0.01"
withdraw_fee = "0.003"

[[custody.coins]]
asset = "USDT"
network = "ERC20"
confirmations = 3
deposit_min = "1"
withdraw_min = "20"
withdraw_fee = "5"

[custody.ethereum]
rpc_url = "{node.url}"
hot_key_file = "{key_path}"
cold_address = "{COLD}"
tokens = [{{ asset = "USDT", contract = "{token}", decimals = 18 }}]
""")
            srv = Server(data_dir, extra_args=["--config", config]).start()
            try:
                yield srv, node, token
            finally:
                srv.stop()
        finally:
            node.stop()


def test_ether_and_token_deposits_withdrawals_and_a_reorganisation(ethereum):
    srv, node, token = ethereum
    # Withdrawal limits are counted in USDT: give ETH a price.
    from test_custody import trade_at
    trade_at(srv, "ETH/USDT", 2000)
    _, key = user_with_key(srv, "eth-user@example.com", "read,trade,withdraw", "127.0.0.1")
    ex = client(srv.base, key)
    currencies = ex.fetch_currencies()
    assert any(n["deposit"] for n in currencies["ETH"]["networks"].values()), currencies["ETH"]["networks"]
    assert currencies["USDT"]["networks"]["ERC20"]["fee"] == 5

    # Ether: a real transfer from a funded account, credited after 3 confirmations.
    eth_address = ex.fetch_deposit_address("ETH")["address"]
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", eth_address)
    sent = node.send(eth_address, value=3 * WEI // 2)
    node.mine(1)
    deposits = wait_for("the ether deposit", lambda: ex.fetch_deposits("ETH") or None)
    assert deposits[0]["status"] == "pending" and deposits[0]["txid"] == sent["transactionHash"]
    node.mine(2)
    wait_for("the ether credit", lambda: balance(ex, "ETH") == 1.5)

    # The token: a Transfer log to the user's USDT (ERC20) address.
    usdt_address = ex.fetch_deposit_address("USDT", {"network": "ERC20"})["address"]
    token_transfer(node, token, usdt_address, 100 * WEI)
    node.mine(3)
    wait_for("the token credit", lambda: balance(ex, "USDT") == 100)
    record = ex.fetch_deposits("USDT")[0]
    assert record["status"] == "ok" and record["network"] == "ERC20"

    # The hot wallet pays withdrawals (deposit addresses belong to the offline seed): an
    # operator float, for gas too.
    node.send(HOT, value=10 * WEI)
    token_transfer(node, token, HOT, 1000 * WEI)

    before = node.ether(DEST)
    eth_withdrawal = ex.withdraw("ETH", 0.5, DEST)["id"]
    confirm(srv, confirm_link(srv, eth_withdrawal))
    broadcast = wait_for("the ether payout", lambda: (lambda w: w if w["txid"] else None)(
        ex.fetch_withdrawal(eth_withdrawal, "ETH")))
    receipt = wait_for("the mined payout", lambda: node.rpc("eth_getTransactionReceipt", broadcast["txid"]))
    assert receipt["status"] == "0x1" and receipt["from"].lower() == HOT.lower()
    assert node.ether(DEST) - before == (5 * WEI // 10) - (3 * WEI // 1000)  # 0.5 minus the 0.003 fee
    node.mine(3)
    wait_for("the ether withdrawal to confirm", lambda: ex.fetch_withdrawal(eth_withdrawal, "ETH")["status"] == "ok")

    usdt_withdrawal = ex.withdraw("USDT", 30, DEST, None, {"network": "ERC20"})["id"]
    confirm(srv, confirm_link(srv, usdt_withdrawal))
    wait_for("the token payout", lambda: ex.fetch_withdrawal(usdt_withdrawal, "USDT")["txid"])
    assert node.token_balance(token, DEST) == 25 * WEI  # 30 minus the 5 USDT fee
    node.mine(3)
    wait_for("the token withdrawal to confirm", lambda: ex.fetch_withdrawal(usdt_withdrawal, "USDT")["status"] == "ok")
    assert balance(ex, "ETH") == 1.0 and balance(ex, "USDT") == 70

    # Chain and records agree, gas included (the float is a surplus, never a shortfall).
    rec = {r["asset"]: r for r in srv.admin("reconcile")["assets"]}
    assert float(rec["ETH"]["shortfall"]) == 0 and float(rec["USDT"]["shortfall"]) == 0

    # Proof of reserves on a real chain: the hot key proves control when the report is
    # published (EIP-191, checked here with libsecp256k1); the deposit addresses' keys are the
    # offline seed's, which signs them from the operator's request.
    from test_transparency import eip191_signer
    seq = srv.admin("transparency", "publish")["seq"]
    with urllib.request.urlopen(f"{srv.base}/transparency/v1/reports/{seq}/control", timeout=30) as r:
        control = json.loads(r.read())
    online = [p for p in control["proofs"] if p["address"].lower() == HOT.lower()]
    assert len(online) == 1 and online[0]["scheme"] == "eip191", control
    assert eip191_signer(control["message"], online[0]["signature"]) == HOT.lower()
    request = srv.admin("transparency", "control-request", "--seq", str(seq))
    targets = {t["address"]: t for t in request["targets"]}
    assert HOT not in targets and eth_address in targets and usdt_address in targets, targets
    request_path = os.path.join(srv.data_dir, "control-request.json")
    with open(request_path, "w") as f:
        json.dump(request, f)
    signed = subprocess.run([BIN, "operator", "sign-control", request_path, "--seed",
                             os.path.join(srv.data_dir, "custody", "master-seed.OFFLINE")],
                            capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stderr
    proofs_path = os.path.join(srv.data_dir, "control-proofs.json")
    with open(proofs_path, "w") as f:
        f.write(signed.stdout)
    added = srv.admin("transparency", "control", "--seq", str(seq), "--file", proofs_path)
    assert added["added"] == len(targets)
    # Everything but the cold wallet (whose key stays offline) is proven.
    eth = added["coverage"]["ETH"]
    assert eth["proven_addresses"] == eth["addresses"] - 1, added

    # A reorganisation: a credited deposit vanishes when anvil reverts to a snapshot.
    snapshot = node.rpc("evm_snapshot")
    node.send(eth_address, value=2 * WEI)
    node.mine(3)
    wait_for("the doomed credit", lambda: balance(ex, "ETH") == 3.0)
    assert node.rpc("evm_revert", snapshot) is True
    node.mine(5)
    incident = wait_for("the incident", lambda: next(
        (i for i in srv.admin("reconciliations")["incidents"] if i["kind"] == "deposit_reverted"), None))
    assert incident["asset"] == "ETH" and incident["resolved_ms"] is None
    reverted = [d for d in ex.fetch_deposits("ETH") if d["info"]["state"] == "reverted"]
    assert len(reverted) == 1 and reverted[0]["amount"] == 2.0
    with pytest.raises(ccxt.ExchangeError, match="60004"):
        ex.withdraw("ETH", 0.1, DEST)
