"""Crash test: the real binary under concurrent signed order load, SIGKILLed at random moments and
restarted. After every restart: every acknowledged order is present, every acknowledged cancel
holds, the journal verifies, the ledger totals per asset are what the deposits made them, and
the SQL projections match the engine.

Run a long campaign with:  python tests/e2e/crashload.py --cycles 100
"""

import argparse
import hashlib
import hmac
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from conftest import BIN, Server  # noqa: E402

USERS = 4
THREADS = 6


def signed_post(base, key, path, body):
    raw = json.dumps(body, separators=(",", ":"))
    ts = str(int(time.time() * 1000))
    sign = hmac.new(key["secret"].encode(), f"{ts}#{key['memo']}#{raw}".encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(base + path, data=raw.encode(), method="POST", headers={
        "Content-Type": "application/json", "X-BM-KEY": key["access_key"],
        "X-BM-TIMESTAMP": ts, "X-BM-SIGN": sign})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        return json.load(e)


class Ledger:
    """What the clients were told: acknowledged orders and cancels."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}      # order id -> key index
        self.cancelled = set()
        self.live = []        # acknowledged orders not yet cancelled (may have filled meanwhile)


def load(base, keys, ledger, stop, seed):
    rng = random.Random(seed)
    while not stop.is_set():
        k = rng.randrange(len(keys))
        try:
            target = None
            if rng.random() < 0.4:
                with ledger.lock:
                    if ledger.live:
                        target = ledger.live.pop(rng.randrange(len(ledger.live)))
            if target:
                oid, ok = target
                r = signed_post(base, keys[ok], "/spot/v3/cancel_order", {"symbol": "BTC_USDT", "order_id": oid})
                if r.get("code") == 1000:
                    with ledger.lock:
                        ledger.cancelled.add(oid)
                continue
            side = rng.choice(["buy", "sell"])
            price = 30000 + rng.randint(-5, 5) * 10  # a narrow band, so orders often cross and fill
            size = f"0.{rng.randint(1, 50):03d}"
            r = signed_post(base, keys[k], "/spot/v2/submit_order",
                            {"symbol": "BTC_USDT", "side": side, "type": "limit", "size": size, "price": str(price)})
            if r.get("code") == 1000:
                oid = r["data"]["order_id"]
                with ledger.lock:
                    ledger.orders[oid] = k
                    ledger.live.append((oid, k))
        except (OSError, ValueError):
            return  # the server is gone (killed): stop this worker


OLDER_SAMPLE = 300


def check(server, keys, ledger, expected_totals, checked, rng):
    """Checks every order acknowledged since the last check, and a random sample of older ones
    (each of those was checked in full after the cycle that acknowledged it)."""
    problems = []
    fresh = [o for o in ledger.orders if o not in checked or (o in ledger.cancelled and ("c", o) not in checked)]
    older = sorted(o for o in checked if isinstance(o, str))
    sample = rng.sample(older, min(OLDER_SAMPLE, len(older)))
    for oid in fresh + sample:
        k = ledger.orders[oid]
        r = signed_post(server.base, keys[k], "/spot/v4/query/order", {"orderId": oid})
        if r.get("code") != 1000:
            problems.append(f"acknowledged order {oid} missing: {r}")
        elif oid in ledger.cancelled and r["data"]["state"] not in ("canceled", "partially_canceled"):
            problems.append(f"acknowledged cancel of {oid} lost: state {r['data']['state']}")
    checked.update(fresh)
    checked.update(("c", o) for o in fresh if o in ledger.cancelled)
    status = server.admin("status")
    totals = {t["asset"]: t["users_available"] + t["users_held"] + t["fee_revenue"] + t["safeguard"]
              for t in status["ledger"]}
    for t in status["ledger"]:
        if t["sum"] != 0:
            problems.append(f"ledger of {t['asset']} does not sum to zero: {t}")
    if totals != expected_totals:
        problems.append(f"ledger totals changed: {totals} != {expected_totals}")
    consistency = server.admin("consistency")
    if not consistency["consistent"]:
        problems.append(f"projections differ from the engine: {consistency['problems'][:5]}")
    return problems, status


def verify_journal(data_dir):
    out = subprocess.run([BIN, "journal", "verify", "--data-dir", data_dir, "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        return [f"journal verify failed: {out.stderr.strip()}"]
    return []


def campaign(cycles, data_dir, seed=1, min_run_s=0.3, max_run_s=2.0, log=print):
    rng = random.Random(seed)
    server = Server(data_dir).start()
    keys = []
    for i in range(USERS):
        _, key = server.funded_user(f"crash{i}@example.com", {"BTC": "1000", "USDT": "100000000"})
        keys.append(key)
    expected = {t["asset"]: t["users_available"] + t["users_held"] + t["fee_revenue"] + t["safeguard"]
                for t in server.admin("status")["ledger"]}
    ledger = Ledger()
    checked = set()
    results = []
    try:
        for cycle in range(1, cycles + 1):
            stop = threading.Event()
            workers = [threading.Thread(target=load, args=(server.base, keys, ledger, stop, rng.random()))
                       for _ in range(THREADS)]
            for w in workers:
                w.start()
            time.sleep(rng.uniform(min_run_s, max_run_s))
            server.kill()
            stop.set()
            for w in workers:
                w.join()
            problems = verify_journal(data_dir)
            server.start()
            more, status = check(server, keys, ledger, expected, checked, rng)
            problems += more
            results.append({"cycle": cycle, "acked_orders": len(ledger.orders), "acked_cancels": len(ledger.cancelled),
                            "last_seq": status["last_seq"], "problems": problems})
            log(json.dumps(results[-1]))
            if problems:
                break
    finally:
        server.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bulwark-crash-") as data_dir:
        started = time.time()
        results = campaign(args.cycles, data_dir, args.seed)
        failed = [r for r in results if r["problems"]]
        last = results[-1] if results else {}
        print(json.dumps({"cycles": len(results), "failed_cycles": len(failed), "acked_orders": last.get("acked_orders"),
                          "acked_cancels": last.get("acked_cancels"), "last_seq": last.get("last_seq"),
                          "seconds": round(time.time() - started, 1)}))
        sys.exit(1 if failed or len(results) < args.cycles else 0)


if __name__ == "__main__":
    main()
