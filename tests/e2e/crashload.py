"""Crash test: the real binary under a mixed concurrent load (signed orders and cancels, deposits
through the operator API, logins through the account API), SIGKILLed at random moments and
restarted. After every restart: every acknowledged order is present, every acknowledged cancel
holds, every deposit is credited exactly once (those cut off by the kill are sent again with the
same reference, which must not credit twice), every session a login handed out still works, the
journal verifies, the ledger totals per asset are exactly what the deposits made them, and the
SQL read models match the engine. Each cycle reports how long the restart took (process start
until it serves).

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
DEPOSIT_UNITS = 7  # USDT per deposit: small against the balances, easy to sum
LOGIN_USER = "crash-login@example.com"


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
    """What the clients were told: acknowledged orders, cancels, deposits and sessions."""

    def __init__(self):
        self.lock = threading.Lock()
        self.orders = {}      # order id -> key index
        self.cancelled = set()
        self.live = []        # acknowledged orders not yet cancelled (may have filled meanwhile)
        self.deposits = {}    # reference -> (user id, acknowledged?)
        self.sessions = []    # session tokens a login answered with


def deposit(server, reference, user):
    return server.admin_post("/admin/v1/deposits",
                             {"user_id": user, "asset": "USDT", "amount": str(DEPOSIT_UNITS), "reference": reference})


def deposits(server, users, ledger, stop, seed):
    """Credits small USDT deposits, each under a new reference, until the server dies."""
    rng = random.Random(seed)
    while not stop.is_set():
        reference = f"crash-dep-{rng.getrandbits(64):016x}"
        user = rng.choice(users)
        with ledger.lock:
            ledger.deposits[reference] = (user, False)
        try:
            status, _ = deposit(server, reference, user)
        except (OSError, ValueError):
            return
        if status == 200:
            with ledger.lock:
                ledger.deposits[reference] = (user, True)


def logins(server, ledger, stop):
    """Logs in (the password step runs argon2) and keeps the sessions handed out."""
    from test_accounts import login
    while not stop.is_set():
        try:
            status, body, _ = login(server, LOGIN_USER)
        except (OSError, ValueError):
            return
        if status == 200 and body.get("session_token"):
            with ledger.lock:
                ledger.sessions.append(body["session_token"])


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


def settle_deposits(server, ledger):
    """Sends every deposit the kill cut off again with its reference (credited once either way)."""
    problems = []
    for reference, (user, acked) in list(ledger.deposits.items()):
        if not acked:
            status, body = deposit(server, reference, user)
            if status != 200:
                problems.append(f"deposit {reference} sent again: {status} {body}")
            ledger.deposits[reference] = (user, True)
    return problems


def check(server, keys, ledger, expected_totals, deposit_units, checked, rng):
    """Checks every order acknowledged since the last check, and a random sample of older ones
    (each of those was checked in full after the cycle that acknowledged it)."""
    from test_accounts import call
    problems = []
    for session in ledger.sessions[-20:]:
        status, body, _ = call(server, "GET", "/api/v1/me", token=session)
        if status != 200:
            problems.append(f"a session a login handed out is gone: {status} {body}")
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
    # Every deposit sent is credited exactly once by now (cut-off ones were sent again).
    expected_totals = dict(expected_totals)
    expected_totals["USDT"] += len(ledger.deposits) * deposit_units
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


def totals(server):
    return {t["asset"]: t["users_available"] + t["users_held"] + t["fee_revenue"] + t["safeguard"]
            for t in server.admin("status")["ledger"]}


def campaign(cycles, data_dir, seed=1, min_run_s=0.3, max_run_s=2.0, log=print):
    from test_accounts import signup_verified
    rng = random.Random(seed)
    server = Server(data_dir).start()
    keys, users = [], []
    for i in range(USERS):
        user, key = server.funded_user(f"crash{i}@example.com", {"BTC": "1000", "USDT": "100000000"})
        keys.append(key)
        users.append(user)
    signup_verified(server, LOGIN_USER)
    # One deposit measures what a deposit adds in the ledger's units.
    before = totals(server)
    assert deposit(server, "crash-dep-calibration", users[0])[0] == 200
    expected = totals(server)
    deposit_units = expected["USDT"] - before["USDT"]
    ledger = Ledger()
    checked = set()
    results = []
    try:
        for cycle in range(1, cycles + 1):
            stop = threading.Event()
            workers = [threading.Thread(target=load, args=(server.base, keys, ledger, stop, rng.random()))
                       for _ in range(THREADS)]
            workers.append(threading.Thread(target=deposits, args=(server, users, ledger, stop, rng.random())))
            workers.append(threading.Thread(target=logins, args=(server, ledger, stop)))
            for w in workers:
                w.start()
            time.sleep(rng.uniform(min_run_s, max_run_s))
            server.kill()
            stop.set()
            for w in workers:
                w.join()
            problems = verify_journal(data_dir)
            restarted = time.time()
            server.start()
            recovery_s = round(time.time() - restarted, 2)
            problems += settle_deposits(server, ledger)
            more, status = check(server, keys, ledger, expected, deposit_units, checked, rng)
            problems += more
            results.append({"cycle": cycle, "acked_orders": len(ledger.orders), "acked_cancels": len(ledger.cancelled),
                            "deposits": len(ledger.deposits), "sessions": len(ledger.sessions),
                            "last_seq": status["last_seq"], "recovery_s": recovery_s, "problems": problems})
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
        recoveries = sorted(r["recovery_s"] for r in results)
        print(json.dumps({"cycles": len(results), "failed_cycles": len(failed), "acked_orders": last.get("acked_orders"),
                          "acked_cancels": last.get("acked_cancels"), "deposits": last.get("deposits"),
                          "sessions": last.get("sessions"), "last_seq": last.get("last_seq"),
                          "recovery_s_median": recoveries[len(recoveries) // 2] if recoveries else None,
                          "recovery_s_max": recoveries[-1] if recoveries else None,
                          "seconds": round(time.time() - started, 1)}))
        sys.exit(1 if failed or len(results) < args.cycles else 0)


if __name__ == "__main__":
    main()
