"""The Safeguard fire drill end to end: `bulwark drill` runs the real exchange through a
hot-wallet theft (trades, theft, reconciliation, incident with emails and banner, claims opened,
one rejected as a compromise on the user's side, payouts signed 2 of 3 with a crash injected
between approval and payout and paid once, the treasury's refill, the signed report, every
user's proof, containment lifted). The test checks the drill's own verdict, then re-checks what
it published with the offline verifiers, as an outsider would."""

import os
import re
import subprocess
import tempfile

from conftest import BIN

STEPS = 12


def test_the_fire_drill_passes_and_its_report_and_proof_verify_offline():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-drill-") as data_dir:
        out = subprocess.run([BIN, "drill", "--data-dir", data_dir], capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        text = out.stdout
        assert [int(n) for n in re.findall(r"^\[(\d+)/12\]", text, re.M)] == list(range(1, STEPS + 1)), text
        assert "FAILED" not in text
        for expected in ["reconciliation finds 2.00000000 BTC missing",
                         "the home page shows the incident banner",
                         "carol@drill.example's claim rejected",
                         "the exchange dies before paying",
                         "a third signature is refused",
                         "claims: 3 filed, 2 approved, 1 rejected, 2 paid",
                         "halt lifted: BTC_USDT trades again"]:
            assert expected in text, expected
        checks = int(re.search(r"fire drill passed: (\d+) checks", text).group(1))
        assert checks == text.count("\n  ok      "), text

        drill = os.path.join(data_dir, "drill")
        key = open(os.path.join(drill, "key.hex")).read().strip()
        report, previous = os.path.join(drill, "report-2.json"), os.path.join(drill, "report-1.json")
        verified = subprocess.run([BIN, "verify-report", report, "--key", key, "--prev", previous],
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0 and "follows the previous report" in verified.stdout, verified.stderr
        # The control proofs the drill's offline seed made verify offline against the same bytes.
        control = os.path.join(drill, "control-2.json")
        verified = subprocess.run([BIN, "verify-report", report, "--key", key, "--control", control],
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0 and "BTC: control proven for" in verified.stdout, verified.stderr
        proof = os.path.join(drill, "proof-alice-BTC.json")
        verified = subprocess.run([BIN, "verify-proof", proof, "--report", report, "--key", key],
                                  capture_output=True, text=True, timeout=60)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        # A proof with its balance changed fails offline too.
        tampered = open(proof).read().replace('"balance": "', '"balance": "1', 1)
        with open(proof, "w") as f:
            f.write(tampered)
        refused = subprocess.run([BIN, "verify-proof", proof, "--report", report],
                                 capture_output=True, text=True, timeout=60)
        assert refused.returncode != 0 and "does not verify" in refused.stderr, refused.stdout + refused.stderr


def test_the_drill_refuses_a_data_directory_in_use():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-drill-used-") as data_dir:
        with open(os.path.join(data_dir, "journal-placeholder"), "w") as f:
            f.write("x")
        out = subprocess.run([BIN, "drill", "--data-dir", data_dir], capture_output=True, text=True, timeout=60)
        assert out.returncode != 0 and "is not empty" in out.stderr, out.stdout + out.stderr
        assert os.listdir(data_dir) == ["journal-placeholder"], "nothing was written"
