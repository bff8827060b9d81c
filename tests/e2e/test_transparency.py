"""Transparency end to end: signed, hash-chained reports published by the operator CLI and
served as exact bytes; each user's proof of inclusion fetched through the account API and
verified three ways (the offline `bulwark verify-proof`, the operator's copy, and an independent
verifier written here from docs/TRANSPARENCY.md alone); tampered proofs and reports refused;
reserves read from the simulated chains against liabilities, with a shortfall opening an
incident; and the audit log's hash chain catching an edit made behind the database's back."""

import hashlib
import json
import os
import sqlite3
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from conftest import BIN, Server
from test_accounts import call, login, signup_verified
from test_browser import CHROMEDRIVER, CHROMIUM, browser  # noqa: F401
from test_ccxt import client
from test_custody import balance, wait_for


@pytest.fixture
def tsrv(monkeypatch):
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-transparency-") as data_dir:
        clock = os.path.join(data_dir, "clock-offset-ms")
        with open(clock, "w") as f:
            f.write("0")
        monkeypatch.setenv("BULWARK_TEST_CLOCK_FILE", clock)
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0", "--report-interval-hours", "0"]).start()
        try:
            yield srv
        finally:
            srv.stop()


def get(srv, path):
    try:
        with urllib.request.urlopen(srv.base + path, timeout=30) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def verify_cli(*args):
    return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)


# An independent verifier, written from docs/TRANSPARENCY.md (not from the Rust code).
def leaf_hash(leaf_id, balance):
    return hashlib.sha256(b"bulwark-por-leaf\x00" + leaf_id + balance.to_bytes(8, "big")).digest()


def node_hash(lh, ls, rh, rs):
    return hashlib.sha256(b"bulwark-por-node\x00" + lh + ls.to_bytes(16, "big") + rh + rs.to_bytes(16, "big")).digest()


def python_verify(proof, root):
    salt = bytes.fromhex(proof["salt"])
    leaf_id = hashlib.sha256(salt + str(proof["user_id"]).encode() + b":" + str(proof["report_seq"]).encode()).digest()
    if leaf_id.hex() != proof["leaf_id"] or not proof["balance"].isdigit():
        return False
    balance = int(proof["balance"])
    if balance >= 2 ** 64 or proof["index"] >= 2 ** len(proof["path"]):
        return False
    h, s = leaf_hash(leaf_id, balance), balance
    for level, sibling in enumerate(proof["path"]):
        if not sibling["sum"].isdigit():
            return False
        sh, ss = bytes.fromhex(sibling["hash"]), int(sibling["sum"])
        if s + ss >= 2 ** 128:
            return False
        h, s = (node_hash(sh, ss, h, s) if (proof["index"] >> level) & 1 else node_hash(h, s, sh, ss)), s + ss
    return h.hex() == proof["root"]["hash"] == root["hash"] and str(s) == proof["root"]["sum"] == root["sum"]


def admin_fails_code(srv, *args):
    out = subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "--json", *args],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0, out.stdout
    return json.loads(out.stdout)["error"]["code"]


def session_user(srv, email):
    signup_verified(srv, email)
    status, body, _ = login(srv, email)
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    me = call(srv, "GET", "/api/v1/me", token=token)[1]
    user = me["user_id"]
    srv.admin("user", "kyc-tier", "--user", str(user), "--tier", "L1")
    key = srv.admin("apikey", "create", "--user", str(user), "--scopes", "read,trade")
    return user, token, key


def test_reports_proofs_reserves_and_the_audit_chain(tsrv):
    srv = tsrv
    key_hex = get(srv, "/transparency/v1/key")[1].decode()
    assert len(bytes.fromhex(key_hex)) == 32
    # Before anything is published: specific errors.
    assert json.loads(get(srv, "/transparency/v1/reports/1")[1])["error"]["code"] == "report_not_found"
    assert json.loads(get(srv, "/transparency/v1/reports/abc")[1])["error"]["code"] == "invalid_seq"
    assert json.loads(get(srv, "/transparency/v1/reports")[1]) == {"reports": []}

    alice, alice_token, alice_key = session_user(srv, "alice@example.com")
    bob, _, bob_key = session_user(srv, "bob@example.com")
    status, body, _ = call(srv, "GET", "/api/v1/transparency/proof?asset=BTC", token=alice_token)
    assert status == 404 and body["error"]["code"] == "no_report", body

    # Alice's BTC arrives on the simulated chain (backed); Bob's USDT is an operator credit
    # that no chain backs, so the report must show USDT short.
    ex = client(srv.base, alice_key)
    address = ex.fetch_deposit_address("BTC")["address"]
    srv.admin("chain", "deposit", "--network", "BTC", "--address", address, "--amount", "0.5")
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "2")
    wait_for("the BTC credit", lambda: balance(ex, "BTC") == 0.5)
    srv.admin("deposit", "credit", "--user", str(bob), "--asset", "USDT", "--amount", "50000", "--ref", "bob-usdt")

    first = srv.admin("transparency", "publish")
    assert first["seq"] == 1
    # The fund's share of later fees changes going forward, audited with what it replaced.
    assert admin_fails_code(srv, "safeguard-share", "--bps", "10001") == "invalid_share"
    changed = srv.admin("safeguard-share", "--bps", "2500")
    assert changed["share_bps"] == 2500 and changed["previous_bps"] == 1000
    # A trade between them pays fees, a share of which goes to the Safeguard fund.
    bx = client(srv.base, bob_key)
    ex.create_order("BTC/USDT", "limit", "sell", 0.1, 30000)
    bx.create_order("BTC/USDT", "limit", "buy", 0.1, 30000)
    wait_for("the fill", lambda: balance(bx, "BTC") > 0)
    second = srv.admin("transparency", "publish")
    assert second["seq"] == 2

    listed = json.loads(get(srv, "/transparency/v1/reports")[1])["reports"]
    assert [r["seq"] for r in listed] == [2, 1]
    raw = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seq in (1, 2):
            status, body, headers = get(srv, f"/transparency/v1/reports/{seq}")
            assert status == 200 and headers["Content-Type"] == "application/json"
            sig = get(srv, f"/transparency/v1/reports/{seq}/signature")[1].decode()
            raw[seq] = body
            # The signature over the exact bytes, checked with a library that is not the server's.
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(bytes.fromhex(sig), body)
            assert hashlib.sha256(body).hexdigest() == listed[2 - seq]["sha256"]
            with open(os.path.join(tmp, f"r{seq}.json"), "wb") as f:
                f.write(body)
            with open(os.path.join(tmp, f"r{seq}.json.sig"), "w") as f:
                f.write(sig)
        r1, r2 = json.loads(raw[1]), json.loads(raw[2])
        assert r1["prev_sha256"] is None and r2["prev_sha256"] == hashlib.sha256(raw[1]).hexdigest()
        p1, p2 = os.path.join(tmp, "r1.json"), os.path.join(tmp, "r2.json")
        ok = verify_cli("verify-report", p2, "--key", key_hex, "--prev", p1, "--json")
        assert ok.returncode == 0 and json.loads(ok.stdout)["chain_checked"] is True, ok.stderr
        # Out of order, altered by one byte, or checked with another key: refused.
        assert verify_cli("verify-report", p1, "--key", key_hex, "--prev", p2).returncode != 0
        tampered = os.path.join(tmp, "t.json")
        with open(tampered, "wb") as f:
            f.write(raw[2].replace(b'"seq": 2', b'"seq": 3', 1))
        with open(tampered + ".sig", "w") as f:
            f.write(open(p2 + ".sig").read())
        bad = verify_cli("verify-report", tampered, "--key", key_hex)
        assert bad.returncode != 0 and "signature does not match" in bad.stderr
        assert verify_cli("verify-report", p2, "--key", "00" * 32).returncode != 0

        # Reserves against liabilities: BTC is backed by the chain, USDT is not.
        assert r2["solvency"]["BTC"]["shortfall"] == "0"
        # Users owe less than was deposited: the buyer's fee went to fee revenue and the fund.
        btc = r2["solvency"]["BTC"]
        assert int(btc["reserves"]) == 50_000_000 > int(btc["liabilities"]) > 49_900_000, btc
        usdt = r2["solvency"]["USDT"]
        assert int(usdt["shortfall"]) == int(usdt["liabilities"]) - int(usdt["reserves"]) > 0
        incident = next(i for i in r2["incidents"] if i["id"] == usdt["incident_id"])
        assert incident["asset"] == "USDT" and incident["resolved_ms"] is None
        btc_addresses = {a["wallet"] for a in r2["reserves"]["BTC"]["addresses"]}
        assert {"hot", "cold"} <= btc_addresses and r2["reserves"]["BTC"]["heights"]["BTC"] >= 2
        # Fees reached the fund between the reports.
        fund = r2["safeguard"]["assets"]
        assert int(fund["USDT"]["change"]) > 0 or int(fund["BTC"]["change"]) > 0, fund
        assert r1["safeguard"]["share_bps"] == 1000 and r2["safeguard"]["share_bps"] == 2500
        assert r2["proof_of_liabilities"]["BTC"]["users"] == 2

        # Alice's proof through the account API: verified here, by the CLI and against the
        # operator's copy; every tampering fails.
        status, proof, _ = call(srv, "GET", "/api/v1/transparency/proof?asset=btc", token=alice_token)
        assert status == 200 and proof["user_id"] == alice and proof["report_seq"] == 2, proof
        assert proof["balance"] == str(50_000_000 - 10_000_000)
        root = r2["proof_of_liabilities"]["BTC"]["root"]
        assert python_verify(proof, root)
        assert srv.admin("transparency", "proof", "--user", str(alice), "--asset", "BTC") == proof
        proof_path = os.path.join(tmp, "proof.json")
        with open(proof_path, "w") as f:
            json.dump(proof, f)
        ok = verify_cli("verify-proof", proof_path, "--report", p2, "--key", key_hex, "--json")
        assert ok.returncode == 0 and json.loads(ok.stdout)["balance"] == proof["balance"], ok.stderr
        # The proof against the other report: refused.
        assert verify_cli("verify-proof", proof_path, "--report", p1).returncode != 0
        for name, change in [
            ("balance raised", lambda p: p.update(balance=str(int(p["balance"]) + 1))),
            ("negative balance", lambda p: p.update(balance="-1")),
            ("sibling sum lowered", lambda p: p["path"][0].update(sum="0")),
            ("sibling hash altered", lambda p: p["path"][-1].update(hash="11" * 32)),
            ("overflowing sibling", lambda p: p["path"][0].update(sum=str(2 ** 128 - 1))),
            ("level dropped", lambda p: p["path"].pop()),
            ("someone else's id", lambda p: p.update(user_id=p["user_id"] + 1)),
        ]:
            bad_proof = json.loads(json.dumps(proof))
            change(bad_proof)
            assert not python_verify(bad_proof, root), name
            with open(proof_path, "w") as f:
                json.dump(bad_proof, f)
            result = verify_cli("verify-proof", proof_path, "--report", p2, "--key", key_hex)
            assert result.returncode != 0, name

    # Bad requests get specific errors.
    assert call(srv, "GET", "/api/v1/transparency/proof?asset=NOPE", token=alice_token)[1]["error"]["code"] == "unknown_asset"
    assert call(srv, "GET", "/api/v1/transparency/proof?asset=ETH", token=alice_token)[1]["error"]["code"] == "not_in_report"
    assert call(srv, "GET", "/api/v1/transparency/proof?asset=BTC&seq=9", token=alice_token)[1]["error"]["code"] == "report_not_found"
    assert call(srv, "GET", "/api/v1/transparency/proof?asset=BTC")[0] == 401

    # The audit chain: intact, anchored in the report, and broken by an edit behind the
    # database's back.
    check = srv.admin("audit", "verify")
    assert check["intact"] is True and check["entries"] >= r2["audit"]["entries"]
    srv.stop()
    db = sqlite3.connect(os.path.join(srv.data_dir, "bulwark.db"))
    db.execute("DROP TRIGGER tr_audit_log_no_update")
    db.execute("UPDATE audit_log SET params_json = '{}' WHERE id = 2")
    db.commit()
    db.close()
    srv.start()
    out = subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "audit", "verify"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "BROKEN at entry 2" in out.stdout, (out.stdout, out.stderr)


def eip191_signer(message, signature_hex):
    """The Ethereum address behind an EIP-191 signature, with libsecp256k1 (coincurve) and the
    keccak that CCXT ships: nothing of the server's code."""
    import coincurve
    from ccxt.static_dependencies.keccak.keccak import SHA3 as keccak
    sig = bytes.fromhex(signature_hex[2:])
    digest = bytes(keccak(b"\x19Ethereum Signed Message:\n" + str(len(message)).encode() + message.encode()))
    public = coincurve.PublicKey.from_signature_and_message(sig[:64] + bytes([sig[64] - 27]), digest, hasher=None)
    return "0x" + bytes(keccak(public.format(compressed=False)[1:]))[12:].hex()


def test_control_of_reserve_addresses_is_proven_with_the_offline_seed(tsrv):
    srv = tsrv
    _, _, carol_key = session_user(srv, "carol@example.com")
    ex = client(srv.base, carol_key)
    address = ex.fetch_deposit_address("BTC")["address"]
    srv.admin("chain", "deposit", "--network", "BTC", "--address", address, "--amount", "0.3")
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "2")
    wait_for("the BTC credit", lambda: balance(ex, "BTC") == 0.3)
    seq = srv.admin("transparency", "publish")["seq"]
    body = get(srv, f"/transparency/v1/reports/{seq}")[1]
    report = json.loads(body)
    # The simulated chains' keys all descend from the offline seed: nothing is proven yet.
    published = json.loads(get(srv, f"/transparency/v1/reports/{seq}/control")[1])
    assert published == {"seq": seq, "report_sha256": hashlib.sha256(body).hexdigest(),
                         "message": f"Bulwark proof of reserves: report {seq}, sha256 {hashlib.sha256(body).hexdigest()}",
                         "proofs": []}
    assert json.loads(get(srv, "/transparency/v1/reports/9/control")[1])["error"]["code"] == "report_not_found"

    # The signing request names every hot and deposit address of the report, never a cold one.
    request = srv.admin("transparency", "control-request", "--seq", str(seq))
    listed = {(a["network"], a["wallet"], a["address"]) for asset in report["reserves"].values()
              for a in asset["addresses"]}
    wanted = {(t["network"], t["wallet"], t["address"]) for t in request["targets"]}
    assert wanted == {entry for entry in listed if entry[1] != "cold"}
    assert ("BTC", "deposit", address) in wanted and ("BTC", "hot") in {(n, w) for n, w, _ in wanted}

    with tempfile.TemporaryDirectory() as tmp:
        request_path, proofs_path = os.path.join(tmp, "request.json"), os.path.join(tmp, "proofs.json")
        with open(request_path, "w") as f:
            json.dump(request, f)
        seed = os.path.join(srv.data_dir, "custody", "master-seed.OFFLINE")
        signed = verify_cli("operator", "sign-control", request_path, "--seed", seed)
        assert signed.returncode == 0, signed.stderr
        proofs = json.loads(signed.stdout)
        assert len(proofs["proofs"]) == len(wanted)
        # EIP-191 checked with libsecp256k1: the ERC20 hot wallet's own key signed the message.
        erc20 = next(p for p in proofs["proofs"] if p["network"] == "ERC20")
        assert erc20["scheme"] == "eip191"
        assert eip191_signer(proofs["message"], erc20["signature"]) == erc20["address"].lower()

        # Another seed holds none of these addresses: refused whole, nothing printed.
        other_seed = os.path.join(tmp, "other-seed")
        with open(other_seed, "w") as f:
            f.write("11" * 32)
        refused = verify_cli("operator", "sign-control", request_path, "--seed", other_seed)
        assert refused.returncode != 0 and "does not hold" in refused.stderr and refused.stdout == ""

        # A proof swapped onto another address: the whole upload is refused, nothing stored.
        swapped = json.loads(json.dumps(proofs))
        first, second = swapped["proofs"][0], swapped["proofs"][1]
        first["signature"], second["signature"] = second["signature"], first["signature"]
        with open(proofs_path, "w") as f:
            json.dump(swapped, f)
        assert admin_fails_code(srv, "transparency", "control", "--seq", str(seq), "--file", proofs_path) \
            == "invalid_control_proof"
        assert json.loads(get(srv, f"/transparency/v1/reports/{seq}/control")[1])["proofs"] == []

        with open(proofs_path, "w") as f:
            json.dump(proofs, f)
        added = srv.admin("transparency", "control", "--seq", str(seq), "--file", proofs_path)
        assert added["added"] == len(wanted)
        btc = added["coverage"]["BTC"]
        assert btc["proven"] == btc["reserves"] == "30000000" and btc["proven_addresses"] == btc["addresses"] - 1
        # Uploading again adds nothing; the public list holds each proof once.
        assert srv.admin("transparency", "control", "--seq", str(seq), "--file", proofs_path)["added"] == 0
        public = json.loads(get(srv, f"/transparency/v1/reports/{seq}/control")[1])
        assert sorted(p["address"] for p in public["proofs"]) == sorted(t[2] for t in wanted)
        # Nothing left for the seed to sign.
        assert srv.admin("transparency", "control-request", "--seq", str(seq))["targets"] == []

        # Offline: the report's signature and every control proof verify.
        report_path, control_path = os.path.join(tmp, "report.json"), os.path.join(tmp, "control.json")
        with open(report_path, "wb") as f:
            f.write(body)
        with open(report_path + ".sig", "w") as f:
            f.write(get(srv, f"/transparency/v1/reports/{seq}/signature")[1].decode())
        with open(control_path, "w") as f:
            json.dump(public, f)
        key_hex = get(srv, "/transparency/v1/key")[1].decode()
        ok = verify_cli("verify-report", report_path, "--key", key_hex, "--control", control_path, "--json")
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["control"]["BTC"]["proven"] == "30000000"
        # A proof's signature altered by one character: refused offline too.
        bad = json.loads(json.dumps(public))
        sig = bad["proofs"][0]["signature"]
        bad["proofs"][0]["signature"] = sig[:10] + ("0" if sig[10] != "0" else "1") + sig[11:]
        with open(control_path, "w") as f:
            json.dump(bad, f)
        refused = verify_cli("verify-report", report_path, "--key", key_hex, "--control", control_path)
        assert refused.returncode != 0 and "do not verify" in refused.stderr, refused.stdout + refused.stderr

    # The transparency page shows the share of reserves proven.
    page = get(srv, "/transparency")[1].decode()
    assert "100.00 % (" in page and "/transparency/v1/reports/%d/control" % seq in page


@pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                    reason="Debian chromium and chromium-driver are not installed (scripts/test.sh installs them)")
def test_the_pages_show_the_report_and_the_browser_verifier_agrees_with_the_cli(tsrv, browser):  # noqa: F811
    from test_trade_browser import browser_user
    b = browser
    srv = tsrv
    # A visitor sees that nothing is published yet.
    b.go(srv.base + "/transparency")
    b.wait_for('id="no-report"')
    user = browser_user(b, srv, "viewer@example.com", {"BTC": "0.3", "USDT": "10"})
    srv.admin("transparency", "publish")
    b.go(srv.base + "/transparency")
    page = b.wait_for("Safeguard fund · report 1")
    assert "BTC" in b.text("#solvency-BTC") and "0.30000000" in b.text("#solvency-BTC")
    assert "open" in b.text("#incidents"), "the unbacked credit opened an incident"
    assert 'href="/transparency/v1/reports/1"' in page and b.text("#report-key") == get(srv, "/transparency/v1/key")[1].decode()
    b.screenshot("transparency-report")

    b.go(srv.base + "/transparency/proof?asset=BTC")
    b.wait_for('id="proof-download"')
    proof = json.loads(b.value("#proof-json"))
    assert proof["user_id"] == user and proof["balance"] == "30000000"
    b.click("#verify-proof")
    wait_verdict = lambda: b.attribute("#verify-result", "data-valid")  # noqa: E731
    deadline = time.time() + 20
    while wait_verdict() is None and time.time() < deadline:
        time.sleep(0.1)
    assert wait_verdict() == "true", b.text("#verify-result")
    assert "30000000" in b.text("#verify-result")
    b.screenshot("transparency-proof-valid")

    with tempfile.TemporaryDirectory() as tmp:
        report_path = os.path.join(tmp, "r1.json")
        with open(report_path, "wb") as f:
            f.write(get(srv, "/transparency/v1/reports/1")[1])
        cases = [
            ("honest", lambda p: None),
            ("balance raised", lambda p: p.update(balance=str(int(p["balance"]) + 1))),
            ("negative balance", lambda p: p.update(balance="-30000000")),
            ("sibling sum lowered", lambda p: p["path"][0].update(sum="0") if p["path"] else p.update(index=1)),
            ("root replaced", lambda p: p["root"].update(hash="22" * 32)),
            ("someone else's id", lambda p: p.update(user_id=p["user_id"] + 1)),
            ("other report", lambda p: p.update(report_seq=2)),
        ]
        for name, change in cases:
            tampered = json.loads(json.dumps(proof))
            change(tampered)
            b.cmd("POST", "/execute/sync", {
                "script": "document.getElementById('proof-json').value = arguments[0];"
                          "document.getElementById('verify-result').removeAttribute('data-valid');",
                "args": [json.dumps(tampered)]})
            b.click("#verify-proof")
            deadline = time.time() + 20
            while wait_verdict() is None and time.time() < deadline:
                time.sleep(0.1)
            proof_path = os.path.join(tmp, "p.json")
            with open(proof_path, "w") as f:
                json.dump(tampered, f)
            cli = verify_cli("verify-proof", proof_path, "--report", report_path).returncode == 0
            assert (wait_verdict() == "true") == cli == (name == "honest"), (name, b.text("#verify-result"))
    b.screenshot("transparency-proof-tampered")
