"""A full disk under the real binary, on a small tmpfs of its own: while the journal's disk
has less free space than its reserve (two segments), every command is refused with a clear
error and nothing is journaled, reads go on, and when space returns commands are taken again
without a restart; a data directory that became read-only stops the start with the reason.
Needs root to mount the tmpfs (CI runs as root)."""

import os
import subprocess
import tempfile
import time

import ccxt
import pytest

from conftest import BIN, Server, free_port
from test_ccxt import client

SEGMENT = 1 << 20  # 1 MiB journal segments: a 2 MiB reserve


def mount_tmpfs(path, size_mb):
    out = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", path],
                         capture_output=True, text=True)
    return out.returncode == 0, out.stderr


pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_a_full_disk_refuses_commands_until_space_returns():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-diskfull-") as mount:
        ok, err = mount_tmpfs(mount, 48)
        assert ok, err
        try:
            data_dir = os.path.join(mount, "data")
            os.mkdir(data_dir)
            srv = Server(data_dir, extra_args=["--journal-segment-bytes", str(SEGMENT)]).start()
            try:
                _, key = srv.funded_user("full@example.com", {"USDT": "1000"})
                ex = client(srv.base, key)
                ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
                seq = srv.admin("status")["last_seq"]

                # Fill the disk to 1 MiB free: below the reserve, with room for logs and reads.
                filler = os.path.join(mount, "filler")
                with open(filler, "wb") as f:
                    f.write(b"\0" * (free_bytes(mount) - SEGMENT))
                time.sleep(2.5)
                with pytest.raises(ccxt.ExchangeNotAvailable) as refused:  # code 30014: try later
                    ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
                assert "disk full" in str(refused.value), refused.value
                # Deposits (the operator's) are refused too, reads still answer, nothing was written.
                out = subprocess.run([BIN, "admin", "--url", srv.admin_url, "--data-dir", data_dir, "--json",
                                      "deposit", "credit", "--user", "1", "--asset", "USDT", "--amount", "1",
                                      "--ref", "while-full"], capture_output=True, text=True, timeout=60)
                assert out.returncode != 0 and "disk full" in out.stdout + out.stderr, out.stdout + out.stderr
                assert ex.fetch_balance()["USDT"]["total"] == 1000
                assert srv.admin("status")["last_seq"] == seq

                os.remove(filler)
                time.sleep(2.5)
                ex.create_order("BTC/USDT", "limit", "buy", 0.001, 20000)
                assert srv.admin("status")["last_seq"] == seq + 1
                log = open(os.path.join(data_dir, "server.log")).read()
                assert "commands refused until the journal can be written again" in log
                assert "room to write again" in log
            finally:
                srv.stop()
                srv.log.close()

            # The same data directory made read-only: the start stops and says why.
            remount = subprocess.run(["mount", "-o", "remount,ro", mount], capture_output=True, text=True)
            assert remount.returncode == 0, remount.stderr
            started = time.time()
            out = subprocess.run([BIN, "serve", "--data-dir", data_dir, "--http-addr", f"127.0.0.1:{free_port()}",
                                  "--admin-addr", f"127.0.0.1:{free_port()}", "--journal-segment-bytes", str(SEGMENT)],
                                 capture_output=True, text=True, timeout=60)
            assert time.time() - started < 10, "said at once, not after a timeout"
            assert out.returncode != 0 and "does not take writes" in out.stderr \
                and "Read-only file system" in out.stderr, out.stderr[-800:]
        finally:
            subprocess.run(["umount", "-l", mount])
