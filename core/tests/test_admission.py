"""core/admission.py: a gate that admits up to its limit, refuses the next at once, and never leaks a place."""

import asyncio

import pytest

from core.admission import AdmissionGate
from core.errors import Overloaded
from core.testing import run_in_threads


@pytest.fixture
def gate(settings):
    settings.PARLEY_TEST_GATE_LIMIT = 2
    return AdmissionGate(limit_setting="PARLEY_TEST_GATE_LIMIT", retry_after=0.5)


def test_admits_up_to_its_limit_and_refuses_the_next_with_a_retry_hint(gate):
    with gate.admitted(), gate.admitted():
        with pytest.raises(Overloaded) as refusal, gate.admitted():
            pass
        held = gate.in_flight

    assert (refusal.value.code, refusal.value.http_status, refusal.value.retry_after) == ("overloaded", 503, 0.5)
    assert held == 2  # the refused one took no place
    assert gate.in_flight == 0


def test_each_refusal_is_counted_on_the_workers_metrics(gate, client):
    from core.tests.test_metrics import samples

    before = samples(client.get("/metrics").content.decode())["parley_refused_overloaded_total"]
    with gate.admitted(), gate.admitted():
        for _ in range(3):
            with pytest.raises(Overloaded), gate.admitted():
                pass

    after = samples(client.get("/metrics").content.decode())["parley_refused_overloaded_total"]
    assert after - before == 3


def test_a_place_is_given_back_when_the_work_raises(gate):
    for _ in range(5):
        with pytest.raises(RuntimeError), gate.admitted():
            raise RuntimeError("the send failed")

    assert gate.in_flight == 0
    with gate.admitted(), gate.admitted():
        assert gate.in_flight == 2


def test_a_place_is_given_back_when_the_waiting_coroutine_is_cancelled(gate):
    async def scenario():
        started = asyncio.Event()

        async def send():
            with gate.admitted():
                started.set()
                await asyncio.sleep(60)  # a send stuck in the database, say, when the socket goes away

        task = asyncio.create_task(send())
        await started.wait()
        during = gate.in_flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return during

    assert asyncio.run(scenario()) == 1
    assert gate.in_flight == 0


def test_the_limit_holds_when_threads_enter_at_once_and_every_place_comes_back(settings, gate):
    settings.PARLEY_TEST_GATE_LIMIT = 3
    highest, refused = [], []

    def enter(_index):
        for _ in range(200):
            try:
                with gate.admitted():
                    highest.append(gate.in_flight)
            except Overloaded:
                refused.append(1)

    failures = run_in_threads(enter, list(range(8)))

    assert failures == []
    assert max(highest) <= 3
    assert len(highest) + len(refused) == 8 * 200
    assert gate.in_flight == 0


def test_the_limit_is_read_when_a_place_is_asked_for(settings, gate):
    settings.PARLEY_TEST_GATE_LIMIT = 1
    with gate.admitted(), pytest.raises(Overloaded), gate.admitted():
        pass
