"""The public WebSocket through unmodified ccxt.pro 4.5.70 (`ccxt.pro.bitmart`): tickers, the
incremental order book (equal to REST `fetch_order_book` after trading), trades and candles while
two users trade; an idle connection that outlives ccxt's ping deadline; and every bad request
answered with an error that leaves the connection and the server working."""

import asyncio
import json

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
