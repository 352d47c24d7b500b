"""core/admission.py: a gate that admits up to its limit, refuses the next at once, and never leaks a place; a
queue that has the next wait its turn, in arrival order, instead."""

import asyncio
import threading
import time

import pytest

from core.admission import AdmissionGate, AdmissionQueue
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


# ---- AdmissionQueue: waits instead of refusing -------------------------------------------------------------


@pytest.fixture
def line(settings):
    settings.PARLEY_TEST_QUEUE_LIMIT = 1
    return AdmissionQueue(limit_setting="PARLEY_TEST_QUEUE_LIMIT")


def wait_until(condition, *, seconds: float = 30) -> None:
    """Poll until `condition()` holds (a state change in another thread); fail if it never does."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the other thread never got there"
        time.sleep(0.005)


def queue_up(line: AdmissionQueue, names: list[str], entered: list[str], leave: threading.Event) -> list:
    """Start one thread per name, each only once the previous one waits in line, so arrival order is known."""
    threads = []
    for name in names:

        def take_turn(name=name):
            with line.turn():
                entered.append(name)
                leave.wait()

        waiting_before = line.waiting
        thread = threading.Thread(target=take_turn)
        thread.start()
        wait_until(lambda before=waiting_before: line.waiting == before + 1)
        threads.append(thread)
    return threads


def test_past_its_limit_the_next_waits_and_goes_in_when_a_place_is_given_back(line):
    entered: list[str] = []
    leave = threading.Event()
    with line.turn():
        threads = queue_up(line, ["next"], entered, leave)
        held_while_waiting = (line.holding, line.waiting, list(entered))
    wait_until(lambda: entered == ["next"])
    leave.set()
    for thread in threads:
        thread.join()

    assert held_while_waiting == (1, 1, [])  # nobody was refused, and nobody went past the limit
    assert (line.holding, line.waiting) == (0, 0)


def test_places_are_handed_on_in_arrival_order(line):
    entered: list[str] = []
    leave = threading.Event()
    leave.set()  # each leaves as soon as it is in: the order they got in is the order of the line
    with line.turn():
        threads = queue_up(line, ["first", "second", "third", "fourth", "fifth"], entered, leave)
    for thread in threads:
        thread.join()

    assert entered == ["first", "second", "third", "fourth", "fifth"]
    assert (line.holding, line.waiting) == (0, 0)


def test_a_queue_holds_its_limit_when_threads_enter_at_once_and_lets_everyone_in(settings, line):
    settings.PARLEY_TEST_QUEUE_LIMIT = 2
    highest = []

    def enter(_index):
        for _ in range(100):
            with line.turn():
                highest.append(line.holding)

    failures = run_in_threads(enter, list(range(8)))

    assert failures == []
    assert len(highest) == 8 * 100  # every one got in: waiting, never refused
    assert max(highest) <= 2
    assert (line.holding, line.waiting) == (0, 0)


def test_a_place_is_handed_on_when_the_work_raises(line):
    entered: list[str] = []
    leave = threading.Event()
    leave.set()
    with pytest.raises(RuntimeError), line.turn():
        threads = queue_up(line, ["next"], entered, leave)
        raise RuntimeError("the hash failed")
    for thread in threads:
        thread.join()

    assert entered == ["next"]
    assert (line.holding, line.waiting) == (0, 0)


def test_raising_the_limit_lets_waiting_people_in(settings, line):
    entered: list[str] = []
    leave = threading.Event()
    with line.turn():
        threads = queue_up(line, ["a", "b"], entered, leave)
        settings.PARLEY_TEST_QUEUE_LIMIT = 3
    wait_until(lambda: sorted(entered) == ["a", "b"])
    both_in = line.holding
    leave.set()
    for thread in threads:
        thread.join()

    assert both_in == 2
    assert (line.holding, line.waiting) == (0, 0)
