"""Prometheus metrics on the admin listener: `/metrics` is refused without the admin token and,
with it, shows what happened through the real binary: orders and a rejected one counted by
kind and outcome, HTTP requests by route group and status with latency histograms, the
acknowledgement and journal-write latency histograms, a wrong password among the login steps,
the pipeline's queues and durable sequence, the argon2 pool, an open WebSocket, and a ledger
check that found every asset balanced; and every metric the Grafana dashboard plots exists."""

import asyncio
import json
import os
import re
import time
import urllib.error
import urllib.request

import aiohttp

from test_accounts import acct, login, signup_verified  # noqa: F401
from test_ccxt import client


def scrape(srv, token):
    request = urllib.request.Request(srv.admin_url + "/metrics")
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, "", e.read().decode()


def value(text, name, **labels):
    """The sample of `name` whose labels include `labels` (None when there is none)."""
    for line in text.splitlines():
        m = re.match(r"^([a-z_0-9]+)(?:\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def test_metrics_count_what_the_exchange_did(acct):
    srv = acct
    token = open(f"{srv.data_dir}/admin.token").read().strip()
    assert scrape(srv, None)[0] == 401
    assert scrape(srv, "0" * 64)[0] == 401

    _, seller = srv.funded_user("m-seller@example.com", {"BTC": "1"})
    _, buyer = srv.funded_user("m-buyer@example.com", {"USDT": "100000"})
    client(srv.base, seller).create_order("BTC/USDT", "limit", "sell", 0.5, 30000)
    client(srv.base, buyer).create_order("BTC/USDT", "limit", "buy", 0.5, 30000)
    try:  # more than the buyer holds: refused by the engine
        client(srv.base, buyer).create_order("BTC/USDT", "limit", "buy", 100, 30000)
    except Exception:  # noqa: BLE001  (CCXT's InsufficientFunds)
        pass
    signup_verified(srv, "m-user@example.com")
    assert login(srv, "m-user@example.com", "not the password")[0] == 401

    async def scrape_while_connected():
        url = srv.base.replace("http://", "ws://") + "/api?protocol=1.1"
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_str("ping")
                assert await ws.receive_str(timeout=10) == "pong"
                return await asyncio.to_thread(scrape, srv, token)

    status, content_type, text = asyncio.run(scrape_while_connected())
    assert status == 200 and content_type.startswith("text/plain"), (status, content_type)
    assert value(text, "bulwark_commands_total", kind="place_order", outcome="accepted") >= 2
    assert value(text, "bulwark_commands_total", kind="place_order", outcome="rejected") >= 1
    assert value(text, "bulwark_commands_total", kind="deposit", outcome="accepted") >= 2
    assert value(text, "bulwark_http_requests_total", group="spot_orders", status="200") >= 2
    assert value(text, "bulwark_http_request_seconds_count", group="spot_orders") >= 2
    assert value(text, "bulwark_http_request_seconds_bucket", group="spot_orders", le="+Inf") >= 2
    assert value(text, "bulwark_ack_seconds_count") >= 3
    assert value(text, "bulwark_journal_commit_seconds_count") >= 1
    assert value(text, "bulwark_journal_durable_seq") >= 5
    assert value(text, "bulwark_sequencer_queue_depth", lane="orders") == 0
    assert value(text, "bulwark_login_steps_total", method="password", result="wrong_password") >= 1
    assert value(text, "bulwark_argon2_queued") == 0
    assert value(text, "bulwark_websocket_connections") == 1

    # Every metric the Grafana dashboard in docs/ plots exists (the ledger's per-asset sums once
    # the first check ran, 5 s after the start).
    deadline = time.time() + 30
    while value(text, "bulwark_ledger_sum", asset="BTC") is None and time.time() < deadline:
        time.sleep(0.5)
        text = scrape(srv, token)[2]
    assert value(text, "bulwark_ledger_sum", asset="BTC") == 0
    assert value(text, "bulwark_ledger_checks_total") >= 1
    assert value(text, "bulwark_ledger_unbalanced_assets") == 0
    dashboard = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "docs",
                                            "grafana-dashboard.json")))
    plotted = {re.sub(r"_bucket$", "", name) for panel in dashboard["panels"]
               for target in panel["targets"] for name in re.findall(r"bulwark_[a-z_0-9]+", target["expr"])}
    present = {line.split("{")[0].split(" ")[0] for line in text.splitlines() if line.startswith("bulwark_")}
    missing = {name for name in plotted if name not in present and f"{name}_bucket" not in present}
    assert not missing, missing
