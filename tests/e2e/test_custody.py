"""Custody end to end on the simulated chains, driven by the unmodified ccxt 4.5.70 `bitmart`
client and the operator CLI: deposit addresses that pass each network's format, deposits seen,
confirmed and credited exactly once across restarts, deposits below the minimum recorded but not
credited, withdrawals through ccxt `withdraw` with the emailed confirmation, the payout on chain,
staff approvals by two distinct people for large ones, and reconciliation catching a theft from
the hot wallet and freezing that asset's withdrawals."""

import glob
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import ccxt
import pytest

from conftest import Server
from test_ccxt import client

# A Tron address nobody here owns (the USDT contract) and a Bitcoin one (BIP-173's example).
TRON_DEST = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"
BTC_DEST = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def wait_for(what, check, timeout=30):
    deadline = time.time() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


@pytest.fixture
def chain_server():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-custody-") as data_dir:
        # Blocks only on command, everything swept to hot (payouts never wait for a refill),
        # and reconciliation only on command.
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0", "--hot-share-bps", "10000"]).start()
        try:
            yield srv
        finally:
            srv.stop()


def user_with_key(srv, email, scopes="read,trade", ip=""):
    user = srv.admin("user", "create", "--email", email, "--kyc-tier", "L1")["user_id"]
    args = ["apikey", "create", "--user", str(user), "--scopes", scopes]
    if ip:
        args += ["--ip", ip]
    return user, srv.admin(*args)


def balance(ex, code):
    return ex.fetch_balance().get(code, {}).get("free", 0) or 0


def test_deposit_is_credited_once_after_confirmations_across_restarts(chain_server):
    srv = chain_server
    _, key = user_with_key(srv, "depositor@example.com")
    ex = client(srv.base, key)
    currencies = ex.fetch_currencies()
    assert currencies["USDT"]["networks"]["TRC20"]["deposit"] is True
    assert currencies["USDT"]["networks"]["ERC20"]["withdraw"] is True
    assert currencies["BTC"]["networks"]["BTC"]["fee"] == 0.0005

    address = ex.fetch_deposit_address("BTC")
    assert address["address"].startswith("bc1q") and address["network"] == "BTC"
    # The same address every time; another network and coin get their own format.
    assert ex.fetch_deposit_address("BTC")["address"] == address["address"]
    eth = ex.fetch_deposit_address("ETH")["address"]
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", eth) and eth != eth.lower()
    assert ex.fetch_deposit_address("USDT")["address"].startswith("T")

    sent = srv.admin("chain", "deposit", "--network", "BTC", "--address", address["address"],
                     "--amount", "0.5")
    small = srv.admin("chain", "deposit", "--network", "BTC", "--address", address["address"],
                      "--amount", "0.00005")
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
    deposits = wait_for("the deposits to be seen", lambda: ex.fetch_deposits("BTC") if len(ex.fetch_deposits("BTC")) == 2 else None)
    by_tx = {d["txid"]: d for d in deposits}
    assert by_tx[sent["txid"]]["status"] == "pending" and by_tx[sent["txid"]]["amount"] == 0.5
    assert by_tx[small["txid"]]["status"] == "failed"  # below the minimum: recorded, never credited
    assert balance(ex, "BTC") == 0

    # A restart while the deposit waits for its second confirmation.
    srv.stop()
    srv.start()
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
    wait_for("the credit", lambda: balance(ex, "BTC") == 0.5)
    detail = ex.fetch_deposit(by_tx[sent["txid"]]["id"], "BTC")
    assert detail["status"] == "ok" and detail["txid"] == sent["txid"]

    # More blocks and another restart: the chain is scanned again, nothing is credited twice.
    srv.stop()
    srv.start()
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "5")
    time.sleep(2)
    assert balance(ex, "BTC") == 0.5
    assert len(ex.fetch_deposits("BTC")) == 2
    status = srv.admin("status")
    assert all(str(t["sum"]) == "0" for t in status["ledger"]), status["ledger"]

    rec = {r["asset"]: r for r in srv.admin("reconcile")["assets"]}
    assert float(rec["BTC"]["shortfall"]) == 0
    # The below-minimum deposit is on chain but not owed to anyone: a surplus, not a shortfall.
    assert float(rec["BTC"]["chain_balance"]) == 0.50005 and float(rec["BTC"]["custody_expected"]) == 0.5


def confirm_link(srv, withdraw_id):
    def find():
        for path in sorted(glob.glob(os.path.join(srv.data_dir, "outbox", "*"))):
            text = open(path, encoding="utf-8", errors="replace").read()
            if f"withdrawal {withdraw_id})" in text:
                match = re.search(r"/withdraw/confirm\?token=([A-Za-z0-9_-]+)", text)
                if match:
                    return match.group(1)
        return None
    return wait_for("the confirmation email", find)


def confirm(srv, token):
    page = urllib.request.urlopen(f"{srv.base}/withdraw/confirm?token={token}", timeout=10).read().decode()
    assert 'id="confirm-withdrawal"' in page
    body = urllib.parse.urlencode({"token": token}).encode()
    request = urllib.request.Request(f"{srv.base}/withdraw/confirm", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Origin": srv.base})
    return urllib.request.urlopen(request, timeout=10).read().decode()


def funded_by_chain(srv, ex, code, network, amount, blocks):
    address = ex.fetch_deposit_address(code, {"network": network})["address"]
    srv.admin("chain", "deposit", "--network", network, "--address", address,
              "--amount", amount, "--asset", code)
    srv.admin("chain", "mine", "--network", network, "--blocks", str(blocks))
    wait_for("the funding deposit", lambda: balance(ex, code) == float(amount))
    # The sweep of the deposit to the hot wallet confirms with the next block.
    srv.admin("chain", "mine", "--network", network, "--blocks", "1")
    wait_for("the sweep to hot", lambda: any(
        w["asset"] == code and w["network"] == network and float(w["hot"]) >= float(amount)
        for w in srv.admin("wallets")["wallets"]))


def test_withdrawal_through_ccxt_with_email_confirmation_reaches_the_chain(chain_server):
    srv = chain_server
    _, key = user_with_key(srv, "withdrawer@example.com", "read,trade,withdraw", "127.0.0.1")
    ex = client(srv.base, key)
    funded_by_chain(srv, ex, "USDT", "TRC20", "100", 19)

    # Bad input: a specific error each, nothing held.
    with pytest.raises(ccxt.InvalidAddress):
        ex.withdraw("USDT", 20, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u")  # checksum
    with pytest.raises(ccxt.InvalidAddress):
        ex.withdraw("USDT", 20, BTC_DEST)  # another network's address
    with pytest.raises(ccxt.InvalidAddress):
        ex.withdraw("USDT", 20, TRON_DEST, "memo1")  # TRC20 has no memos
    with pytest.raises(ccxt.ExchangeError, match="60005"):
        ex.withdraw("USDT", 5, TRON_DEST)  # below the 10 USDT minimum
    with pytest.raises(ccxt.ExchangeError, match="60006"):
        ex.withdraw("USDT", 20.123456789, TRON_DEST)  # more decimals than USDT has
    with pytest.raises(ccxt.InsufficientFunds):
        ex.withdraw("USDT", 500, TRON_DEST)
    with pytest.raises(ccxt.BadRequest, match="60002"):
        ex.privateGetAccountV1DepositAddress({"currency": "DOGE"})
    with pytest.raises(ccxt.BadRequest, match="60002"):
        ex.privateGetAccountV1DepositAddress({"currency": "USDT-BEP20"})
    with pytest.raises(ccxt.ExchangeError, match="60010"):
        ex.privateGetAccountV1DepositWithdrawDetail({"id": "d999"})
    assert ex.fetch_balance()["USDT"]["used"] == 0

    fees = ex.fetch_deposit_withdraw_fee("USDT")
    assert fees["withdraw"]["fee"] == 1
    result = ex.withdraw("USDT", 20, TRON_DEST)
    withdraw_id = result["id"]
    held = ex.fetch_balance()["USDT"]
    assert held["free"] == 80 and held["used"] == 20
    pending = ex.fetch_withdrawal(withdraw_id, "USDT")
    assert pending["status"] == "pending" and pending["amount"] == 19 and pending["fee"]["cost"] == 1

    page = confirm(srv, confirm_link(srv, withdraw_id))
    assert "sent shortly" in page
    # Broadcast from the hot wallet, then confirmed after TRC20's 19 blocks.
    broadcast = wait_for("the broadcast", lambda: (lambda w: w if w["txid"] else None)(ex.fetch_withdrawal(withdraw_id, "USDT")))
    assert broadcast["status"] == "pending"
    srv.admin("chain", "mine", "--network", "TRC20", "--blocks", "19")
    done = wait_for("the confirmation", lambda: (lambda w: w if w["status"] == "ok" else None)(ex.fetch_withdrawal(withdraw_id, "USDT")))
    assert done["txid"] == broadcast["txid"] and done["address"] == TRON_DEST
    after = ex.fetch_balance()["USDT"]
    assert after["free"] == 80 and after["used"] == 0
    assert [w["id"] for w in ex.fetch_withdrawals("USDT")] == [withdraw_id]

    # The link works once.
    with pytest.raises(urllib.error.HTTPError):
        confirm(srv, confirm_link(srv, withdraw_id))

    # Chain and ledger agree: 80 USDT on chain backs the user's 80 plus 1 USDT of fee revenue
    # minus nothing; the hot wallet paid 19.
    rec = {r["asset"]: r for r in srv.admin("reconcile")["assets"]}
    assert float(rec["USDT"]["chain_balance"]) == 81 and float(rec["USDT"]["custody_expected"]) == 81
    assert float(rec["USDT"]["ledger_liabilities"]) == 81 and float(rec["USDT"]["shortfall"]) == 0
    status = srv.admin("status")
    assert all(str(t["sum"]) == "0" for t in status["ledger"]), status["ledger"]


def trade_at(srv, symbol, price):
    """One trade between two operator-funded users, so the market has a last price (withdrawal
    limits are counted in USDT)."""
    base, quote = symbol.split("/")
    _, mk = srv.funded_user("price-maker@example.com", {base: "1"})
    _, tk = srv.funded_user("price-taker@example.com", {quote: str(price)})
    client(srv.base, mk).create_order(symbol, "limit", "sell", 0.01, price)
    client(srv.base, tk).create_order(symbol, "limit", "buy", 0.01, price)


def test_theft_from_the_hot_wallet_is_caught_and_freezes_withdrawals(chain_server):
    srv = chain_server
    trade_at(srv, "BTC/USDT", 30000)
    _, key = user_with_key(srv, "victim@example.com", "read,trade,withdraw", "127.0.0.1")
    ex = client(srv.base, key)
    funded_by_chain(srv, ex, "BTC", "BTC", "1", 2)
    srv.admin("chain", "steal", "--network", "BTC", "--wallet", "hot", "--amount", "0.4")
    # Unmined, the theft is not visible yet (the wallet still shows the coins), as on a real chain.
    assert float({r["asset"]: r for r in srv.admin("reconcile")["assets"]}["BTC"]["shortfall"]) == 0
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
    result = srv.admin("reconcile")
    rec = {r["asset"]: r for r in result["assets"]}
    assert float(rec["BTC"]["shortfall"]) == 0.4
    assert result["withdrawals_frozen"] == ["BTC"]
    with pytest.raises(ccxt.ExchangeError, match="60004"):
        ex.withdraw("BTC", 0.01, BTC_DEST)
    assert ex.fetch_balance()["BTC"]["used"] == 0
    incident = srv.admin("reconciliations")["incidents"][0]
    assert incident["asset"] == "BTC" and incident["resolved_ms"] is None
    srv.admin("resolve-incident", "--id", str(incident["id"]), "--resolution", "refilled from reserves")
    # Thawed: the request is accepted (and held) again.
    ex.withdraw("BTC", 0.01, BTC_DEST)
    assert ex.fetch_balance()["BTC"]["used"] == 0.01


@pytest.fixture
def staffed_server(monkeypatch):
    """A server with the test clock (staff need TOTP logins) where withdrawals above 10 USDT
    wait for two staff approvals."""
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-custody-staff-") as data_dir:
        clock = os.path.join(data_dir, "clock-offset-ms")
        with open(clock, "w") as f:
            f.write("0")
        monkeypatch.setenv("BULWARK_TEST_CLOCK_FILE", clock)
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0", "--hot-share-bps", "10000",
                                           "--auto-approve-usdt", "10"]).start()
        srv.clock_file = clock
        srv.offset_ms = 0
        try:
            yield srv
        finally:
            srv.stop()


def test_large_withdrawal_needs_two_distinct_staff_approvals(staffed_server):
    from test_accounts import advance, call, error_code
    from test_admin import staff_account, totp_login

    srv = staffed_server
    requester, key = user_with_key(srv, "whale@example.com", "read,trade,withdraw", "127.0.0.1")
    ex = client(srv.base, key)
    funded_by_chain(srv, ex, "USDT", "TRC20", "100", 19)
    withdraw_id = ex.withdraw("USDT", 50, TRON_DEST)["id"]
    confirm(srv, confirm_link(srv, withdraw_id))
    assert ex.fetch_withdrawal(withdraw_id, "USDT")["info"]["state"] == "risk_review"

    first, first_token, first_secret = staff_account(srv, "treasurer1@example.com", "treasury")
    second, second_token, second_secret = staff_account(srv, "treasurer2@example.com", "treasury")
    _, support_token, _ = staff_account(srv, "helpdesk@example.com", "support")
    queue = call(srv, "GET", "/api/v1/admin/withdrawals", token=first_token)[1]["withdrawals"]
    assert [w["id"] for w in queue] == [int(withdraw_id)]
    approve = f"/api/v1/admin/withdrawals/{withdraw_id}/approve"
    # A role without withdrawal review is refused.
    assert error_code(call(srv, "POST", approve, {}, token=support_token)) == "staff_role_required"

    status, body, _ = call(srv, "POST", approve, {}, token=first_token)
    assert status == 200 and body["state"] == "risk_review", body
    # The same person twice still counts once.
    status, body, _ = call(srv, "POST", approve, {}, token=first_token)
    assert status == 200 and body["state"] == "risk_review", body
    time.sleep(1)
    assert ex.fetch_withdrawal(withdraw_id, "USDT")["txid"] is None

    # The second approval through the staff console page (TOTP login, CSRF-protected form).
    from test_accounts import server_now_s, totp
    from test_web import Browser, confirm_if_asked, field, login_page
    page_client = Browser(srv)
    advance(srv, 30 * 1000)
    status, page, _ = login_page(page_client, "treasurer2@example.com")
    status, page, headers = page_client.post("/login/2fa", {
        "pre_auth_token": field(page, "pre_auth_token"), "method": "totp",
        "code": totp(second_secret, server_now_s(srv))})
    confirm_if_asked(page_client, status, page, headers)
    status, page, _ = page_client.get("/admin/custody")
    assert status == 200 and f'id="approve-{withdraw_id}"' in page and 'id="wallets"' in page, page
    csrf = field(page, "csrf")
    status, page, _ = page_client.post(f"/admin/custody/withdrawals/{withdraw_id}/approve", {"csrf": "x" * 32})
    assert status == 403
    status, page, _ = page_client.post(f"/admin/custody/withdrawals/{withdraw_id}/approve", {"csrf": csrf})
    assert status == 200 and f"Withdrawal {withdraw_id} is now approved" in page, page
    broadcast = wait_for("the broadcast", lambda: (lambda w: w if w["txid"] else None)(ex.fetch_withdrawal(withdraw_id, "USDT")))
    assert broadcast["address"] == TRON_DEST
    audit = srv.admin("audit", "--limit", "20")["entries"]
    approvals = [e for e in audit if e["action"] == "withdrawal.approve"]
    assert {e["actor"] for e in approvals} == {f"staff:{first}", f"staff:{second}"}

    # A second large one: rejected with a reason, the hold released exactly once.
    other = ex.withdraw("USDT", 30, TRON_DEST)["id"]
    confirm(srv, confirm_link(srv, other))
    assert ex.fetch_balance()["USDT"]["used"] == 30 + 50
    reject = f"/api/v1/admin/withdrawals/{other}/reject"
    assert error_code(call(srv, "POST", reject, {"reason": ""}, token=first_token)) == "invalid_reason"
    status, body, _ = call(srv, "POST", reject, {"reason": "destination flagged"}, token=first_token)
    assert status == 200 and body["state"] == "rejected", body
    status, body, _ = call(srv, "POST", reject, {"reason": "again"}, token=second_token)
    assert status == 409 and error_code((status, body, None)) == "wrong_state", body
    assert ex.fetch_withdrawal(other, "USDT")["status"] == "canceled"
    srv.admin("chain", "mine", "--network", "TRC20", "--blocks", "19")
    wait_for("the first to confirm", lambda: ex.fetch_withdrawal(withdraw_id, "USDT")["status"] == "ok")
    final = ex.fetch_balance()["USDT"]
    assert (final["free"], final["used"]) == (50, 0)

    # Staff cannot approve a withdrawal of their own.
    own_key = srv.admin("apikey", "create", "--user", str(first), "--scopes", "read,withdraw",
                        "--ip", "127.0.0.1")
    srv.admin("user", "kyc-tier", "--user", str(first), "--tier", "L1")
    srv.admin("deposit", "credit", "--user", str(first), "--asset", "USDT", "--amount", "40",
              "--ref", "treasurer-own")
    own_client = client(srv.base, own_key)
    # Turning TOTP on locked the treasurer's withdrawals for 24 hours.
    with pytest.raises(ccxt.PermissionDenied, match="60022"):
        own_client.withdraw("USDT", 20, TRON_DEST)
    advance(srv, 25 * 3600 * 1000)
    first_token = totp_login(srv, "treasurer1@example.com", first_secret)
    own = own_client.withdraw("USDT", 20, TRON_DEST)["id"]
    confirm(srv, confirm_link(srv, own))
    result = call(srv, "POST", f"/api/v1/admin/withdrawals/{own}/approve", {}, token=first_token)
    assert result[0] == 403 and error_code(result) == "own_withdrawal", result
    assert requester not in (first, second)

    # A confirmation link used after its 30 minutes: refused, and the request is cancelled with
    # its hold released.
    late = ex.withdraw("USDT", 12, TRON_DEST)["id"]
    token = confirm_link(srv, late)
    assert ex.fetch_balance()["USDT"]["used"] == 12
    advance(srv, 31 * 60 * 1000)
    body = urllib.parse.urlencode({"token": token}).encode()
    request = urllib.request.Request(f"{srv.base}/withdraw/confirm", data=body, method="POST",
                                     headers={"Content-Type": "application/x-www-form-urlencoded",
                                              "Origin": srv.base})
    with pytest.raises(urllib.error.HTTPError) as expired:
        urllib.request.urlopen(request, timeout=10)
    assert expired.value.code == 410 and "expired" in expired.value.read().decode()
    wait_for("the release", lambda: ex.fetch_balance()["USDT"]["used"] == 0)
    assert ex.fetch_withdrawal(late, "USDT")["status"] == "canceled"


def test_wallet_pages_deposit_withdraw_cancel_and_address_book(chain_server):
    import html as html_lib

    from test_web import Browser, field, login_page, signup_and_verify

    srv = chain_server
    trade_at(srv, "BTC/USDT", 30000)
    b = Browser(srv)
    signup_and_verify(b, "pages@example.com")
    login_page(b, "pages@example.com")
    status, me, _ = b.get("/api/v1/me")
    user = __import__("json").loads(me)["user_id"]
    srv.admin("user", "kyc-tier", "--user", str(user), "--tier", "L1")

    status, page, _ = b.get("/wallet?coin=BTC")
    assert status == 200 and "<svg" in page
    address = re.search(r'id="deposit-address">([^<]+)<', page).group(1)
    assert address.startswith("bc1q")
    csrf = field(page, "csrf")
    srv.admin("chain", "deposit", "--network", "BTC", "--address", address, "--amount", "0.5")
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
    page = wait_for("the pending deposit", lambda: (lambda p: p if "1 / 2" in p else None)(b.get("/wallet?coin=BTC")[1]))
    assert "pending" in page
    srv.admin("chain", "mine", "--network", "BTC", "--blocks", "2")
    page = wait_for("the credit", lambda: (lambda p: p if 'id="available">0.50000000<' in p else None)(b.get("/wallet?coin=BTC")[1]))
    assert "credited" in page
    # The portfolio lists it among the account's deposits and withdrawals.
    status, page, _ = b.get("/portfolio")
    assert status == 200 and 'id="funding"' in page and "Deposit" in page and "0.50000000" in page

    # A bad address and a stale form change nothing.
    status, page, _ = b.post("/wallet/withdraw", {"csrf": csrf, "coin": "BTC", "address": "bc1qnotanaddress",
                                                  "amount": "0.1"})
    assert status == 400 and "not a valid BTC address" in html_lib.unescape(page)
    assert 'value="0.1"' in page  # the form keeps what was typed
    status, _, _ = b.post("/wallet/withdraw", {"csrf": "stale", "coin": "BTC", "address": BTC_DEST, "amount": "0.1"})
    assert status == 403

    # 0.1 BTC is worth 3000 USDT: above the L1 daily limit of 2000.
    status, page, _ = b.post("/wallet/withdraw", {"csrf": csrf, "coin": "BTC", "address": BTC_DEST, "amount": "0.1"})
    assert status == 400 and "exceeds your 24-hour limit of 2000.000000 USDT" in page, page
    status, page, headers = b.post("/wallet/withdraw", {"csrf": csrf, "coin": "BTC", "address": BTC_DEST, "amount": "0.05"})
    assert status == 303 and "done=requested" in headers["Location"], re.findall(r'class="error[^>]*>([^<]*)', page)
    status, page, _ = b.get(headers["Location"])
    assert "confirm it with the link" in page and 'id="available">0.45000000<' in page
    withdrawal = re.search(r'id="cancel-withdrawal-(\d+)"', page).group(1)
    assert "requested" in page
    status, _, headers = b.post(f"/wallet/withdrawals/{withdrawal}/cancel", {"csrf": csrf, "coin": "BTC"})
    assert status == 303
    status, page, _ = b.get(headers["Location"])
    assert 'id="available">0.50000000<' in page and f'id="cancel-withdrawal-{withdrawal}"' not in page
    assert "cancelled by the user" in page
    # Cancelling twice: a clear refusal, nothing released again.
    status, page, _ = b.post(f"/wallet/withdrawals/{withdrawal}/cancel", {"csrf": csrf, "coin": "BTC"})
    assert status == 400 and "can no longer be cancelled" in page
    assert 'id="available">0.50000000<' in page

    # The address book: a checked address, then whitelist-only withdrawals.
    status, page, _ = b.post("/wallet/addresses", {"csrf": csrf, "coin": "BTC", "address": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
                                                   "label": "wrong chain"})
    assert status == 400 and "not a valid BTC address" in html_lib.unescape(page)
    status, _, headers = b.post("/wallet/addresses", {"csrf": csrf, "coin": "BTC", "address": BTC_DEST, "label": "my cold wallet"})
    assert status == 303 and "address-added" in headers["Location"]
    status, _, _ = b.post("/wallet/whitelist", {"csrf": csrf, "coin": "BTC", "on": "1"})
    status, page, _ = b.get("/wallet?coin=BTC")
    assert 'id="whitelist-state">on<' in page and "my cold wallet" in page
    # The same book through ccxt (BitMart's address list).
    key = srv.admin("apikey", "create", "--user", str(user), "--scopes", "read")
    book = client(srv.base, key).fetch_withdraw_addresses("BTC")
    assert [(a["address"], a["currency"], a["network"]) for a in book] == [(BTC_DEST, "BTC", "BTC")], book
    # The saved address is still cooling down, another one is not in the book: both refused.
    for destination in (BTC_DEST, "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"):
        status, page, _ = b.post("/wallet/withdraw", {"csrf": csrf, "coin": "BTC", "address": destination, "amount": "0.05"})
        assert status == 400 and "whitelist" in page, page
    assert 'id="available">0.50000000<' in page

    # Turning the whitelist off is a security change: the owner is told, withdrawals pause.
    status, _, _ = b.post("/wallet/whitelist", {"csrf": csrf, "coin": "BTC", "on": "0"})
    assert status == 303
    wait_for("the notice", lambda: any("whitelist was turned off" in text
                                      for text in __import__("test_accounts").outbox_texts(srv)))
    status, page, _ = b.post("/wallet/withdraw", {"csrf": csrf, "coin": "BTC", "address": BTC_DEST, "amount": "0.05"})
    assert status == 403 and "locked" in page, page


def test_hot_wallet_refill_from_cold_needs_two_operator_signatures():
    import json
    import subprocess

    from conftest import BIN

    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-custody-cold-") as data_dir:
        # The default split: at most 2% of custody in the hot wallet, the rest cold.
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0"]).start()
        try:
            trade_at(srv, "BTC/USDT", 30000)
            _, key = user_with_key(srv, "saver@example.com", "read,trade,withdraw", "127.0.0.1")
            ex = client(srv.base, key)
            address = ex.fetch_deposit_address("BTC")["address"]
            srv.admin("chain", "deposit", "--network", "BTC", "--address", address, "--amount", "10")
            srv.admin("chain", "mine", "--network", "BTC", "--blocks", "2")
            wait_for("the credit", lambda: balance(ex, "BTC") == 10)
            srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
            wallets = wait_for("the sweep", lambda: (lambda w: w if float(w["cold"]) > 0 else None)(
                next(w for w in srv.admin("wallets")["wallets"] if w["asset"] == "BTC")))
            assert float(wallets["hot"]) == pytest.approx(0.2) and float(wallets["cold"]) == pytest.approx(9.8)

            # Empty the hot wallet (a drill), so a withdrawal must wait for a refill from cold.
            srv.admin("chain", "steal", "--network", "BTC", "--wallet", "hot", "--amount", "0.2")
            srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
            withdraw_id = ex.withdraw("BTC", 0.05, BTC_DEST)["id"]
            confirm(srv, confirm_link(srv, withdraw_id))
            time.sleep(2)
            assert ex.fetch_withdrawal(withdraw_id, "BTC")["txid"] is None  # waits for a refill

            def run(*args):
                out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
                assert out.returncode == 0, out.stderr + out.stdout
                return out.stdout

            keys = []
            for name in ("alice", "bob", "carol"):
                path = os.path.join(data_dir, f"{name}.key")
                made = json.loads(run("operator", "keygen", "--out", path))
                assert oct(os.stat(path).st_mode & 0o777) == "0o600"
                srv.admin("operator-key", "add", "--name", name, "--public-key", made["public_key"])
                keys.append(path)
            movement = srv.admin("movement", "refill", "--asset", "BTC", "--amount", "1")
            described = os.path.join(data_dir, "movement.txt")
            with open(described, "w") as f:
                f.write(run("admin", "--url", srv.admin_url, "--data-dir", data_dir, "movement", "describe",
                            "--id", str(movement["id"])))

            def signature(key_path, text_path=described):
                path = key_path + ".sig"
                with open(path, "w") as f:
                    f.write(run("operator", "sign", text_path, "--key", key_path))
                return path

            one = srv.admin("movement", "sign", "--id", str(movement["id"]), "--signature-file", signature(keys[0]))
            assert one["signatures"] == 1 and one["state"] == "pending"
            again = srv.admin("movement", "sign", "--id", str(movement["id"]), "--signature-file", signature(keys[0]))
            assert again["signatures"] == 1 and again["state"] == "pending"
            altered = os.path.join(data_dir, "altered.txt")
            with open(altered, "w") as f:
                f.write(open(described).read().replace("amount: 1.00000000", "amount: 9.00000000"))
            with pytest.raises(RuntimeError, match="does not match"):
                srv.admin("movement", "sign", "--id", str(movement["id"]), "--signature-file",
                          signature(keys[1], altered))
            done = srv.admin("movement", "sign", "--id", str(movement["id"]), "--signature-file", signature(keys[1]))
            assert done["signatures"] == 2 and done["state"] == "executed" and done["txid"]

            srv.admin("chain", "mine", "--network", "BTC", "--blocks", "1")
            sent = wait_for("the payout after the refill", lambda: (lambda w: w if w["txid"] else None)(
                ex.fetch_withdrawal(withdraw_id, "BTC")))
            assert sent["address"] == BTC_DEST
            audit = [e["action"] for e in srv.admin("audit", "--limit", "50")["entries"]]
            assert audit.count("movement.sign") == 3 and "movement.propose" in audit

            # A Safeguard payout is proposed only for an approved claim (tests/e2e/test_claims.py).
            with pytest.raises(RuntimeError, match="claim 999 does not exist"):
                srv.admin("movement", "payout", "--claim", "999")
        finally:
            srv.stop()
