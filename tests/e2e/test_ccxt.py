"""The unmodified ccxt 4.5.70 `bitmart` client trading against a real Bulwark server: the full
cycle with two users, fees, cancels, errors as ccxt raises them, and a crash in the middle."""

import ccxt
import pytest


def client(base, key):
    return ccxt.bitmart({"apiKey": key["access_key"], "secret": key["secret"], "uid": key["memo"],
                         "urls": {"api": {"spot": base, "swap": base}}, "timeout": 30000})


def test_full_trade_cycle(server):
    _, mk = server.funded_user("maker@example.com", {"BTC": "2", "USDT": "100000"})
    _, tk = server.funded_user("taker@example.com", {"USDT": "100000"})
    maker, taker = client(server.base, mk), client(server.base, tk)
    markets = maker.load_markets()
    assert "BTC/USDT" in markets
    assert markets["BTC/USDT"]["precision"]["amount"] == 0.00001
    assert markets["BTC/USDT"]["precision"]["price"] == 0.01
    assert maker.fetch_balance()["BTC"]["free"] == 2.0

    order = maker.create_order("BTC/USDT", "limit", "sell", 0.5, 30000)
    book = taker.fetch_order_book("BTC/USDT")
    assert book["asks"][0] == [30000.0, 0.5]
    taker.create_order("BTC/USDT", "limit", "buy", 0.2, 30000)  # crosses

    o = maker.fetch_order(order["id"], "BTC/USDT")
    assert o["status"] == "open" and o["filled"] == 0.2 and o["remaining"] == 0.3

    mine = maker.fetch_my_trades("BTC/USDT")
    fill = next(t for t in mine if t["order"] == order["id"])
    assert fill["takerOrMaker"] == "maker" and fill["amount"] == 0.2 and fill["price"] == 30000
    # The maker sold BTC and receives USDT: 0.1% maker fee in USDT on 6000 USDT.
    assert fill["fee"]["currency"] == "USDT" and fill["fee"]["cost"] == 6.0
    theirs = taker.fetch_my_trades("BTC/USDT")
    assert theirs[0]["takerOrMaker"] == "taker"
    # The taker bought BTC and receives BTC: 0.2% taker fee in BTC on 0.2 BTC.
    assert theirs[0]["fee"]["currency"] == "BTC" and theirs[0]["fee"]["cost"] == 0.0004

    tb = taker.fetch_balance()
    assert tb["BTC"]["free"] == pytest.approx(0.1996)
    assert tb["USDT"]["free"] == pytest.approx(94000)
    mb = maker.fetch_balance()
    assert mb["BTC"]["used"] == pytest.approx(0.3)
    assert mb["USDT"]["free"] == pytest.approx(105994)

    assert [x["id"] for x in maker.fetch_open_orders("BTC/USDT")] == [order["id"]]
    maker.cancel_order(order["id"], "BTC/USDT")
    assert maker.fetch_order(order["id"], "BTC/USDT")["status"] == "canceled"
    with pytest.raises(ccxt.OrderNotFound):
        maker.cancel_order(order["id"], "BTC/USDT")
    with pytest.raises(ccxt.OrderNotFound):
        maker.fetch_order("999999999", "BTC/USDT")
    closed = maker.fetch_closed_orders("BTC/USDT")
    assert any(x["id"] == order["id"] and x["status"] == "canceled" for x in closed)
    assert maker.fetch_balance()["BTC"]["used"] == 0

    with pytest.raises(ccxt.InsufficientFunds):
        taker.create_order("BTC/USDT", "limit", "buy", 10, 30000)

    bad = client(server.base, dict(mk, secret="0" * 64))
    bad.markets = maker.markets
    with pytest.raises(ccxt.AuthenticationError):
        bad.fetch_open_orders("BTC/USDT")


def test_order_types_and_market_data(server):
    _, mk = server.funded_user("m2@example.com", {"BTC": "1", "USDT": "50000"})
    _, tk = server.funded_user("t2@example.com", {"BTC": "1", "USDT": "50000"})
    maker, taker = client(server.base, mk), client(server.base, tk)
    maker.load_markets()
    maker.create_order("BTC/USDT", "limit", "sell", 0.3, 31000, {"clientOrderId": "ask1"})
    assert maker.fetch_order(None, "BTC/USDT", {"clientOrderId": "ask1"})["clientOrderId"] == "ask1"
    with pytest.raises(ccxt.InvalidOrder):  # post-only that would take
        taker.create_order("BTC/USDT", "limit", "buy", 0.1, 31000, {"postOnly": True})
    resting = taker.create_order("BTC/USDT", "limit", "buy", 0.1, 30000, {"postOnly": True})
    assert taker.fetch_order(resting["id"], "BTC/USDT")["status"] == "open"
    ioc = taker.create_order("BTC/USDT", "limit", "buy", 0.5, 31000, {"timeInForce": "IOC"})
    f = taker.fetch_order(ioc["id"], "BTC/USDT")
    assert f["filled"] == 0.3 and f["status"] == "canceled"
    mkt = taker.create_order("BTC/USDT", "market", "sell", 0.05)
    assert taker.fetch_order(mkt["id"], "BTC/USDT")["status"] == "canceled"  # self-trade prevented
    maker.create_order("BTC/USDT", "limit", "buy", 0.1, 29000)
    sold = taker.create_order("BTC/USDT", "market", "sell", 0.05)
    s = taker.fetch_order(sold["id"], "BTC/USDT")
    assert s["status"] == "closed" and s["filled"] == 0.05
    ticker = taker.fetch_ticker("BTC/USDT")
    assert ticker["last"] == 29000 and ticker["bid"] == 29000  # own bid was cancelled by STP
    assert len(taker.fetch_tickers()) == 4
    trades = taker.fetch_trades("BTC/USDT")
    assert trades and trades[0]["price"] in (29000, 31000)
    maker.create_order("BTC/USDT", "limit", "sell", 0.1, 32000)
    spent = taker.create_market_buy_order_with_cost("BTC/USDT", 100.5)
    bought = taker.fetch_order(spent["id"], "BTC/USDT")
    # 100.5 USDT buys 0.00314 BTC at 32000 (100.48 USDT); the 0.02 USDT left cannot buy a lot.
    assert bought["status"] == "closed" and bought["filled"] == 0.00314 and bought["cost"] == 100.48
    with pytest.raises(ccxt.InvalidOrder):  # below the minimum order value
        taker.create_order("BTC/USDT", "limit", "buy", 0.00001, 30000)
    with pytest.raises(ccxt.BadSymbol):
        taker.fetch_ticker("NOPE/USDT")
    taker.cancel_all_orders("BTC/USDT")
    assert taker.fetch_open_orders("BTC/USDT") == []


def test_acknowledged_order_survives_sigkill(server):
    _, mk = server.funded_user("crash@example.com", {"BTC": "1"})
    ex = client(server.base, mk)
    ex.load_markets()
    order = ex.create_order("BTC/USDT", "limit", "sell", 0.25, 40000)
    server.kill()
    server.start()
    ex = client(server.base, mk)
    o = ex.fetch_order(order["id"], "BTC/USDT")
    assert o["status"] == "open" and o["amount"] == 0.25
    assert ex.fetch_balance()["BTC"]["used"] == 0.25
    check = server.admin("consistency")
    assert check["consistent"] is True, check["problems"]


def test_batch_orders_batch_cancels_and_canceled_orders(server):
    _, mk = server.funded_user("batch@example.com", {"BTC": "1", "USDT": "10000"})
    _, other = server.funded_user("other@example.com", {"BTC": "1"})
    ex, them = client(server.base, mk), client(server.base, other)
    ex.load_markets()
    them.markets = ex.markets
    placed = ex.create_orders([
        {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 40000},
        {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.2, "price": 41000,
         "params": {"clientOrderId": "batch2"}},
        {"symbol": "BTC/USDT", "type": "limit", "side": "buy", "amount": 0.01, "price": 20000},
    ])
    ids = [o["id"] for o in placed]
    assert len(ids) == 3 and all(ids)
    assert sorted(o["id"] for o in ex.fetch_open_orders("BTC/USDT")) == sorted(ids)
    assert ex.fetch_order(None, "BTC/USDT", {"clientOrderId": "batch2"})["id"] == ids[1]

    # A malformed item refuses the whole batch and places nothing.
    with pytest.raises(ccxt.InvalidOrder):
        ex.create_orders([
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 42000},
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 0},
        ])
    assert len(ex.fetch_open_orders("BTC/USDT")) == 3
    # The engine refusing an item stops the batch there; the error names what was placed.
    with pytest.raises(ccxt.InsufficientFunds) as refused:
        ex.create_orders([
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 43000},
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 5, "price": 43000},
            {"symbol": "BTC/USDT", "type": "limit", "side": "sell", "amount": 0.1, "price": 44000},
        ])
    opened = ex.fetch_open_orders("BTC/USDT")
    assert len(opened) == 4
    extra = next(o["id"] for o in opened if o["id"] not in ids)
    assert "orderParams[1]" in str(refused.value) and extra in str(refused.value)

    theirs = them.create_order("BTC/USDT", "limit", "sell", 0.1, 45000)
    result = ex.cancel_orders([ids[0], ids[2], theirs["id"], "999999"], "BTC/USDT")
    status = {o["id"]: o["status"] for o in result}
    assert status == {ids[0]: "canceled", ids[2]: "canceled", theirs["id"]: "failed",
                      "999999": "failed"}
    assert them.fetch_order(theirs["id"], "BTC/USDT")["status"] == "open", "not theirs to cancel"
    by_client = ex.cancel_orders([], "BTC/USDT", {"clientOrderIds": ["batch2"]})
    assert [o["status"] for o in by_client] == ["canceled"]

    canceled = ex.fetch_canceled_orders("BTC/USDT")
    assert sorted(o["id"] for o in canceled) == sorted([ids[0], ids[1], ids[2]])
    assert all(o["status"] == "canceled" for o in canceled)
    one = next(o for o in canceled if o["id"] == ids[1])
    assert one["amount"] == 0.2 and one["price"] == 41000 and one["filled"] == 0
    assert [o["id"] for o in ex.fetch_orders_by_status("open", "BTC/USDT")] == [extra]
    assert ex.fetch_balance()["BTC"]["used"] == pytest.approx(0.1)
