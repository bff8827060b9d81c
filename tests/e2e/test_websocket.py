"""The public WebSocket through unmodified ccxt.pro 4.5.70 (`ccxt.pro.bitmart`): tickers, the
incremental order book (equal to REST `fetch_order_book` after trading), trades and candles while
two users trade; an idle connection that outlives ccxt's ping deadline; and every bad request
answered with an error that leaves the connection and the server working."""

import asyncio
import hashlib
import hmac
import json
import time

import aiohttp
import ccxt.pro as ccxtpro
import pytest

from test_ccxt import client


def pro(server):
    ws = server.base.replace("http://", "ws://")
    return ccxtpro.bitmart({"urls": {"api": {"spot": server.base, "swap": server.base,
                                             "ws": {"spot": {"public": ws + "/api?protocol=1.1",
                                                             "private": ws + "/user?protocol=1.1"}}}},
                            "timeout": 30000})


def test_ccxt_pro_streams_ticker_book_trades_and_candles(server):
    _, mk = server.funded_user("ws-m@example.com", {"BTC": "3", "USDT": "300000"})
    _, tk = server.funded_user("ws-t@example.com", {"BTC": "3", "USDT": "300000"})
    maker, taker = client(server.base, mk), client(server.base, tk)
    maker.load_markets()
    taker.markets = maker.markets

    async def eventually(what, check, timeout=20):
        """ccxt keeps what the stream pushed in its caches; wait until they show `check`."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not check():
            assert asyncio.get_running_loop().time() < deadline, f"{what} never arrived"
            await asyncio.sleep(0.1)

    async def scenario():
        ex = pro(server)
        try:
            await ex.load_markets()
            ticker = await ex.watch_ticker("BTC/USDT")
            assert ticker["symbol"] == "BTC/USDT"
            book = await ex.watch_order_book("BTC/USDT")
            assert book["bids"] == [] and book["asks"] == []
            trades_task = asyncio.ensure_future(ex.watch_trades("BTC/USDT"))
            candle_task = asyncio.ensure_future(ex.watch_ohlcv("BTC/USDT", "1m"))
            await asyncio.sleep(0.5)  # every subscription is in before the first order

            cached = lambda: ex.orderbooks["BTC/USDT"]  # noqa: E731
            await asyncio.to_thread(maker.create_order, "BTC/USDT", "limit", "sell", 0.5, 30000)
            await asyncio.to_thread(maker.create_order, "BTC/USDT", "limit", "buy", 0.4, 29000)
            await eventually("the resting orders", lambda: cached()["asks"][:1] == [[30000.0, 0.5]]
                             and cached()["bids"][:1] == [[29000.0, 0.4]])

            await asyncio.to_thread(taker.create_order, "BTC/USDT", "limit", "buy", 0.2, 30000)
            trades = await asyncio.wait_for(trades_task, 20)
            assert [(t["price"], t["amount"], t["side"]) for t in trades] == [(30000, 0.2, "buy")]
            await asyncio.wait_for(candle_task, 20)
            candle = lambda: ex.ohlcvs["BTC/USDT"]["1m"][-1]  # noqa: E731
            await eventually("the candle", lambda: candle()[5] == pytest.approx(0.2))
            assert candle()[1:5] == [30000, 30000, 30000, 30000]
            ticker = lambda: ex.tickers["BTC/USDT"]  # noqa: E731
            await eventually("the ticker", lambda: ticker()["last"] == 30000)
            assert ticker()["baseVolume"] == pytest.approx(0.2)
            assert ticker()["quoteVolume"] == pytest.approx(6000)

            await eventually("the fill in the book", lambda: cached()["asks"][:1] == [[30000.0, 0.3]])
            rest = await asyncio.to_thread(taker.fetch_order_book, "BTC/USDT")
            assert cached()["asks"] == rest["asks"] and cached()["bids"] == rest["bids"]

            # ccxt pings every 15 s and gives up after ~30 s without a pong: stay idle past it.
            await asyncio.sleep(33)
            await asyncio.to_thread(maker.cancel_all_orders, "BTC/USDT")
            await eventually("the empty book", lambda: not cached()["asks"] and not cached()["bids"])
            assert ex.clients, "the connection is still the same one"
            for url, connection in ex.clients.items():
                assert connection.connected.done() and not connection.connected.exception(), url
        finally:
            await ex.close()

    asyncio.run(scenario())


def test_bad_requests_get_errors_and_the_connection_survives(server):
    url = server.base.replace("http://", "ws://") + "/api?protocol=1.1"

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                async def reply():
                    return json.loads(await ws.receive_str(timeout=10))

                await ws.send_str("ping")
                assert await ws.receive_str(timeout=10) == "pong"
                for request, code in [
                    ("{not json", 30039),
                    (json.dumps({"op": "dance", "args": ["spot/trade:BTC_USDT"]}), 30039),
                    (json.dumps({"op": "login", "args": ["k", "1", "s"]}), 30039),
                    (json.dumps({"op": "subscribe", "args": []}), 30039),
                    (json.dumps({"op": "subscribe", "args": ["spot/trade:BTC_USDT"] * 21}), 30039),
                    (json.dumps({"op": "subscribe", "args": ["spot/nothing:BTC_USDT"]}), 30039),
                    (json.dumps({"op": "subscribe", "args": ["spot/trade"]}), 30039),
                    (json.dumps({"op": "subscribe", "args": [7]}), 30039),
                    (json.dumps({"op": "subscribe", "args": ["spot/trade:NOPE_USDT"]}), 70002),
                ]:
                    await ws.send_str(request)
                    answer = await reply()
                    assert answer["event"] == "error" and answer["errorCode"] == code, (request, answer)
                    assert answer["message"] and "data" not in answer
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["spot/depth5:BTC_USDT"]}))
                assert await reply() == {"event": "subscribe", "topic": "spot/depth5:BTC_USDT"}
                first = await reply()
                assert first["table"] == "spot/depth5" and first["data"][0]["symbol"] == "BTC_USDT"
                await ws.send_str(json.dumps({"op": "unsubscribe", "args": ["spot/depth5:BTC_USDT"]}))
                assert await reply() == {"event": "unsubscribe", "topic": "spot/depth5:BTC_USDT"}
                topics = [f"spot/kline{i}:BTC_USDT" for i in ["1m", "3m", "5m", "15m", "30m", "45m",
                                                             "1H", "2H", "3H", "4H", "1D", "1W", "1M"]]
                await ws.send_str(json.dumps({"op": "subscribe", "args": topics}))
                acks = [await reply() for _ in topics]
                assert [a["topic"] for a in acks] == topics
            # An oversized frame closes that connection only; the server keeps serving.
            async with session.ws_connect(url) as ws:
                await ws.send_str("x" * 10_000)
                message = await ws.receive(timeout=10)
                assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                                        aiohttp.WSMsgType.ERROR), message
            async with session.ws_connect(url) as ws:
                await ws.send_str("ping")
                assert await ws.receive_str(timeout=10) == "pong"

    asyncio.run(scenario())


def pro_user(server, key):
    ex = pro(server)
    ex.apiKey, ex.secret, ex.uid = key["access_key"], key["secret"], key["memo"]
    return ex


def test_ccxt_pro_watches_its_orders_and_balance_during_a_trade(server):
    _, mk = server.funded_user("wso-m@example.com", {"BTC": "2", "USDT": "100000"})
    _, tk = server.funded_user("wso-t@example.com", {"USDT": "100000"})
    maker, taker = client(server.base, mk), client(server.base, tk)
    maker.load_markets()
    taker.markets = maker.markets

    async def scenario():
        mine, theirs = pro_user(server, mk), pro_user(server, tk)
        try:
            await mine.load_markets()
            await theirs.load_markets()
            orders_task = asyncio.ensure_future(mine.watch_orders("BTC/USDT"))
            all_task = asyncio.ensure_future(theirs.watch_orders())
            balance_task = asyncio.ensure_future(mine.watch_balance())
            await asyncio.sleep(1.0)  # logged in and subscribed before the first order
            placed = await asyncio.to_thread(maker.create_order, "BTC/USDT", "limit", "sell",
                                             0.5, 30000, {"clientOrderId": "wsask"})
            first = await asyncio.wait_for(orders_task, 20)
            assert first[-1]["id"] == placed["id"] and first[-1]["status"] == "open"
            assert first[-1]["clientOrderId"] == "wsask" and first[-1]["amount"] == 0.5
            balance = await asyncio.wait_for(balance_task, 20)
            assert balance["BTC"]["used"] == pytest.approx(0.5)

            await asyncio.to_thread(taker.create_order, "BTC/USDT", "limit", "buy", 0.2, 30000)
            bought = await asyncio.wait_for(all_task, 20)
            assert bought[-1]["status"] == "closed" and bought[-1]["filled"] == 0.2
            deadline = asyncio.get_running_loop().time() + 20
            while True:
                cached = {o["id"]: o for o in mine.orders}
                if cached.get(placed["id"], {}).get("filled") == 0.2:
                    break
                assert asyncio.get_running_loop().time() < deadline, mine.orders
                await asyncio.sleep(0.1)
            assert cached[placed["id"]]["status"] == "open"
            spot = lambda: mine.balance.get("spot", {})  # noqa: E731  ccxt files it by account type
            while spot().get("USDT", {}).get("free") != pytest.approx(105994):
                assert asyncio.get_running_loop().time() < deadline, mine.balance
                await asyncio.sleep(0.1)
            assert spot()["BTC"]["used"] == pytest.approx(0.3)
            assert all(o["id"] != placed["id"] for o in theirs.orders), "no one sees another's"

            await asyncio.to_thread(maker.cancel_order, placed["id"], "BTC/USDT")
            while {o["id"]: o for o in mine.orders}[placed["id"]]["status"] != "canceled":
                assert asyncio.get_running_loop().time() < deadline, mine.orders
                await asyncio.sleep(0.1)

            bad = pro_user(server, dict(mk, secret="0" * 64))
            try:
                with pytest.raises(ccxtpro.AuthenticationError):
                    await asyncio.wait_for(bad.watch_orders("BTC/USDT"), 20)
            finally:
                await bad.close()
        finally:
            await mine.close()
            await theirs.close()

    asyncio.run(scenario())


def test_private_stream_needs_a_valid_login(server):
    _, key = server.funded_user("wsl@example.com", {"USDT": "10"})
    url = server.base.replace("http://", "ws://") + "/user?protocol=1.1"

    def login(secret=None, ts=None, memo=None, access_key=None):
        ts = ts or str(int(time.time() * 1000))
        payload = f"{ts}#{memo or key['memo']}#bitmart.WebSocket".encode()
        sign = hmac.new((secret or key["secret"]).encode(), payload, hashlib.sha256).hexdigest()
        return json.dumps({"op": "login", "args": [access_key or key["access_key"], ts, sign]})

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"op": "subscribe",
                                              "args": ["spot/user/balance:BALANCE_UPDATE"]}))
                answer = json.loads(await ws.receive_str(timeout=10))
                assert answer["errorCode"] == 30001 and "data" not in answer
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["spot/ticker:BTC_USDT"]}))
                assert json.loads(await ws.receive_str(timeout=10))["errorCode"] == 30039
                await ws.send_str(login())
                assert json.loads(await ws.receive_str(timeout=10)) == {"event": "login"}
                await ws.send_str(json.dumps({"op": "subscribe", "args": [
                    "spot/user/order:BTC_USDT", "spot/user/orders:ALL_SYMBOLS",
                    "spot/user/balance:BALANCE_UPDATE", "spot/user/order:NOPE_USDT"]}))
                replies = [json.loads(await ws.receive_str(timeout=10)) for _ in range(4)]
                assert [r.get("topic") for r in replies[:3]] == [
                    "spot/user/order:BTC_USDT", "spot/user/orders:ALL_SYMBOLS",
                    "spot/user/balance:BALANCE_UPDATE"]
                assert replies[3]["errorCode"] == 70002
            for bad, code in [(login(secret="f" * 64), 30005),
                              (login(ts=str(int(time.time() * 1000) - 120_000)), 30007),
                              (login(access_key="nope"), 30002),
                              (json.dumps({"op": "login", "args": [key["access_key"]]}), 30006)]:
                async with session.ws_connect(url) as ws:
                    await ws.send_str(bad)
                    answer = json.loads(await ws.receive_str(timeout=10))
                    assert answer["event"] == "error" and answer["errorCode"] == code, answer
                    closing = await ws.receive(timeout=10)
                    assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)

    asyncio.run(scenario())


def test_a_sweep_of_many_makers_arrives_as_bounded_trade_pushes_in_order(server):
    """One taker order that fills 150 makers makes 150 trades in one command: the feed splits
    them into pushes of at most 100 trades, every trade arrives once, in trade order."""
    from test_bad_input import call, expect
    _, maker = server.funded_user("sweep-maker@example.com", {"BTC": "1"})
    _, taker = server.funded_user("sweep-taker@example.com", {"USDT": "10000"})
    for i in range(150):
        body = {"symbol": "BTC_USDT", "side": "sell", "type": "limit", "size": "0.001",
                "price": f"{30000 + i}"}
        expect(call(server.base, "/spot/v2/submit_order", body, key=maker), 1000, 200)
    url = server.base.replace("http://", "ws://") + "/api?protocol=1.1"

    async def scenario():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url) as ws:
                await ws.send_str(json.dumps({"op": "subscribe", "args": ["spot/trade:BTC_USDT"]}))
                ack = json.loads(await ws.receive_str(timeout=10))
                assert ack["event"] == "subscribe", ack
                body = {"symbol": "BTC_USDT", "side": "buy", "type": "limit", "size": "0.15",
                        "price": "30149"}
                expect(call(server.base, "/spot/v2/submit_order", body, key=taker), 1000, 200)
                pushes = []
                while sum(len(p) for p in pushes) < 150:
                    message = json.loads(await ws.receive_str(timeout=20))
                    assert message["table"] == "spot/trade", message
                    pushes.append(message["data"])
                return pushes

    pushes = asyncio.run(scenario())
    assert len(pushes) >= 2 and all(1 <= len(p) <= 100 for p in pushes), [len(p) for p in pushes]
    prices = [float(t["price"]) for p in pushes for t in p]
    assert prices == [30000.0 + i for i in range(150)], prices
