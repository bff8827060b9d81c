"""Every kind of bad input gets its BitMart code and a specific message, and changes nothing."""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request


def call(base, path, body=None, key=None, method=None, sign=True, ts=None, raw=None, secret=None, query="",
         headers_out=None):
    data = raw if raw is not None else (json.dumps(body, separators=(",", ":")).encode() if body is not None else None)
    method = method or ("POST" if data is not None else "GET")
    headers = {"Content-Type": "application/json"}
    if key:
        ts = ts if ts is not None else str(int(time.time() * 1000))
        payload = (data or b"").decode(errors="replace") if method == "POST" else query
        headers["X-BM-KEY"] = key["access_key"]
        headers["X-BM-TIMESTAMP"] = ts
        if sign:
            s = (secret or key["secret"]).encode()
            headers["X-BM-SIGN"] = hmac.new(s, f"{ts}#{key['memo']}#{payload}".encode(), hashlib.sha256).hexdigest()
    url = base + path + (("?" + query) if query else "")
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            if headers_out is not None:
                headers_out.update({k.lower(): v for k, v in r.headers.items()})
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        if headers_out is not None:
            headers_out.update({k.lower(): v for k, v in e.headers.items()})
        return e.code, json.load(e)


def order(**kw):
    body = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "size": "0.01", "price": "30000"}
    body.update(kw)
    return body


def expect(result, code, status=None, words=None):
    got_status, body = result
    assert body["code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    if status:
        assert got_status == status, (got_status, body)
    if words:
        assert words.lower() in body["message"].lower(), body


def state(server, key):
    _, wallet = call(server.base, "/spot/v1/wallet", key=key)
    _, opened = call(server.base, "/spot/v4/query/open-orders", {}, key=key)
    return wallet["data"], [o["orderId"] for o in opened["data"]]


def test_signing_and_keys(server):
    _, key = server.funded_user("sig@example.com", {"USDT": "1000"})
    b = server.base
    expect(call(b, "/spot/v4/query/open-orders", {}), 30001, 401)
    expect(call(b, "/spot/v4/query/open-orders", {}, key=dict(key, access_key="nope")), 30002, 401)
    expect(call(b, "/spot/v4/query/open-orders", {}, key=key, sign=False), 30004, 401)
    expect(call(b, "/spot/v4/query/open-orders", {}, key=key, secret="wrong"), 30005, 401)
    expect(call(b, "/spot/v4/query/open-orders", {}, key=key, ts=str(int(time.time() * 1000) - 120_000)), 30007, 401)
    expect(call(b, "/spot/v4/query/open-orders", {}, key=key, ts="yesterday"), 30008, 401)
    # GET: the signature may cover the raw query string or the empty payload; key-only on KEYED reads.
    assert call(b, "/spot/v1/wallet", key=key)[1]["code"] == 1000
    assert call(b, "/spot/v1/wallet", key=key, sign=False)[1]["code"] == 1000
    assert call(b, "/spot/v1/trade_fee", key=key, query="symbol=BTC_USDT")[1]["data"]["taker_fee_rate"] == "0.002000"
    # Never key-only on anything that trades.
    expect(call(b, "/spot/v2/submit_order", order(), key=key, sign=False), 30004)

    user = server.admin("user", "create", "--email", "scoped@example.com", "--kyc-tier", "L1")["user_id"]
    read_only = server.admin("apikey", "create", "--user", str(user), "--scopes", "read")
    expect(call(b, "/spot/v2/submit_order", order(), key=read_only), 30012, 403, "trade")
    fenced = server.admin("apikey", "create", "--user", str(user), "--scopes", "read,trade", "--ip", "10.9.9.9")
    expect(call(b, "/spot/v4/query/open-orders", {}, key=fenced), 30010, 403)


def test_order_validation_changes_nothing(server):
    _, key = server.funded_user("val@example.com", {"USDT": "1000", "BTC": "1"})
    b = server.base
    before = state(server, key)
    cases = [
        (order(symbol="NOPE_USDT"), 50001, "symbol"),
        (order(side="up"), 52002, "side"),
        (order(type="stop"), 52000, "type"),
        (order(price="30000.123"), 50021, "price"),
        (order(size="0.000001"), 50021, "size"),
        (order(size="1e-2"), 50021, "exponent"),
        (order(size="-1"), 50021, "size"),
        (order(size="0"), 50010, "size"),
        (order(price="0"), 50011, "price"),
        (order(size="99999999999999999999"), 50021, "large"),
        (order(size="20000"), 50007, "maximum"),
        (order(price="2000000"), 50025, "maximum"),
        (order(size="0.0001"), 50009, "minimum"),
        (order(size="1"), 50020, "balance"),
        (order(type="market", size="0.01"), 50012, "notional"),
        (order(client_order_id="x" * 33), 50037, "32"),
        (order(client_order_id="bad-id!"), 50038, "letters"),
        ({"symbol": "BTC_USDT"}, 52002, "side"),
    ]
    for body, code, words in cases:
        expect(call(b, "/spot/v2/submit_order", body, key=key), code, 400, words)
    expect(call(b, "/spot/v2/submit_order", key=key, raw=b"{not json"), 30018, 400)
    expect(call(b, "/spot/v2/submit_order", key=key, raw=b"[1,2]"), 30018, 400)
    expect(call(b, "/spot/v2/submit_order", key=key, raw=b"{" + b" " * 70_000 + b"}"), 50000, 413)
    expect(call(b, "/spot/v3/cancel_order", {"symbol": "BTC_USDT"}, key=key), 50039)
    expect(call(b, "/spot/v3/cancel_order", {"symbol": "BTC_USDT", "order_id": "123456"}, key=key), 50032)
    expect(call(b, "/spot/v4/query/order", {"orderId": "123456"}, key=key), 50005)
    assert state(server, key) == before

    # A duplicate client order id among live orders.
    assert call(b, "/spot/v2/submit_order", order(price="20000", client_order_id="dup1"), key=key)[1]["code"] == 1000
    expect(call(b, "/spot/v2/submit_order", order(price="20001", client_order_id="dup1"), key=key), 50042)

    # Public endpoints, unknown routes and methods.
    expect(call(b, "/spot/quotation/v3/ticker", query="symbol=NOPE"), 70002)
    expect(call(b, "/spot/quotation/v3/books"), 70001)
    expect(call(b, "/spot/quotation/v3/books", query="symbol=BTC_USDT&limit=500"), 50021)
    expect(call(b, "/no/such/route"), 30000, 404)
    expect(call(b, "/spot/v2/submit_order", method="GET"), 57001, 405)


def test_halts_reject_orders_but_cancels_work(server):
    _, key = server.funded_user("halt@example.com", {"USDT": "1000"})
    b = server.base
    status, placed = call(b, "/spot/v2/submit_order", order(price="20000"), key=key)
    oid = placed["data"]["order_id"]
    server.admin("market", "halt", "BTC_USDT")
    expect(call(b, "/spot/v2/submit_order", order(price="20000"), key=key), 50040, 400, "halted")
    assert call(b, "/spot/v3/cancel_order", {"symbol": "BTC_USDT", "order_id": oid}, key=key)[1]["data"]["result"] is True
    server.admin("market", "resume", "BTC_USDT")
    server.admin("halt")
    expect(call(b, "/spot/v2/submit_order", order(price="20000"), key=key), 30016, 503)
    assert call(b, "/system/service")[1]["data"]["service"][0]["status"] != 2
    server.admin("resume")
    assert call(b, "/spot/v2/submit_order", order(price="20000"), key=key)[1]["code"] == 1000
    actions = [e["action"] for e in server.admin("audit")["entries"]]
    assert {"market.halt", "market.resume", "trading.halt", "trading.resume", "deposit.credit"} <= set(actions)


def test_per_ip_rate_limit_answers_30013():
    import tempfile
    from conftest import Server
    with tempfile.TemporaryDirectory(prefix="bulwark-rl-") as data_dir:
        srv = Server(data_dir, rate_limit=5).start()
        try:
            # The readiness probe used some of the burst (10); keep going until refused.
            answers = [call(srv.base, "/system/time") for _ in range(30)]
            limited = [a for a in answers if a[0] == 429]
            assert limited, "30 requests at once were never limited"
            expect(limited[0], 30013, 429, "too many")
        finally:
            srv.stop()


def test_orders_of_another_user_are_invisible_and_untouchable(server):
    """Authorization on every object: a valid key of one user gets "not found" for another user's
    order by id or client id, its fills, and its cancellation, and nothing changes."""
    _, alice = server.funded_user("alice-iso@example.com", {"USDT": "1000"})
    _, mallory = server.funded_user("mallory-iso@example.com", {"USDT": "1000"})
    b = server.base
    status, placed = call(b, "/spot/v2/submit_order", order(client_order_id="aliceiso1"), key=alice)
    assert status == 200 and placed["code"] == 1000, placed
    oid = placed["data"]["order_id"]
    before = state(server, alice)
    expect(call(b, "/spot/v4/query/order", {"orderId": oid}, key=mallory), 50005)
    expect(call(b, "/spot/v4/query/client-order", {"clientOrderId": "aliceiso1"}, key=mallory), 50005)
    expect(call(b, "/spot/v4/query/order-trades", {"orderId": oid}, key=mallory), 50005)
    expect(call(b, "/spot/v3/cancel_order", {"symbol": "BTC_USDT", "order_id": oid}, key=mallory), 50032)
    expect(
        call(b, "/spot/v3/cancel_order", {"symbol": "BTC_USDT", "client_order_id": "aliceiso1"}, key=mallory),
        50032,
    )
    status, open_orders = call(b, "/spot/v4/query/open-orders", {}, key=mallory)
    assert status == 200 and open_orders["data"] == [], open_orders
    assert state(server, alice) == before
    status, mine = call(b, "/spot/v4/query/order", {"orderId": oid}, key=alice)
    assert status == 200 and mine["data"]["state"] == "new", mine


def test_bad_batches_and_legacy_queries_change_nothing(server):
    _, key = server.funded_user("badbatch@example.com", {"BTC": "1", "USDT": "1000"})
    b = server.base
    before = state(server, key)
    item = {"side": "sell", "type": "limit", "size": "0.01", "price": "30000"}
    batch = "/spot/v4/batch_orders"
    expect(call(b, batch, {"orderParams": [item]}, key=key), 50001, 400, "symbol")
    expect(call(b, batch, {"symbol": "NOPE_USDT", "orderParams": [item]}, key=key), 50001, 400)
    expect(call(b, batch, {"symbol": "BTC_USDT", "orderParams": item}, key=key), 50021, 400, "list")
    expect(call(b, batch, {"symbol": "BTC_USDT", "orderParams": []}, key=key), 50021, 400, "1 to 10")
    expect(call(b, batch, {"symbol": "BTC_USDT", "orderParams": [item] * 11}, key=key), 50021, 400)
    expect(call(b, batch, {"symbol": "BTC_USDT", "orderParams": [item, "x"]}, key=key), 50021, 400,
           "orderParams[1]")
    expect(call(b, batch, {"symbol": "BTC_USDT", "orderParams": [item, dict(item, side="up")]},
                key=key), 52002, 400, "orderParams[1]")
    cancel = "/spot/v4/cancel_orders"
    expect(call(b, cancel, {"symbol": "BTC_USDT", "orderIds": []}, key=key), 50021, 400)
    expect(call(b, cancel, {"symbol": "BTC_USDT", "orderIds": ["abc"]}, key=key), 50032, 400)
    expect(call(b, cancel, {"symbol": "BTC_USDT", "orderIds": [{"id": 1}]}, key=key), 50021, 400)
    expect(call(b, cancel, {"symbol": "BTC_USDT", "clientOrderIds": ["bad id!"]}, key=key), 50038, 400)
    legacy = "/spot/v3/orders"
    expect(call(b, legacy, key=key, query="symbol=BTC_USDT&status=3"), 52003, 400)
    expect(call(b, legacy, key=key, query="symbol=BTC_USDT"), 52003, 400)
    expect(call(b, legacy, key=key, query="status=8"), 50001, 400)
    expect(call(b, legacy, key=key, query="symbol=BTC_USDT&status=8&N=101"), 50021, 400, "N")
    expect(call(b, legacy, key=key, query="symbol=BTC_USDT&status=8&offset=6&N=100"), 50021, 400)
    expect(call(b, legacy, query="symbol=BTC_USDT&status=8"), 30001, 401)
    assert state(server, key) == before


def test_endpoint_budgets_refuse_order_floods_but_cancels_keep_working():
    import tempfile
    from conftest import Server
    with tempfile.TemporaryDirectory(prefix="bulwark-groups-") as data_dir:
        srv = Server(data_dir, api_rate_scale=1).start()
        try:
            _, key = srv.funded_user("budget@example.com", {"USDT": "100000"})
            b = srv.base
            seen = {}
            expect_ok = call(b, "/spot/v2/submit_order", order(size="0.001", price="10000"), key=key,
                             headers_out=seen)
            assert expect_ok[0] == 200, expect_ok
            assert seen["x-bm-ratelimit-limit"] == "40"
            assert 0 <= int(seen["x-bm-ratelimit-remaining"]) < 40
            assert int(seen["x-bm-ratelimit-reset"]) >= 0
            answers = []
            for _ in range(80):
                headers = {}
                answers.append((call(b, "/spot/v2/submit_order", order(size="0.001", price="10000"),
                                     key=key, headers_out=headers), headers))
            refused = [(a, h) for a, h in answers if a[0] == 429]
            assert refused, "80 orders at once were never limited"
            (status, body), headers = refused[0]
            expect((status, body), 30013, 429, "order entry")
            assert int(headers["retry-after"]) >= 1 and headers["x-bm-ratelimit-remaining"] == "0"
            placed = 1 + sum(1 for a, _ in answers if a[0] == 200)
            _, opened = call(b, "/spot/v4/query/open-orders", {}, key=key)
            assert len(opened["data"]) == placed, "a refused order placed nothing"
            # Cancels and market data have budgets of their own.
            status, _ = call(b, "/spot/v4/cancel_all", {"symbol": "BTC_USDT"}, key=key)
            assert status == 200
            _, opened = call(b, "/spot/v4/query/open-orders", {}, key=key)
            assert opened["data"] == []
            status, _ = call(b, "/spot/quotation/v3/ticker", query="symbol=BTC_USDT")
            assert status == 200
            # Market data alone: a flood from one address is refused too.
            flood = [call(b, "/spot/quotation/v3/ticker", query="symbol=BTC_USDT")[0] for _ in range(60)]
            assert 429 in flood
        finally:
            srv.stop()


def test_order_entry_at_capacity_says_busy_at_once_and_loses_nothing():
    """With room for one order in progress, a burst of concurrent orders gets 30014 "system
    busy" for some (fast, HTTP 503, nothing placed) while every accepted one is placed, and
    cancels are never turned away."""
    import tempfile
    import threading
    from conftest import Server
    with tempfile.TemporaryDirectory(prefix="bulwark-admission-") as data_dir:
        srv = Server(data_dir, extra_args=["--order-inflight-max", "1"]).start()
        try:
            _, key = srv.funded_user("busy@example.com", {"USDT": "100000"})
            b, answers, lock = srv.base, [], threading.Lock()
            start = threading.Barrier(32)

            def burst():
                start.wait()
                for _ in range(4):
                    t = time.monotonic()
                    got = call(b, "/spot/v2/submit_order", order(size="0.001", price="10000"), key=key)
                    with lock:
                        answers.append((got, time.monotonic() - t))

            threads = [threading.Thread(target=burst) for _ in range(32)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            busy = [(a, s) for a, s in answers if a[1]["code"] == 30014]
            placed = [a for a, _ in answers if a[1]["code"] == 1000]
            assert busy, "128 concurrent orders with one slot were never turned away"
            assert len(busy) + len(placed) == len(answers), [a for a, _ in answers]
            expect(busy[0][0], 30014, 503, "system busy")
            _, opened = call(b, "/spot/v4/query/open-orders", {}, key=key)
            assert sorted(o["orderId"] for o in opened["data"]) == sorted(
                a[1]["data"]["order_id"] for a in placed), "every accepted order, and only those"
            status, _ = call(b, "/spot/v4/cancel_all", {"symbol": "BTC_USDT"}, key=key)
            assert status == 200
            _, opened = call(b, "/spot/v4/query/open-orders", {}, key=key)
            assert opened["data"] == []
        finally:
            srv.stop()


def test_price_band_refuses_fat_finger_orders_and_changes_nothing(server):
    """After a trade at 30000, a limit buy above 36000 or a sell below 24000 (20% through the
    last price) is refused with BitMart's max/min price codes; resting orders far away, market
    orders and prices at the band's edge are fine."""
    b = server.base
    _, seller = server.funded_user("band-seller@example.com", {"BTC": "1"})
    _, buyer = server.funded_user("band-buyer@example.com", {"USDT": "100000"})
    expect(call(b, "/spot/v2/submit_order", order(side="sell"), key=seller), 1000, 200)
    expect(call(b, "/spot/v2/submit_order", order(), key=buyer), 1000, 200)  # trades at 30000
    before = (state(server, seller), state(server, buyer))
    expect(call(b, "/spot/v2/submit_order", order(price="36000.01"), key=buyer), 50025, 400,
           "at most 36000.00 (20% above the last price 30000.00)")
    expect(call(b, "/spot/v2/submit_order", order(side="sell", price="23999.99"), key=seller),
           50008, 400, "at least 24000.00")
    expect(call(b, "/spot/v2/submit_order", order(side="sell", type="ioc", price="1"), key=seller),
           50008, 400)
    batch = {"symbol": "BTC_USDT", "orderParams": [
        {"side": "buy", "type": "limit", "size": "0.01", "price": "29000"},
        {"side": "buy", "type": "limit", "size": "0.01", "price": "40000"}]}
    expect(call(b, "/spot/v4/batch_orders", batch, key=buyer), 50025, 400,
           "orderParams[1] refused")
    assert (state(server, seller), state(server, buyer)) == before, "nothing placed, nothing held"
    expect(call(b, "/spot/v2/submit_order", order(price="36000"), key=buyer), 1000, 200)
    expect(call(b, "/spot/v2/submit_order", order(price="1000"), key=buyer), 1000, 200)
    expect(call(b, "/spot/v2/submit_order", order(side="sell", price="999999"), key=seller), 1000, 200)
