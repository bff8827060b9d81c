"""Stop orders through BitMart's algo endpoints, driven by the unmodified ccxt 4.5.70 `bitmart`
client: `create_order(..., params={"triggerPrice": ...})` holds the funds at once and fires when a
trade prints at the trigger, the stop order and the order it placed are both queryable, cancels
release the hold, a waiting stop order survives SIGKILL and still fires after the restart, and
bad algo requests get their own codes and change nothing."""

import ccxt
import pytest

from test_bad_input import call, expect
from test_ccxt import client


def trade(maker, taker, price, amount):
    maker.create_order("BTC/USDT", "limit", "sell", amount, price)
    taker.create_order("BTC/USDT", "limit", "buy", amount, price)


def clients(server, *emails):
    out = []
    for email in emails:
        _, key = server.funded_user(email, {"BTC": "5", "USDT": "500000"})
        out.append((client(server.base, key), key))
    out[0][0].load_markets()
    for c, _ in out[1:]:
        c.markets, c.markets_by_id, c.symbols = out[0][0].markets, out[0][0].markets_by_id, out[0][0].symbols
    return out


def test_a_stop_limit_order_holds_its_funds_and_fires_when_the_price_falls(server):
    (maker, _), (taker, _), (stopper, _) = clients(
        server, "stop-m@example.com", "stop-t@example.com", "stop-s@example.com")
    trade(maker, taker, 30000, 0.1)  # the last price is now 30000

    stop = stopper.create_order("BTC/USDT", "limit", "sell", 0.2, 29000, params={"triggerPrice": 29500})
    balance = stopper.fetch_balance()
    assert balance["BTC"]["used"] == pytest.approx(0.2), "held from acceptance"
    assert balance["BTC"]["free"] == pytest.approx(4.8)
    waiting = stopper.fetch_open_orders("BTC/USDT", params={"trigger": True})
    assert [o["id"] for o in waiting] == [stop["id"]]
    assert waiting[0]["status"] == "open" and waiting[0]["info"]["triggerPrice"] == "29500.00"
    assert waiting[0]["info"]["triggerDirection"] == "fall"
    assert stopper.fetch_open_orders("BTC/USDT") == [], "not on the book while waiting"

    # A bid for the stop order to sell into, then a trade above the trigger: nothing fires.
    taker.create_order("BTC/USDT", "limit", "buy", 0.2, 29000)
    trade(maker, taker, 29800, 0.01)
    assert stopper.fetch_order(stop["id"], "BTC/USDT", params={"trigger": True})["status"] == "open"

    trade(maker, taker, 29500, 0.01)  # the price reaches the trigger
    fired = stopper.fetch_order(stop["id"], "BTC/USDT", params={"trigger": True})
    assert fired["info"]["state"] == "triggered", fired["info"]
    placed = stopper.fetch_order(fired["info"]["triggeredOrderId"], "BTC/USDT")
    assert placed["status"] == "closed" and placed["filled"] == pytest.approx(0.2)
    assert placed["average"] == pytest.approx(29000)
    balance = stopper.fetch_balance()
    assert balance["BTC"]["total"] == pytest.approx(4.8) and balance["BTC"]["used"] == 0
    # Sold 0.2 at 29000 as the taker: 5800 USDT less the 0.2% taker fee.
    assert balance["USDT"]["total"] == pytest.approx(500000 + 5800 - 11.6)
    assert stopper.fetch_open_orders("BTC/USDT", params={"trigger": True}) == []
    history = stopper.fetch_closed_orders("BTC/USDT", params={"trigger": True})
    assert [o["id"] for o in history] == [stop["id"]]


def test_cancelling_stop_orders_releases_their_funds(server):
    (maker, _), (taker, _), (stopper, key) = clients(
        server, "stopc-m@example.com", "stopc-t@example.com", "stopc-s@example.com")
    trade(maker, taker, 30000, 0.1)
    buy = stopper.create_order("BTC/USDT", "limit", "buy", 0.1, 31500, params={"triggerPrice": 31000})
    assert stopper.fetch_balance()["USDT"]["used"] == pytest.approx(3150)
    stopper.cancel_order(buy["id"], "BTC/USDT", params={"trigger": True})
    assert stopper.fetch_balance()["USDT"]["used"] == 0
    assert stopper.fetch_order(buy["id"], "BTC/USDT", params={"trigger": True})["status"] == "canceled"
    # Cancelling again: already cancelled, a specific code.
    expect(call(server.base, "/spot/v4/algo/cancel_order",
                {"symbol": "BTC_USDT", "order_id": buy["id"]}, key=key), 50030)

    stopper.create_order("BTC/USDT", "market", "sell", 0.1, None, params={"triggerPrice": 29000})
    stopper.create_order("BTC/USDT", "limit", "sell", 0.1, 28000,
                         params={"triggerPrice": 29000, "clientOrderId": "slA1"})
    # ccxt's stop-loss and take-profit parameters go to the same endpoint as type "tp/sl".
    stopper.create_order("BTC/USDT", "limit", "sell", 0.1, 28500, params={"stopLossPrice": 28900})
    tp = stopper.create_order("BTC/USDT", "limit", "sell", 0.1, 31000, params={"takeProfitPrice": 31200})
    assert stopper.fetch_order(tp["id"], "BTC/USDT", params={"trigger": True})["info"]["triggerDirection"] == "rise"
    by_client = stopper.fetch_order(None, "BTC/USDT", params={"trigger": True, "clientOrderId": "slA1"})
    assert by_client["clientOrderId"] == "slA1"
    assert stopper.fetch_balance()["BTC"]["used"] == pytest.approx(0.4)
    assert len(stopper.fetch_open_orders("BTC/USDT", params={"stopLossTakeProfit": True})) == 4
    stopper.cancel_all_orders("BTC/USDT", params={"trigger": True})
    assert stopper.fetch_balance()["BTC"]["used"] == 0
    assert stopper.fetch_open_orders("BTC/USDT", params={"trigger": True}) == []
    # Another user cannot see or cancel someone's stop order.
    other = stopper.fetch_closed_orders("BTC/USDT", params={"trigger": True})[0]["id"]
    expect(call(server.base, "/spot/v4/query/algo/order", {"orderId": other}, key=_key_of(taker)), 50005)


def _key_of(c):
    return {"access_key": c.apiKey, "secret": c.secret, "memo": c.uid}


def test_a_waiting_stop_order_survives_a_crash_and_fires_after_it(server):
    (maker, mk), (taker, tk), (stopper, sk) = clients(
        server, "stopk-m@example.com", "stopk-t@example.com", "stopk-s@example.com")
    trade(maker, taker, 30000, 0.1)
    stop = stopper.create_order("BTC/USDT", "limit", "buy", 0.1, 30600, params={"triggerPrice": 30500})
    maker.create_order("BTC/USDT", "limit", "sell", 0.1, 30600)
    server.kill()
    server.start()
    maker, taker, stopper = client(server.base, mk), client(server.base, tk), client(server.base, sk)
    assert stopper.fetch_balance()["USDT"]["used"] == pytest.approx(3060)
    trade(maker, taker, 30500, 0.01)
    fired = stopper.fetch_order(stop["id"], "BTC/USDT", params={"trigger": True})
    assert fired["info"]["state"] == "triggered"
    placed = stopper.fetch_order(fired["info"]["triggeredOrderId"], "BTC/USDT")
    assert placed["filled"] == pytest.approx(0.1) and placed["average"] == pytest.approx(30600)
    assert stopper.fetch_balance()["BTC"]["total"] == pytest.approx(5 + 0.1 * 0.998)


def test_bad_algo_requests_get_their_own_codes_and_change_nothing(server):
    _, key = server.funded_user("stopbad@example.com", {"BTC": "1", "USDT": "1000"})
    base = "/spot/v4/algo/submit_order"

    def stop(**kw):
        body = {"symbol": "BTC_USDT", "side": "sell", "type": "trigger", "trigger_type": "limit",
                "size": "0.01", "price": "29000", "trigger_price": "29500"}
        body.update(kw)
        return {k: v for k, v in body.items() if v is not None}

    # No trade yet in this market: nothing to compare a trigger with.
    expect(call(server.base, base, stop(), key=key), 50021, words="not traded yet")
    expect(call(server.base, base, stop(trigger_price=None), key=key), 50011, words="trigger_price")
    expect(call(server.base, base, stop(trigger_price="-1"), key=key), 50021, words="trigger_price")
    expect(call(server.base, base, stop(trigger_price="1.234"), key=key), 50021, words="trigger_price")
    expect(call(server.base, base, stop(trigger_type="stop"), key=key), 52000, words="trigger_type")
    expect(call(server.base, base, stop(type="oco"), key=key), 52000, words="algo order type")
    expect(call(server.base, base, stop(symbol="NOPE_USDT"), key=key), 50001)
    expect(call(server.base, base, stop(size="100"), key=key), 50020, words="balance not enough")
    expect(call(server.base, "/spot/v4/algo/cancel_order", {"symbol": "BTC_USDT", "order_id": "999999"},
                key=key), 50032)
    expect(call(server.base, "/spot/v4/algo/cancel_order", {"symbol": "BTC_USDT"}, key=key), 50039)
    expect(call(server.base, "/spot/v4/query/algo/open-orders", {"limit": 500}, key=key), 50021)
    _, wallet = call(server.base, "/spot/v1/wallet", key=key)
    btc = next(w for w in wallet["data"]["wallet"] if w["id"] == "BTC")
    assert btc["available"] == "1.00000000" and btc["frozen"] == "0.00000000"
    _, opened = call(server.base, "/spot/v4/query/algo/open-orders", {}, key=key)
    assert opened["data"] == []
