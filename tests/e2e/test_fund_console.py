"""The Safeguard fund on the staff console, as treasury staff use it: the fund per asset now,
a new coverage policy version (bad terms refused with the reason, the new caps binding only
claims filed after it while older claims keep theirs), a report published from the page, its
signing request downloaded, signed by the offline seed and the proofs pasted back (a swapped
proof refused whole), a fee-revenue top-up, every action in the audit log under the staff
member's name; staff without fund management are refused."""

import html as html_lib
import json
import os
import subprocess
import tempfile

from conftest import BIN
from test_accounts import call
from test_admin import staff_account
from test_ccxt import client
from test_claims import code, csrv, urllib_get  # noqa: F401
from test_incidents import staff_browser
from test_web import field

BUILT_IN = "2026-12-07.2"


def policy(srv):
    return json.loads(urllib_get(srv, "/transparency/v1/policy"))


def claim_of(srv, token, user):
    queue = call(srv, "GET", "/api/v1/admin/claims", token=token)[1]["claims"]
    return next(c for c in queue if c["user_id"] == user)


def declare_loss(srv, email, title):
    user = srv.admin("user", "create", "--email", email)["user_id"]
    srv.admin("incident", "declare", "--kind", "hot_wallet_breach", "--title", title,
              "--message", "Funds left the USDT hot wallet.", "--users", str(user),
              "--loss", f"{user}:USDT:50")
    return user


def test_treasury_staff_run_the_fund_on_the_console(csrv):
    srv = csrv
    treasury_id, treasury, secret = staff_account(srv, "fund-treasury@example.com", "treasury")
    _, investigator, security_secret = staff_account(srv, "fund-security@example.com", "security")
    # One trade's fees feed the fund and the fee revenue.
    _, seller = srv.funded_user("fund-seller@example.com", {"BTC": "1"})
    _, buyer = srv.funded_user("fund-buyer@example.com", {"USDT": "100000"})
    client(srv.base, seller).create_order("BTC/USDT", "limit", "sell", 1, 30000)
    client(srv.base, buyer).create_order("BTC/USDT", "limit", "buy", 1, 30000)
    ann = declare_loss(srv, "ann-fund@example.com", "USDT hot wallet drained")

    b = staff_browser(srv, "fund-treasury@example.com", secret)
    status, page, _ = b.get("/admin/safeguard")
    assert status == 200 and 'id="fund-USDT"' in page, page
    assert f"{BUILT_IN} <strong>(in force)</strong>" in page
    csrf = field(page, "csrf")

    # A new policy version: bad terms are refused with the reason and publish nothing.
    form = {"csrf": csrf, "per_user_cap_usdt": "10", "per_incident_cap_usdt": "20",
            "note": "Lower caps while the fund is small."}
    for change, message in [({"per_incident_cap_usdt": "5"}, "cannot be below the per-user cap"),
                            ({"per_user_cap_usdt": "0.5"}, "whole number of USDT"),
                            ({"note": "short"}, "say why"),
                            ({"csrf": "0" * 32}, "This form has expired")]:
        status, page, _ = b.post("/admin/safeguard/policy", dict(form, **change))
        assert status in (400, 403) and message in html_lib.unescape(page), (change, status)
    assert [v["version"] for v in policy(srv)["versions"]] == [BUILT_IN]
    status, page, _ = b.post("/admin/safeguard/policy", form)
    assert status == 200 and "applies to claims filed from now on" in page, page
    published = policy(srv)
    version = published["version"]
    assert version != BUILT_IN and (published["per_user_cap_usdt"], published["per_incident_cap_usdt"]) == (10, 20)
    assert [v["version"] for v in published["versions"]] == [BUILT_IN, version]
    assert published["versions"][-1]["note"] == "Lower caps while the fund is small."
    assert f"{version} <strong>(in force)</strong>" in page
    # The operator API refuses the same mistakes with codes.
    out = subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", srv.data_dir, "--json",
                          "safeguard-policy", "--per-user-cap", "0", "--per-incident-cap", "1",
                          "--note", "nothing is covered"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and json.loads(out.stdout)["error"]["code"] == "invalid_cap"

    # A claim filed now is decided under the new caps; the older claim keeps its version's.
    ben = declare_loss(srv, "ben-fund@example.com", "USDT hot wallet drained again")
    ann_claim, ben_claim = claim_of(srv, treasury, ann), claim_of(srv, treasury, ben)
    assert (ann_claim["policy_version"], ben_claim["policy_version"]) == (BUILT_IN, version)
    for claim in (ann_claim, ben_claim):
        for action in ("acknowledge", "investigate"):
            call(srv, "POST", f"/api/v1/admin/claims/{claim['id']}/{action}", {}, token=investigator)
    approve = {"amount": "50", "reason_code": "platform_wallet_breach"}
    refused = call(srv, "POST", f"/api/v1/admin/claims/{ben_claim['id']}/approve", approve, token=treasury)
    assert code(refused) == "over_user_cap" and version in refused[1]["error"]["message"], refused
    approved = call(srv, "POST", f"/api/v1/admin/claims/{ann_claim['id']}/approve", approve, token=treasury)
    assert approved[1]["state"] == "approved", approved

    # A report published from the page; control of its addresses proven by the offline seed.
    status, page, _ = b.post("/admin/safeguard/publish", {"csrf": csrf})
    assert status == 200 and "Report 1 published" in page, page
    status, body, headers = b.get("/admin/safeguard/reports/1/control-request")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    request = json.loads(body)
    assert request["seq"] == 1 and len(request["targets"]) >= 3, request
    with tempfile.TemporaryDirectory() as tmp:
        request_path = os.path.join(tmp, "request.json")
        with open(request_path, "w") as f:
            f.write(body)
        signed = subprocess.run([BIN, "operator", "sign-control", request_path, "--seed",
                                 os.path.join(srv.data_dir, "custody", "master-seed.OFFLINE")],
                                capture_output=True, text=True, timeout=60)
    assert signed.returncode == 0, signed.stderr
    proofs = json.loads(signed.stdout)
    swapped = json.loads(signed.stdout)
    swapped["proofs"][0]["signature"], swapped["proofs"][1]["signature"] = \
        swapped["proofs"][1]["signature"], swapped["proofs"][0]["signature"]
    for text, message in [("not json", "Paste the JSON"), (json.dumps(swapped), swapped["proofs"][0]["address"])]:
        status, page, _ = b.post("/admin/safeguard/reports/1/control", {"csrf": csrf, "proofs": text})
        assert status == 400 and message in html_lib.unescape(page), (message, page)
    assert json.loads(urllib_get(srv, "/transparency/v1/reports/1/control"))["proofs"] == []
    status, page, _ = b.post("/admin/safeguard/reports/1/control", {"csrf": csrf, "proofs": json.dumps(proofs)})
    assert status == 200 and f"Report 1: {len(proofs['proofs'])} new control proofs" in page, page
    assert "BTC 1 of 2 addresses" in page  # the hot wallet; the cold one never signs

    # A top-up from fee revenue: more than there is is refused, a little is added.
    top_up = {"csrf": csrf, "asset": "USDT", "amount": "1000000", "from": "fee_revenue", "note": "console"}
    status, page, _ = b.post("/admin/safeguard/top-up", top_up)
    assert status == 400 and "revenue" in html_lib.unescape(page), page
    status, page, _ = b.post("/admin/safeguard/top-up", dict(top_up, amount="1"))
    assert status == 200 and "The fund was topped up with 1 USDT" in page, page
    assert "fee revenue" in page and "staff:%d" % treasury_id in page

    # Every action is in the audit log under the staff member.
    actions = {(e["actor"], e["action"]) for e in srv.admin("audit", "--limit", "50")["entries"]}
    for action in ("safeguard.policy", "transparency_publish", "safeguard.control_proofs", "safeguard.top_up"):
        assert ("staff:%d" % treasury_id, action) in actions, (action, actions)

    # Staff without fund management see nothing and change nothing.
    other = staff_browser(srv, "fund-security@example.com", security_secret)
    other_csrf = field(other.get("/admin")[1], "csrf")
    assert other.get("/admin/safeguard")[0] == 403
    assert other.post("/admin/safeguard/publish", {"csrf": other_csrf})[0] == 403
    assert other.get("/admin/safeguard/reports/1/control-request")[0] == 403
    assert len(json.loads(urllib_get(srv, "/transparency/v1/reports"))["reports"]) == 1
