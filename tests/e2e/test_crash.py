"""A short crash campaign in the regular suite (the 100-cycle one: python tests/e2e/crashload.py
--cycles 100)."""

import tempfile

from crashload import campaign


def test_sigkill_under_load_keeps_every_acknowledged_command():
    with tempfile.TemporaryDirectory(prefix="bulwark-crash-") as data_dir:
        results = campaign(cycles=4, data_dir=data_dir, seed=7)
    assert len(results) == 4
    assert all(not r["problems"] for r in results), results
    assert results[-1]["acked_orders"] > 0
    assert results[-1]["deposits"] > 0 and results[-1]["sessions"] > 0, results[-1]
