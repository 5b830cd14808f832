"""The recovery measure of the fault suite (tests/e2e/faults.py): when had the pipeline caught up?"""

import pytest

from tests.e2e.faults import caught_up_after


def test_a_backlog_is_caught_up_when_everything_sent_before_it_came_out():
    # Sent every second; the fault at t=10 holds outputs until t=20, then the backlog drains by t=22.
    delivered = [(float(t), t + 0.5) for t in range(10)]
    delivered += [(float(t), 20.0 + (t - 10) * 0.2) for t in range(10, 20)]
    delivered += [(float(t), t + 0.5) for t in range(20, 30)]
    # Caught up when the last of the backlog (sent at 19) came out at 21.8: 11.8 s after the fault.
    assert caught_up_after(delivered, fault_at=10.0, normal_s=1.5) == pytest.approx(11.8)


def test_a_fault_that_never_touched_the_stream_recovers_at_the_next_output():
    delivered = [(float(t), t + 0.5) for t in range(30)]
    assert caught_up_after(delivered, fault_at=10.2, normal_s=1.5) == 11.5 - 10.2


def test_no_turn_after_the_fault_means_no_recovery():
    delivered = [(float(t), t + 0.5) for t in range(10)]
    assert caught_up_after(delivered, fault_at=10.0, normal_s=1.5) is None


def test_a_repeat_is_the_same_event_apart_from_its_processing_measurements():
    from services.runtime.accounting import same_content

    first = {"event_id": "e", "produced_at": "t1", "score": 5.5940818128874525e-06,
             "predictions": [{"label": "a", "latency_ms": 41.6, "probability": 0.91234567}]}
    again = {"event_id": "e", "produced_at": "t2", "score": 5.594086815108312e-06,
             "predictions": [{"label": "a", "latency_ms": 1138.0, "probability": 0.91234571}]}
    assert same_content(first, again)
    assert not same_content(first, {**again, "predictions": [{"label": "b", "latency_ms": 1.0,
                                                               "probability": 0.91234571}]})
    assert not same_content(first, {**again, "score": 5.7e-06})
    assert not same_content(first, {k: v for k, v in again.items() if k != "score"})
