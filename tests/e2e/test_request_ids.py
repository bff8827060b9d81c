"""Request ids from the answer to the logs and the journal, with the real binary: every public
answer carries `X-Request-Id`; with `BULWARK_LOG_FORMAT=json` every log line is one JSON object
and the request's lines carry its id (and a proxy's own id as `upstream`); and the journal
record of the order that request placed names the same id (`bulwark journal dump`)."""

import json
import os
import subprocess
import tempfile
import urllib.request

from conftest import BIN, Server
from test_ccxt import client


def test_one_id_from_the_answer_to_the_log_and_the_journal(monkeypatch):
    monkeypatch.setenv("BULWARK_LOG_FORMAT", "json")
    monkeypatch.setenv("BULWARK_LOG", "info,bulwark_access=debug")
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-request-ids-") as data_dir:
        srv = Server(data_dir).start()
        try:
            _, key = srv.funded_user("rid@example.com", {"USDT": "1000"})
            ex = client(srv.base, key)
            order = ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
            request_id = ex.last_response_headers["X-Request-Id"]
            assert len(request_id) == 16 and int(request_id, 16) >= 0
            # A proxy's id is kept beside ours.
            request = urllib.request.Request(srv.base + "/healthz", headers={"X-Request-Id": "proxy-7"})
            with urllib.request.urlopen(request, timeout=10) as r:
                health_id = r.headers["X-Request-Id"]
            assert health_id != request_id
        finally:
            srv.stop()

        lines = [json.loads(line) for line in open(os.path.join(data_dir, "server.log"))
                 if line.startswith("{")]
        assert lines and all("level" in line and "fields" in line for line in lines)
        ours = [line for line in lines if line.get("span", {}).get("id") == request_id]
        assert any(line["target"] == "bulwark_access" and line["fields"]["status"] == 200 for line in ours), ours
        assert ours[0]["span"]["path"] == "/spot/v2/submit_order"
        proxied = [line for line in lines if line.get("span", {}).get("id") == health_id]
        assert proxied and proxied[0]["span"]["upstream"] == "proxy-7"

        dump = subprocess.run([BIN, "journal", "dump", "--data-dir", data_dir, "--request-id", request_id, "--json"],
                              capture_output=True, text=True, timeout=60)
        assert dump.returncode == 0, dump.stderr
        records = [json.loads(line) for line in dump.stdout.splitlines()]
        assert [(r["kind"], r["request_id"]) for r in records] == [("place_order", request_id)], records
        everything = subprocess.run([BIN, "journal", "dump", "--data-dir", data_dir, "--json"],
                                    capture_output=True, text=True, timeout=60)
        kinds = [json.loads(line)["kind"] for line in everything.stdout.splitlines()]
        assert "deposit" in kinds and "place_order" in kinds and order["id"]
        # Commands nobody requested over HTTP (the operator's deposit) name no request.
        deposits = [json.loads(line) for line in everything.stdout.splitlines() if '"deposit"' in line]
        assert all(d["request_id"] is None for d in deposits)
        for bad_id in ["xyz", "+12345678901234", "abc"]:
            bad = subprocess.run([BIN, "journal", "dump", "--data-dir", data_dir, "--request-id", bad_id],
                                 capture_output=True, text=True, timeout=60)
            assert bad.returncode != 0 and "16 hex digits" in bad.stderr, bad_id
