"""Test kit for end-to-end tests: starts the real `bulwark` binary on free loopback ports with its
own data directory, and creates users, keys and deposits through the real admin CLI."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("BULWARK_BIN", os.path.join(ROOT, "target", "debug", "bulwark"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir, database_url=None, rate_limit=100_000, extra_args=(),
                 api_rate_scale=1_000, tls=None):
        self.data_dir = data_dir
        # (certificate file, key file, an ssl.SSLContext that trusts it): the public listener
        # speaks TLS.
        self.tls = tls
        self.extra_args = list(extra_args)
        self.http_port = free_port()
        self.admin_port = free_port()
        self.database_url = database_url
        self.rate_limit = rate_limit
        self.api_rate_scale = api_rate_scale
        self.proc = None
        self.log = open(os.path.join(data_dir, "server.log"), "ab")

    @property
    def base(self):
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.http_port}"

    @property
    def admin_url(self):
        return f"http://127.0.0.1:{self.admin_port}"

    def start(self):
        args = [BIN, "serve", "--data-dir", self.data_dir,
                "--http-addr", f"127.0.0.1:{self.http_port}",
                "--admin-addr", f"127.0.0.1:{self.admin_port}",
                # Every test client shares 127.0.0.1; the limit itself is tested on its own.
                "--rate-limit-per-ip", str(self.rate_limit),
                # The endpoint groups' budgets likewise; tests of the budgets pass 1.
                "--api-rate-limit-scale", str(self.api_rate_scale)]
        if self.database_url:
            args += ["--database-url", self.database_url]
        context = None
        if self.tls:
            cert, key, context = self.tls
            args += ["--tls-cert", cert, "--tls-key", key]
        args += self.extra_args
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.data_dir}/server.log")
            try:
                with urllib.request.urlopen(self.base + "/spot/v1/symbols/details", timeout=1,
                                            context=context) as r:
                    if json.load(r)["data"]["symbols"]:
                        return self
            except Exception:
                time.sleep(0.1)
        raise RuntimeError("server did not become ready")

    def kill(self):
        """SIGKILL: no shutdown path runs, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def admin_post(self, path, body):
        """One operator API call with the data directory's admin token; answers (status, JSON)."""
        token = open(os.path.join(self.data_dir, "admin.token")).read().strip()
        req = urllib.request.Request(self.admin_url + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def admin(self, *args):
        out = subprocess.run([BIN, "admin", "--url", self.admin_url, "--data-dir", self.data_dir, "--json", *args],
                             capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise RuntimeError(f"admin {args} failed: {out.stderr}{out.stdout}")
        return json.loads(out.stdout)

    def funded_user(self, email, deposits, kyc_tier="L1"):
        # Trading needs KYC level L1; bots created by the operator get it explicitly.
        user = self.admin("user", "create", "--email", email, "--kyc-tier", kyc_tier)["user_id"]
        key = self.admin("apikey", "create", "--user", str(user), "--scopes", "read,trade")
        for asset, amount in deposits.items():
            self.admin("deposit", "credit", "--user", str(user), "--asset", asset,
                       "--amount", amount, "--ref", f"{email}-{asset}")
        return user, key


@pytest.fixture
def server():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-") as data_dir:
        srv = Server(data_dir).start()
        try:
            yield srv
        finally:
            srv.stop()
