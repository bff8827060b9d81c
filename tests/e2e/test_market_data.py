"""Candles through the unmodified ccxt 4.5.70 `bitmart` client (`fetch_ohlcv`), BitMart's
klines paging (`after`/`before`/`limit`), the same candles after a SIGKILL and restart, and every
bad kline request refused with its own code."""

import time

import ccxt
import pytest
import requests

from test_ccxt import client


def trade(maker, taker, price, amount):
    maker.create_order("BTC/USDT", "limit", "sell", amount, price)
    taker.create_order("BTC/USDT", "limit", "buy", amount, price)


def test_fetch_ohlcv_follows_the_trades_and_survives_a_crash(server):
    _, mk = server.funded_user("ohlc-m@example.com", {"BTC": "5", "USDT": "500000"})
    _, tk = server.funded_user("ohlc-t@example.com", {"BTC": "5", "USDT": "500000"})
    maker, taker = client(server.base, mk), client(server.base, tk)
    maker.load_markets()
    taker.markets = maker.markets
    assert maker.fetch_ohlcv("BTC/USDT", "1m") == []
    started_ms = int(time.time() * 1000)
    for price, amount in [(30000, 0.1), (30500, 0.2), (29800, 0.05), (30100, 0.3)]:
        trade(maker, taker, price, amount)

    for timeframe in ["1m", "15m", "1h", "1d", "1w", "1M"]:
        candles = maker.fetch_ohlcv("BTC/USDT", timeframe)
        assert len(candles) in (1, 2), (timeframe, candles)  # two if a minute boundary passed
        opened, high, low, closed = (candles[0][1], max(c[2] for c in candles),
                                     min(c[3] for c in candles), candles[-1][4])
        volume = sum(c[5] for c in candles)
        assert (opened, high, low, closed) == (30000, 30500, 29800, 30100), (timeframe, candles)
        assert volume == pytest.approx(0.65), (timeframe, candles)
    day = maker.fetch_ohlcv("BTC/USDT", "1d")[-1]
    assert day[0] == started_ms // 86_400_000 * 86_400_000, "a day opens at 00:00 UTC"

    # `since` pages forwards: ccxt sends after = since/1000 - 1, so the candle opening at
    # `since` is the first one returned; a later `since` returns nothing.
    first = maker.fetch_ohlcv("BTC/USDT", "1d", since=day[0])
    assert first[0][0] == day[0]
    assert maker.fetch_ohlcv("BTC/USDT", "1d", since=day[0] + 86_400_000) == []

    before = {tf: maker.fetch_ohlcv("BTC/USDT", tf) for tf in ["1m", "1h", "1M"]}
    server.kill()
    server.start()
    maker = client(server.base, mk)
    for tf, candles in before.items():
        assert maker.fetch_ohlcv("BTC/USDT", tf) == candles, tf
    trade(client(server.base, mk), client(server.base, tk), 31000, 0.01)
    after = maker.fetch_ohlcv("BTC/USDT", "1M")
    assert after[-1][2] == 31000 and after[-1][4] == 31000
    assert after[-1][5] == pytest.approx(0.66), "counted once, the replay added nothing"


def test_bad_kline_requests_get_their_own_codes(server):
    url = server.base + "/spot/quotation/v3/klines"
    for params, code in [
        ({}, 70001),
        ({"symbol": "NOPE_USDT"}, 70002),
        ({"symbol": "BTC_USDT", "step": "7"}, 71005),
        ({"symbol": "BTC_USDT", "step": "1m"}, 71005),
        ({"symbol": "BTC_USDT", "limit": "0"}, 71004),
        ({"symbol": "BTC_USDT", "limit": "201"}, 71004),
        ({"symbol": "BTC_USDT", "after": "-5"}, 71001),
        ({"symbol": "BTC_USDT", "before": "soon"}, 71002),
        ({"symbol": "BTC_USDT", "after": "1700000000", "before": "1600000000"}, 71003),
        ({"symbol": "BTC_USDT", "after": "1700000000", "before": "1700000000"}, 71003),
    ]:
        answer = requests.get(url, params=params, timeout=10)
        body = answer.json()
        assert answer.status_code == 400 and body["code"] == code, (params, body)
        assert body["message"], params
    ok = requests.get(server.base + "/spot/quotation/v3/lite-klines",
                      params={"symbol": "BTC_USDT", "step": "43200", "limit": "200"}, timeout=10)
    assert ok.status_code == 200 and ok.json()["data"] == []
