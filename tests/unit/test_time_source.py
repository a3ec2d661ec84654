"""The clock check every service shares: the kernel's synchronisation state and error bound,
flagged in one line when it changes, gauges for status files and metrics."""

from __future__ import annotations

import logging

import pytest

from lawful_intercept.adapters.time_source import ClockCheck, ClockState, read_clock


def test_the_kernel_answers_on_this_machine() -> None:
    state = read_clock()
    assert isinstance(state, ClockState)
    assert state.max_error >= 0 and state.estimated_error >= 0


def test_an_unsynchronised_or_loose_clock_is_flagged_once_per_change(
    caplog: pytest.LogCaptureFixture,
) -> None:
    states = iter([
        ClockState(True, 0.01, 0.001),
        ClockState(True, 0.02, 0.001),
        ClockState(True, 5.0, 0.5),  # synchronised, but beyond the 1 s bound
        ClockState(False, 16.0, 16.0),
        ClockState(True, 0.01, 0.001),
    ])  # fmt: skip
    check = ClockCheck(max_error=1.0, read=lambda: next(states), name="li test")
    with caplog.at_level(logging.INFO):
        gauges = [check.check() for _ in range(5)]
    assert [g["time_synchronised"] for g in gauges] == [1.0, 1.0, 0.0, 0.0, 1.0]
    assert gauges[3]["time_max_error_seconds"] == 16.0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "NOT synchronised within 1 s" in warnings[0].getMessage()
    assert sum("is synchronised" in r.getMessage() for r in caplog.records) == 2


def test_no_clock_to_read_gives_no_gauges() -> None:
    assert ClockCheck(read=lambda: None).check() == {}


def test_the_refuse_policy_refuses_only_while_the_clock_is_untrusted() -> None:
    states = iter([ClockState(True, 0.2, 0.01), ClockState(False, 16.0, 16.0)])
    check = ClockCheck(max_error=1.0, read=lambda: next(states), policy="refuse")
    assert check.fault() is None and not check.refusing
    fault = check.fault()
    assert fault == ("the clock is not synchronised within 1 s (kernel: unsynchronised, "
                     "maximum error 16.000 s)")  # fmt: skip
    assert check.refusing
    flagging = ClockCheck(read=lambda: ClockState(False, 16.0, 16.0))
    assert flagging.fault() is not None and not flagging.refusing  # flag: say it, refuse nothing
    assert flagging.record() == {"synchronised": False, "max_error": 16.0}
    with pytest.raises(ValueError, match="one of flag, refuse"):
        ClockCheck(policy="ignore")
