"""The one restart back-off policy the local, Ray-bridge and Ray-actor engines share."""

from __future__ import annotations

from server.engine.restarts import HEALTHY_UPTIME_S, MAX_BACKOFF_S, RestartBackoff


def test_quick_deaths_back_off_doubling_up_to_the_cap() -> None:
    b = RestartBackoff()
    delays = [b.after_exit(1.0) for _ in range(9)]
    assert delays == [0.0, 1.0, 2.0, 4.0, 8.0, 16.0, MAX_BACKOFF_S, MAX_BACKOFF_S, MAX_BACKOFF_S]


def test_a_healthy_run_starts_the_count_again_but_one_that_never_came_up_does_not() -> None:
    b = RestartBackoff()
    for _ in range(4):
        b.after_exit(1.0)
    assert b.after_exit(HEALTHY_UPTIME_S) == 0.0 and b.quick_deaths == 0
    b.after_exit(1.0)
    assert b.after_exit(HEALTHY_UPTIME_S * 2, healthy=False) == 1.0  # long, but never ready
