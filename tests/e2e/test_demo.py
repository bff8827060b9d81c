"""`bulwark serve --demo` for a minute: every market gets a two-sided book, trades and candles
from the demo market maker (which trades through the public API), the ledger stays balanced and
the read models agree with the engine, nothing is logged as a warning or error, and a restart
with `--demo` neither credits the demo users again nor breaks the quoting."""

import json
import os
import tempfile
import time
import urllib.request

from conftest import Server

MARKETS = ["BTC_USDT", "ETH_USDT", "ETH_BTC", "BMX_USDT"]


def get(base, path):
    with urllib.request.urlopen(base + path, timeout=10) as r:
        return json.load(r)["data"]


def market_state(base, symbol):
    book = get(base, f"/spot/quotation/v3/books?symbol={symbol}&limit=5")
    trades = get(base, f"/spot/quotation/v3/trades?symbol={symbol}&limit=50")
    candles = get(base, f"/spot/quotation/v3/klines?symbol={symbol}&step=1")
    return book, trades, candles


def external_totals(srv):
    return {t["asset"]: t["external"] for t in srv.admin("status")["ledger"]}


def problems_in(log_path):
    with open(log_path, "rb") as f:
        text = f.read().decode(errors="replace")
    return [line for line in text.splitlines() if "WARN" in line or "ERROR" in line]


def test_demo_liquidity_runs_for_a_minute_through_the_public_api():
    with tempfile.TemporaryDirectory(prefix="bulwark-demo-") as data_dir:
        # The demo shares the per-IP budget of loopback with this test's reads: keep BitMart's.
        srv = Server(data_dir, extra_args=["--demo"], api_rate_scale=1).start()
        try:
            started = time.monotonic()
            while time.monotonic() - started < 60:
                time.sleep(5)
            for symbol in MARKETS:
                book, trades, candles = market_state(srv.base, symbol)
                assert book["bids"] and book["asks"], (symbol, book)
                assert float(book["bids"][0][0]) < float(book["asks"][0][0]), (symbol, book)
                assert len(trades) >= 3, (symbol, trades)
                assert candles, symbol
            status = srv.admin("status")
            assert all(t["sum"] == "0" or t["sum"] == 0 for t in status["ledger"]), status["ledger"]
            check = srv.admin("consistency")
            assert check["consistent"] is True, check["problems"]
            assert problems_in(os.path.join(data_dir, "server.log")) == []
            seeded = external_totals(srv)

            srv.stop()
            srv.start()
            time.sleep(12)
            assert external_totals(srv) == seeded, "a restart credits the demo users nothing again"
            before = {s: market_state(srv.base, s)[1][0] for s in MARKETS}
            time.sleep(12)
            moved = [s for s in MARKETS if market_state(srv.base, s)[1][0] != before[s]]
            assert moved, "the demo keeps trading after a restart"
            assert problems_in(os.path.join(data_dir, "server.log")) == []
        finally:
            srv.stop()
