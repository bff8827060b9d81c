"""Safeguard claims end to end: a user files a claim for a loss through the account API (the
account from the session); every bad filing gets a specific code and records nothing; staff
acknowledge, investigate, ask for information, and decide under the published policy with the
investigator never deciding and the claimant never reviewing; a payout above the fund is refused;
an approved claim is paid from the fund through the operators' 2-of-3 payout movement, exactly
once; a rejection may be appealed once; every step is in the claim's timeline and the audit log."""

import base64
import glob
import json
import os
import re
import subprocess
import tempfile
import time

import pytest

import ccxt  # noqa: F401

from conftest import BIN, Server
from test_accounts import acct, call, error_code, signup_verified, login  # noqa: F401
from test_admin import staff_account
from test_ccxt import client
from test_custody import TRON_DEST, confirm, confirm_link, funded_by_chain, wait_for


@pytest.fixture
def csrv(monkeypatch):
    """The test clock (staff log in with TOTP) and the simulated chains mining on command, with
    deposits swept to the hot wallet, so withdrawals really leave."""
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-claims-") as data_dir:
        clock = os.path.join(data_dir, "clock-offset-ms")
        with open(clock, "w") as f:
            f.write("0")
        monkeypatch.setenv("BULWARK_TEST_CLOCK_FILE", clock)
        config = os.path.join(data_dir, "bulwark.toml")
        with open(config, "w") as f:
            f.write('[insurer]\nname = "Harbour Mutual"\npolicy_id = "HM-2026-17"\n'
                    'limit_usdt = 1000\ndeductible_usdt = 1\n')
        srv = Server(data_dir, extra_args=["--sim-block-ms", "0", "--hot-share-bps", "10000",
                                           "--report-interval-hours", "0", "--config", config]).start()
        srv.clock_file = clock
        srv.offset_ms = 0
        try:
            yield srv
        finally:
            srv.stop()


def bulwark(*args):
    out = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr + out.stdout
    return out.stdout


def operator_keys(srv):
    """Three operator keys made offline and registered; answers their secret files."""
    keys = []
    for name in ("op1", "op2", "op3"):
        path = os.path.join(srv.data_dir, f"{name}.key")
        made = json.loads(bulwark("operator", "keygen", "--out", path))
        srv.admin("operator-key", "add", "--name", name, "--public-key", made["public_key"])
        keys.append(path)
    return keys


def sign_movement(srv, movement_id, key_path):
    """One operator signs a movement's description offline and sends the signature."""
    described = os.path.join(srv.data_dir, f"movement-{movement_id}.txt")
    with open(described, "w") as f:
        f.write(bulwark("admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "movement", "describe",
                        "--id", str(movement_id)))
    sig = f"{key_path}.{movement_id}.sig"
    with open(sig, "w") as f:
        f.write(bulwark("operator", "sign", described, "--key", key_path))
    return subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "movement", "sign",
                           "--id", str(movement_id), "--signature-file", sig], capture_output=True, text=True, timeout=60)


def user_session(srv, email):
    signup_verified(srv, email)
    status, body, _ = login(srv, email)
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    return call(srv, "GET", "/api/v1/me", token=token)[1]["user_id"], token


def code(result):
    return error_code(result)


def test_claim_from_filing_to_payout(csrv):
    srv = csrv
    claimant, token = user_session(srv, "claimant@example.com")
    other, other_token = user_session(srv, "other@example.com")
    _, investigator, _ = staff_account(srv, "investigator@example.com", "security")
    _, decider, _ = staff_account(srv, "decider@example.com", "treasury")
    _, support, _ = staff_account(srv, "support@example.com", "support")

    # The claimant trades (fees feed the fund) and withdraws twice (the losses claimed).
    srv.admin("user", "kyc-tier", "--user", str(claimant), "--tier", "L1")
    key = srv.admin("apikey", "create", "--user", str(claimant), "--scopes", "read,trade,withdraw", "--ip", "127.0.0.1")
    srv.admin("deposit", "credit", "--user", str(claimant), "--asset", "BTC", "--amount", "1", "--ref", "c-BTC")
    _, buyer_key = srv.funded_user("buyer@example.com", {"USDT": "100000"})
    ex, bx = client(srv.base, key), client(srv.base, buyer_key)
    funded_by_chain(srv, ex, "USDT", "TRC20", "500", 19)
    ex.create_order("BTC/USDT", "limit", "sell", 0.5, 30000)
    bx.create_order("BTC/USDT", "limit", "buy", 0.5, 30000)
    wait_for("the trade", lambda: bx.fetch_balance().get("BTC", {}).get("free", 0))
    first = ex.withdraw("USDT", 40, TRON_DEST)["id"]
    second = ex.withdraw("USDT", 30, TRON_DEST)["id"]
    waiting = ex.withdraw("USDT", 20, TRON_DEST)["id"]  # never confirmed: nothing lost through it
    for withdraw_id in (first, second):
        confirm(srv, confirm_link(srv, withdraw_id))
        wait_for("the broadcast", lambda: ex.fetch_withdrawal(withdraw_id, "USDT")["txid"])
    now_ms = int(time.time() * 1000) + srv.offset_ms
    base = {"category": "unauthorized_withdrawal", "description": "Two withdrawals I never made left my account.",
            "asset": "USDT", "amount": "40", "withdrawal_ids": [int(first)],
            "window_from_ms": now_ms - 3_600_000, "window_to_ms": now_ms - 1}

    def file(**changes):
        return call(srv, "POST", "/api/v1/claims", dict(base, **changes), token=token)

    # Bad filings: a specific code each, nothing recorded.
    assert code(file(category="bad luck")) == "invalid_category"
    assert code(file(description="short")) == "invalid_text"
    assert code(file(asset="NOPE")) == "unknown_asset"
    assert code(file(amount="-3")) == "invalid_amount"
    assert code(file(amount="1.000000001")) == "invalid_amount"
    assert code(file(window_to_ms=now_ms + 86_400_000)) == "invalid_window"
    assert code(file(incident_id=999)) == "incident_not_found"
    assert code(file(amount="40.01")) == "amount_over_loss"
    assert code(file(amount="1", withdrawal_ids=[int(waiting)])) == "withdrawal_not_sent"
    assert code(file(asset="BTC", amount="0.1")) == "not_your_withdrawal"  # a USDT withdrawal
    other_claim = call(srv, "POST", "/api/v1/claims", base, token=other_token)
    assert code(other_claim) == "not_your_withdrawal", "a claim on another account's withdrawal"
    assert call(srv, "GET", "/api/v1/claims", token=token)[1]["claims"] == []
    assert call(srv, "POST", "/api/v1/claims", base)[0] == 401

    status, big, _ = file()
    assert status == 200 and big["state"] == "submitted" and big["claimed"] == "40.00000000", big
    assert big["policy_version"] == json.loads(urllib_get(srv, "/transparency/v1/policy"))["version"]
    assert code(file(amount="1")) == "duplicate_claim"
    status, small, _ = file(amount="0.01", withdrawal_ids=[int(second)])
    assert status == 200
    # Nobody else sees a claim.
    assert call(srv, "GET", f"/api/v1/claims/{big['id']}", token=other_token)[0] == 404

    # Evidence: PNG, JPEG or PDF by the first bytes, at most 5 MiB and 5 files, sealed at rest.
    marker = b"bulwark-evidence-marker-7f3a"
    pdf = b"%PDF-1.4\n% " + marker + b"\n" + b"0" * 1000

    def upload(name, data, token_=token, claim=big["id"]):
        return call(srv, "POST", f"/api/v1/claims/{claim}/evidence",
                    {"name": name, "content_base64": base64.b64encode(data).decode()}, token=token_)

    assert code(upload("notes.txt", b"just text")) == "invalid_evidence_type"
    assert code(upload("huge.pdf", b"%PDF-" + b"0" * (5 * 1024 * 1024))) == "evidence_too_large"
    assert code(upload("a/b.pdf", pdf)) == "invalid_name"
    assert code(call(srv, "POST", f"/api/v1/claims/{big['id']}/evidence",
                     {"name": "x.pdf", "content_base64": "***"}, token=token)) == "invalid_base64"
    assert upload("statement.pdf", pdf, other_token)[0] == 404, "another account's claim"
    assert call(srv, "GET", f"/api/v1/claims/{big['id']}", token=token)[1]["evidence"] == []
    status, with_file, _ = upload("statement.pdf", pdf)
    assert status == 200, with_file
    assert [(e["name"], e["content_type"], e["size_bytes"]) for e in with_file["evidence"]] == [
        ("statement.pdf", "application/pdf", len(pdf))]
    for i in range(4):
        assert upload(f"screen-{i}.png", b"\x89PNG\r\n\x1a\n" + bytes([i]) * 64)[0] == 200
    assert code(upload("sixth.pdf", pdf)) == "too_much_evidence"
    assert len(call(srv, "GET", f"/api/v1/claims/{big['id']}", token=token)[1]["evidence"]) == 5
    stored = b"".join(open(path, "rb").read() for path in glob.glob(os.path.join(srv.data_dir, "bulwark.db*")))
    assert stored and marker not in stored, "evidence is sealed before it reaches the store"

    def act(token_, claim, action, **body):
        return call(srv, "POST", f"/api/v1/admin/claims/{claim}/{action}", body, token=token_)

    refused = act(support, big["id"], "acknowledge")
    assert refused[0] == 403 and code(refused) == "staff_role_required"
    for claim in (big, small):
        assert act(investigator, claim["id"], "acknowledge")[1]["state"] == "acknowledged"
        assert act(investigator, claim["id"], "investigate")[1]["state"] == "investigating"
    assert code(act(investigator, big["id"], "acknowledge")) == "wrong_state"
    asked = act(investigator, big["id"], "request_info", note="Which device do you use to log in?")
    assert asked[1]["state"] == "needs_info"
    assert code(call(srv, "POST", f"/api/v1/claims/{big['id']}/appeal", {"message": "x"}, token=token)) == "wrong_state"
    replied = call(srv, "POST", f"/api/v1/claims/{big['id']}/reply", {"message": "Only my phone."}, token=token)
    assert replied[1]["state"] == "investigating" and replied[1]["timeline"][-1]["note"] == "Only my phone."
    # The claimant sees "staff", never which staff member acted.
    assert {t["actor"] for t in replied[1]["timeline"]} == {f"user:{claimant}", "staff"}
    # Staff who review claims download the file as it was sent; others cannot.
    evidence_id = with_file["evidence"][0]["id"]
    from test_admin import raw_get
    status, body, headers = raw_get(srv, f"/api/v1/admin/claims/{big['id']}/evidence/{evidence_id}", decider)
    assert status == 200 and body == pdf and headers["Content-Type"] == "application/pdf"
    assert "attachment" in headers["Content-Disposition"]
    assert raw_get(srv, f"/api/v1/admin/claims/{big['id']}/evidence/{evidence_id}", support)[0] == 403
    assert raw_get(srv, f"/api/v1/admin/claims/{big['id']}/evidence/999999", decider)[0] == 404
    status, view, _ = call(srv, "GET", f"/api/v1/admin/claims/{big['id']}", token=decider)
    assert status == 200 and {w["id"] for w in view["investigation"]["withdrawals"]} >= {int(first), int(second)}
    assert view["investigation"]["logins"], "the claimant's logins around the loss"

    # Decisions: never by the investigator, within the claim, with a reason of the right kind.
    assert code(act(investigator, big["id"], "approve", amount="40", reason_code="platform_wallet_breach")) == "investigator_decides"
    assert code(act(decider, big["id"], "approve", amount="40.5", reason_code="platform_wallet_breach")) == "amount_over_claim"
    assert code(act(decider, big["id"], "approve", amount="40", reason_code="wrong_address")) == "reason_not_covered"
    assert code(act(decider, big["id"], "reject", reason_code="insider_theft")) == "reason_covered"
    assert code(act(decider, big["id"], "approve", amount="40", reason_code="made_up")) == "invalid_reason_code"
    approved = act(decider, big["id"], "approve", amount="40", reason_code="platform_wallet_breach")
    assert approved[1]["state"] == "approved" and approved[1]["approved"] == "40.00000000"
    # The fund holds its share of the trade's fees, far less than 40 USDT.
    too_much = act(decider, big["id"], "pay")
    assert too_much[0] == 400 and code(too_much) == "fund_insufficient", too_much
    # The operator's payout goes through the same claim rules.
    with pytest.raises(RuntimeError, match="Safeguard fund holds"):
        srv.admin("movement", "payout", "--claim", str(big["id"]))
    with pytest.raises(RuntimeError, match="investigating"):
        srv.admin("movement", "payout", "--claim", str(small["id"]))
    assert act(decider, small["id"], "approve", amount="0.01", reason_code="platform_failure")[1]["state"] == "approved"
    pending = act(decider, small["id"], "pay")[1]
    assert pending["state"] == "payout_pending" and pending["movement_id"]

    # The operators sign the payout movement (2 of 3); it pays once.
    keys = operator_keys(srv)
    before = balances(srv, claimant)["USDT"]
    for key_path in keys[:2]:
        assert sign_movement(srv, pending["movement_id"], key_path).returncode == 0
    paid = call(srv, "GET", f"/api/v1/claims/{small['id']}", token=token)[1]
    assert paid["state"] == "paid", paid
    assert round(balances(srv, claimant)["USDT"] - before, 8) == 0.01
    # A third signature after execution is refused and changes nothing.
    late = sign_movement(srv, pending["movement_id"], keys[2])
    assert late.returncode != 0 and round(balances(srv, claimant)["USDT"] - before, 8) == 0.01, late.stdout
    assert act(decider, small["id"], "close")[1]["state"] == "closed"
    # The signed report counts the claims and lists the payout.
    srv.admin("transparency", "publish")
    report = json.loads(urllib_get(srv, "/transparency/v1/reports/1"))
    stats = report["claims"]
    assert (stats["filed"], stats["approved"], stats["paid"]) == (2, 2, 1), stats
    assert stats["payouts"] == [{"claim_id": small["id"], "incident_id": None, "asset": "USDT",
                                 "amount": "1000000", "paid_ms": stats["payouts"][0]["paid_ms"]}]
    assert stats["median_decision_ms"] is not None

    # The loss is recovered: staff take the payout back into the fund, once, never more than paid.
    assert code(act(decider, small["id"], "clawback", amount="0.02", note="Recovered from the thief.")) == "amount_over_payout"
    assert code(act(decider, small["id"], "clawback", amount="0.01")) == "invalid_text"
    assert code(act(decider, big["id"], "clawback", amount="1", note="x")) == "wrong_state"
    taken = act(decider, small["id"], "clawback", amount="0.01", note="Recovered from the thief.")
    assert taken[0] == 200 and "went back to the Safeguard fund" in taken[1]["timeline"][-1]["note"], taken
    assert round(balances(srv, claimant)["USDT"] - before, 8) == 0
    assert code(act(decider, small["id"], "clawback", amount="0.01", note="Again")) == "already_clawed_back"
    assert wait_for("the clawback email", lambda: glob.glob(os.path.join(srv.data_dir, "outbox", "*claim_update*")))
    srv.admin("transparency", "publish")
    report = json.loads(urllib_get(srv, "/transparency/v1/reports/2"))
    assert [(c["claim_id"], c["amount"]) for c in report["claims"]["clawbacks"]] == [(small["id"], "1000000")]

    # A rejection, one appeal, a second rejection, no second appeal.
    status, third, _ = call(srv, "POST", "/api/v1/claims", dict(base, amount="1", withdrawal_ids=[], category="other",
                                                                 description="I clicked a link in an email and lost funds."), token=token)
    assert status == 200
    act(investigator, third["id"], "acknowledge")
    act(investigator, third["id"], "investigate")
    assert act(decider, third["id"], "reject", reason_code="user_phishing_or_malware")[1]["state"] == "rejected"
    appealed = call(srv, "POST", f"/api/v1/claims/{third['id']}/appeal", {"message": "The link was on your site."}, token=token)
    assert appealed[1]["state"] == "appealed"
    act(investigator, third["id"], "investigate")
    act(decider, third["id"], "reject", reason_code="insufficient_evidence", note="The link was not ours.")
    assert code(call(srv, "POST", f"/api/v1/claims/{third['id']}/appeal", {"message": "Again"}, token=token)) == "appeal_used"
    timeline = call(srv, "GET", f"/api/v1/claims/{third['id']}", token=token)[1]["timeline"]
    assert [t["to"] for t in timeline] == ["submitted", "acknowledged", "investigating", "rejected", "appealed", "investigating", "rejected"]
    audit = [e["action"] for e in srv.admin("audit", "--limit", "200")["entries"]]
    assert {"claim.acknowledge", "claim.investigate", "claim.approve", "claim.reject", "claim.pay", "claim.close",
            "claim.view", "claim.evidence_view", "claim.clawback"} <= set(audit)


def urllib_get(srv, path):
    import urllib.request
    with urllib.request.urlopen(srv.base + path, timeout=30) as r:
        return r.read()


def balances(srv, user):
    rows = srv.admin("balances", "--user", str(user))["balances"]
    return {r["asset"]: float(r["available"]) + float(r["held"]) for r in rows}


def test_a_short_fund_pays_an_incidents_claims_the_same_share(csrv):
    srv = csrv
    _, investigator, _ = staff_account(srv, "inv-share@example.com", "security")
    _, decider, _ = staff_account(srv, "dec-share@example.com", "treasury")
    # One trade's fees feed the fund; report 1 says how much USDT it holds.
    _, seller = srv.funded_user("seller@example.com", {"BTC": "1"})
    _, buyer = srv.funded_user("buyer@example.com", {"USDT": "100000"})
    client(srv.base, seller).create_order("BTC/USDT", "limit", "sell", 1, 30000)
    client(srv.base, buyer).create_order("BTC/USDT", "limit", "buy", 1, 30000)
    srv.admin("transparency", "publish")
    fund_asset = json.loads(urllib_get(srv, "/transparency/v1/reports/1"))["safeguard"]["assets"]["USDT"]
    scale, fund = fund_asset["scale"], int(fund_asset["balance"])
    assert fund > 0
    # Two users each lost as much as the fund holds: together twice the fund.
    loss = f"{fund / 10 ** scale:.{scale}f}"
    users = [srv.admin("user", "create", "--email", f"{n}@example.com")["user_id"] for n in ("ann", "ben")]
    srv.admin("incident", "declare", "--kind", "hot_wallet_breach", "--title", "USDT hot wallet drained",
              "--message", "Funds left the USDT hot wallet.", "--users", ",".join(map(str, users)),
              *[a for u in users for a in ("--loss", f"{u}:USDT:{loss}")])
    queue = call(srv, "GET", "/api/v1/admin/claims", token=decider)[1]["claims"]
    claims = [c["id"] for c in queue if c["user_id"] in users]
    assert len(claims) == 2

    def act(token_, claim, action, **body):
        return call(srv, "POST", f"/api/v1/admin/claims/{claim}/{action}", body, token=token_)

    for claim in claims:
        act(investigator, claim, "acknowledge")
        act(investigator, claim, "investigate")
    # Contributory negligence approves the platform's share only, never the full claim.
    assert code(act(decider, claims[0], "approve", amount=loss, reason_code="contributory_negligence")) == "amount_not_reduced"
    for claim in claims:
        assert act(decider, claim, "approve", amount=loss, reason_code="platform_wallet_breach")[1]["state"] == "approved"
    # Each is paid the same half, whichever is paid first, and together no more than the fund.
    paid = []
    for claim in claims:
        status, view, _ = act(decider, claim, "pay")
        assert status == 200 and view["state"] == "payout_pending", view
        assert "50.00 % of the approved amount" in view["timeline"][-1]["note"], view["timeline"][-1]
        movement = srv.admin("movement", "describe", "--id", str(view["movement_id"]))
        paid.append(movement["amount"])
    assert paid[0] == paid[1] and float(paid[0]) * 2 <= fund / 10 ** scale, (paid, fund)

    # The half the fund could not pay goes to the configured insurer, once it is paid.
    assert code(act(decider, claims[0], "insurer_submit")) == "wrong_state"
    keys = operator_keys(srv)
    movements = [call(srv, "GET", f"/api/v1/admin/claims/{c}", token=decider)[1]["claim"]["movement_id"] for c in claims]
    for movement in movements:
        for key_path in keys[:2]:
            assert sign_movement(srv, movement, key_path).returncode == 0
    assert code(act(decider, claims[0], "insurer_accept")) == "not_submitted"
    status, view, _ = act(decider, claims[0], "insurer_submit")
    assert status == 200 and view["state"] == "paid", view
    submitted = view["insurer"]
    uncovered = float(loss) - float(paid[0])  # 1 USDT per USDT
    assert (submitted["insurer"], submitted["policy_id"], submitted["status"]) == ("Harbour Mutual", "HM-2026-17", "submitted")
    assert abs(float(submitted["uncovered_usdt"]) - uncovered) < 1e-6
    assert abs(float(submitted["requested_usdt"]) - max(uncovered - 1, 0)) < 1e-6, submitted
    assert code(act(decider, claims[0], "insurer_submit")) == "already_submitted"
    assert code(act(decider, claims[0], "insurer_paid")) == "wrong_state"
    assert act(decider, claims[0], "insurer_accept")[1]["insurer"]["status"] == "accepted"
    assert code(act(decider, claims[0], "insurer_deny")) == "wrong_state"
    assert act(decider, claims[0], "insurer_paid")[1]["insurer"]["status"] == "paid"
    act(decider, claims[1], "insurer_submit")
    assert act(decider, claims[1], "insurer_deny", note="Outside the policy period.")[1]["insurer"]["status"] == "denied"
    policy = json.loads(urllib_get(srv, "/transparency/v1/policy"))
    assert policy["insurer"]["name"] == "Harbour Mutual" and policy["insurer"]["deductible_usdt"] == 1
    srv.admin("transparency", "publish")
    listed = json.loads(urllib_get(srv, "/transparency/v1/reports/2"))["claims"]["insurer_submissions"]
    assert [(i["claim_id"], i["status"]) for i in listed] == [(claims[0], "paid"), (claims[1], "denied")]
    policy = json.loads(urllib_get(srv, "/transparency/v1/policy"))
    assert policy["per_incident_cap_usdt"] == 10_000_000
    assert "contributory_negligence" in [c["code"] for c in policy["covered"]]


def test_claims_pages_file_follow_reply_and_appeal(acct):
    import html as html_lib
    from test_web import Browser, field, login_page, signup_and_verify
    srv = acct
    b = Browser(srv)
    signup_and_verify(b, "pages@example.com")
    login_page(b, "pages@example.com")
    status, page, _ = b.get("/claims")
    assert status == 200 and "What is covered" in page and "platform_wallet_breach" in page and 'id="nav-claims"' in page
    csrf = field(page, "csrf")
    form = {"csrf": csrf, "category": "platform_error", "description": "An order filled twice and took my USDT.",
            "asset": "USDT", "amount": "12.5", "withdrawal_ids": "", "incident_id": "",
            "window_from": "2026-12-01T10:00", "window_to": "2026-12-01T11:00"}
    # Bad input: a clear message on the page, nothing filed.
    for change, message in [({"csrf": "0" * 32}, "This form has expired"),
                            ({"amount": "lots"}, "amount must be a positive USDT amount"),
                            ({"withdrawal_ids": "abc"}, "is not a withdrawal id"),
                            ({"window_from": "yesterday"}, "Give the time window"),
                            ({"description": "short"}, "description must be")]:
        status, page, _ = b.post("/claims", dict(form, **change))
        assert status in (400, 403) and message in html_lib.unescape(page), (change, status)
    assert "You have not filed a claim." in b.get("/claims")[1]
    status, _, headers = b.post("/claims", form)
    assert status == 303, status
    claim_path = headers["Location"]
    status, page, _ = b.get(claim_path)
    assert status == 200 and 'id="claim-state">submitted' in page and "12.50000000" in page
    claim_id = int(claim_path.rsplit("/", 1)[1])
    # Evidence from the page: a multipart upload with the form's token, kept encrypted.
    import urllib.error
    import urllib.request
    from test_kyc_regions import multipart
    assert 'id="evidence-form"' in page

    def attach(fields, files):
        content_type, body = multipart(fields, files)
        headers = {"Content-Type": content_type, "Sec-Fetch-Site": "same-origin",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in b.cookies.items())}
        req = urllib.request.Request(srv.base + f"{claim_path}/evidence", data=body, method="POST", headers=headers)
        try:
            r = b.opener.open(req, timeout=30)
        except urllib.error.HTTPError as e:
            r = e
        return r.status, r.read().decode()

    pdf = b"%PDF-1.4\n% a statement\n"
    status, page = attach({"csrf": "0" * 32}, {"file": ("statement.pdf", pdf)})
    assert status == 403 and "This form has expired" in html_lib.unescape(page)
    status, page = attach({"csrf": csrf}, {"file": ("notes.txt", b"plain text")})
    assert status == 400 and "PNG or JPEG image or a PDF" in html_lib.unescape(page), page
    status, _ = attach({"csrf": csrf}, {"file": ("statement.pdf", pdf)})
    assert status == 303
    # A file of megabytes passes the page's upload limit (pages otherwise read 16 KiB forms).
    scan = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * 1024 * 1024)
    status, _ = attach({"csrf": csrf}, {"file": ("scan.png", scan)})
    assert status == 303
    status, page, _ = b.get(claim_path)
    assert "statement.pdf" in page and f"{len(pdf)} bytes" in page and f"{len(scan)} bytes" in page
    # Staff ask for information; the user answers on the page.
    _, investigator, _ = staff_account(srv, "inv@example.com", "security")
    _, decider, _ = staff_account(srv, "dec@example.com", "treasury")
    for action in ("acknowledge", "investigate"):
        call(srv, "POST", f"/api/v1/admin/claims/{claim_id}/{action}", {}, token=investigator)
    call(srv, "POST", f"/api/v1/admin/claims/{claim_id}/request_info", {"note": "Which order?"}, token=investigator)
    status, page, _ = b.get(claim_path)
    assert 'id="reply-form"' in page and "Which order?" in page
    status, _, _ = b.post(f"{claim_path}/reply", {"csrf": csrf, "message": "Order 42."})
    assert status == 303
    call(srv, "POST", f"/api/v1/admin/claims/{claim_id}/reject", {"reason_code": "insufficient_evidence"}, token=decider)
    page = b.get(claim_path)[1]
    assert 'id="appeal-form"' in page and "Rejected under insufficient_evidence" in page
    assert b.post(f"{claim_path}/appeal", {"csrf": csrf, "message": "Here is the fill id."})[0] == 303
    page = b.get(claim_path)[1]
    assert 'id="claim-state">appealed' in page and 'id="appeal-form"' not in page
    # Someone else's claim is not shown.
    other = Browser(srv)
    signup_and_verify(other, "nosy@example.com")
    login_page(other, "nosy@example.com")
    assert other.get(claim_path)[0] == 404


def test_staff_decide_claims_on_the_console_pages(csrv):
    from test_accounts import advance, server_now_s, totp
    from test_web import Browser, confirm_if_asked, field, login_page
    srv = csrv
    claimant, token = user_session(srv, "paged@example.com")
    _, investigator, _ = staff_account(srv, "inv-pages@example.com", "security")
    decider_id, _, secret = staff_account(srv, "dec-pages@example.com", "treasury")
    now_ms = int(time.time() * 1000) + srv.offset_ms
    status, claim, _ = call(srv, "POST", "/api/v1/claims", {
        "category": "platform_error", "description": "An order filled twice and took my USDT.",
        "asset": "USDT", "amount": "12.5", "withdrawal_ids": [],
        "window_from_ms": now_ms - 3_600_000, "window_to_ms": now_ms - 1}, token=token)
    assert status == 200, claim
    pdf = b"%PDF-1.4\n% order statement\n"
    call(srv, "POST", f"/api/v1/claims/{claim['id']}/evidence",
         {"name": "statement.pdf", "content_base64": base64.b64encode(pdf).decode()}, token=token)
    for action in ("acknowledge", "investigate"):
        call(srv, "POST", f"/api/v1/admin/claims/{claim['id']}/{action}", {}, token=investigator)

    # The treasury staff member signs in on the pages with TOTP.
    b = Browser(srv)
    advance(srv, 30 * 1000)
    status, page, _ = login_page(b, "dec-pages@example.com")
    status, page, headers = b.post("/login/2fa", {"pre_auth_token": field(page, "pre_auth_token"), "method": "totp",
                                                  "code": totp(secret, server_now_s(srv))})
    confirm_if_asked(b, status, page, headers)
    status, page, _ = b.get("/admin")
    assert status == 200 and 'id="claims-link"' in page
    status, page, _ = b.get("/admin/claims?state=investigating")
    assert status == 200 and f'id="claim-row-{claim["id"]}"' in page, page
    status, page, _ = b.get(f"/admin/claims/{claim['id']}")
    assert status == 200 and 'id="action-approve"' in page and 'id="action-reject"' in page
    assert "statement.pdf" in page and 'id="no-flags"' in page
    link = re.search(r'href="(/admin/claims/\d+/evidence/\d+)"', page).group(1)
    status, body, headers = b.get(link)
    assert status == 200 and body == pdf.decode() and headers["Content-Type"] == "application/pdf"
    csrf = field(page, "csrf")
    form = {"amount": "12.5", "reason_code": "platform_failure", "note": "Matched the double fill."}
    status, page, _ = b.post(f"/admin/claims/{claim['id']}/approve", dict(form, csrf="0" * 32))
    assert status == 403 and "This form has expired" in page
    status, page, _ = b.post(f"/admin/claims/{claim['id']}/approve", dict(form, amount="13", csrf=csrf))
    assert status == 400 and "cannot exceed the amount claimed" in page
    status, page, _ = b.post(f"/admin/claims/{claim['id']}/approve", dict(form, csrf=csrf))
    assert status == 200 and f"Claim {claim['id']} is now approved" in page, page
    assert 'id="action-pay"' in page
    timeline = call(srv, "GET", f"/api/v1/claims/{claim['id']}", token=token)[1]["timeline"]
    assert timeline[-1]["to"] == "approved" and "Matched the double fill." in timeline[-1]["note"]
    audit = srv.admin("audit", "--limit", "50")["entries"]
    assert any(e["action"] == "claim.approve" and e["actor"] == f"staff:{decider_id}" for e in audit)
    # Someone without claim review sees no queue.
    other = Browser(srv)
    signup_verified(srv, "nobody@example.com")
    login_page(other, "nobody@example.com")
    assert other.get("/admin/claims")[0] == 403
