"""Messages leave through the configured SMS gateway (here a local HTTP server standing in for
the operator's provider) instead of the outbox, and the sender comes from the config file."""

import glob
import http.server
import json
import os
import re
import tempfile
import threading

from conftest import Server, free_port
from test_accounts import PASSWORD, agreement, call


class Gateway(http.server.BaseHTTPRequestHandler):
    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Gateway.received.append((self.headers.get("Authorization"), json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_sms_goes_through_the_configured_gateway():
    port = free_port()
    gateway = http.server.ThreadingHTTPServer(("127.0.0.1", port), Gateway)
    threading.Thread(target=gateway.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-sms-") as data_dir:
        config = os.path.join(data_dir, "bulwark.toml")
        with open(config, "w") as f:
            f.write(f'[sms_gateway]\nurl = "http://127.0.0.1:{port}/send"\nbearer_token = "gw-token"\n')
        srv = Server(data_dir, extra_args=["--config", config]).start()
        try:
            phone = "+14155550142"
            status, body, _ = call(srv, "POST", "/api/v1/signup",
                                   {"identifier": phone, "password": PASSWORD, "agreement_version": agreement(srv)})
            assert status == 202, body
            auth, message = Gateway.received[-1]
            assert auth == "Bearer gw-token" and message["to"] == phone, message
            code = re.search(r"verification code is (\d{6})", message["text"]).group(1)
            assert not glob.glob(os.path.join(data_dir, "outbox", "*.sms.txt")), "not in the outbox"
            status, body, _ = call(srv, "POST", "/api/v1/verify",
                                   {"identifier": phone, "code": code, "signup_token": body["signup_token"]})
            assert status == 200, body
        finally:
            srv.stop()
            gateway.shutdown()
