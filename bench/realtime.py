"""Real time under load (issue 13, docs/benchmarks.md): S1-S5 and the fault run, through real daphne workers.

    DATABASE_URL=postgres://parley:parley@127.0.0.1:5432/parley_bench_rt \
        .venv/bin/python bench/realtime.py [s1 s2 ramp s3 s4 s5 fault] [--workers 1 2] [--seconds N] [--users N]

- The database named by DATABASE_URL is a scratch one: its name must contain "bench"; it is dropped, created
  and migrated. Users, rooms and signed-in sessions are written in bulk before any clock starts (sessions
  straight into the session store, so the password hasher runs only where S5b measures it).
- Redis is the bench's own `redis-server` on a free loopback port (so the fault run may restart it without
  touching anyone else's); REDIS_URL is ignored.
- The daphne workers run as in production: DEBUG off, everything default except the per-person send limit,
  lifted. Their CPU and memory are read from /proc.
- The load generator runs in `--generators` processes of its own (bench/rt_load.py), whose CPU is reported.
- Each scenario prints a table and appends a JSON line to var/bench/results.jsonl.
- `ramp` is S2's "rate at which p99 passes 100 ms": S1's steady load (one message a second per sender, rooms of
  10) at 20, 40, 60, ... senders, each step `--ramp-seconds` (15) on a fresh deployment, until delivery p99 is
  over 100 ms two steps running or at `--ramp-max` (400/s). One line per step, and where p99 passed 100 ms.

--seconds and --users shrink every scenario for a smoke run, the ramp too (a step lasts --seconds, and --users is
its top rate, reached in two steps): `--seconds 5 --users 20 --idle-max 40 --workers 2` takes about three minutes
(the ramp half a minute of it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent
RESULTS = BASE_DIR / "var" / "bench" / "results.jsonl"
LOGS = BASE_DIR / "var" / "bench"
TICKS = os.sysconf("SC_CLK_TCK")
ROOM_SIZE = 10
RAMP_STEP = 20  # S2's ramp adds two rooms of ten senders (20 messages a second offered) per step
SLOW_P99 = 0.100  # the line: the offered rate at which delivery p99 passes 100 ms


# ---- processes: Redis, daphne workers, generators; CPU and memory from /proc ---------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_of(pid: int) -> int:
    """Resident memory of a process in bytes, from /proc/<pid>/status (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Redis:
    """A private redis-server on a free loopback port, without persistence: a restart loses everything, as a
    failed-over Redis without replication would."""

    def __init__(self) -> None:
        if shutil.which("redis-server") is None:
            sys.exit("bench/realtime.py needs redis-server (Debian: apt-get install redis-server).")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(  # noqa: S603 (our own arguments)
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],  # noqa: S607
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with suppress(OSError):
                import socket

                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            time.sleep(0.05)
        sys.exit("redis-server did not start")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def flush(self) -> None:
        subprocess.run(["redis-cli", "-p", str(self.port), "flushall"], check=True, capture_output=True)  # noqa: S603, S607


@dataclass
class Worker:
    port: int
    process: subprocess.Popen
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_worker(env: dict[str, str], port: int | None = None) -> Worker:
    from config.server import daphne_process  # started as in production (after main() puts BASE_DIR on the path)

    port = port or free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    with (LOGS / f"daphne-{port}.log").open("ab") as log:
        process = daphne_process(port=port, env=env, log=log, cwd=BASE_DIR)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"daphne exited with {process.returncode}; see {LOGS}/daphne-{port}.log")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return Worker(port, process, env)
        except OSError:
            time.sleep(0.1)
    process.kill()
    sys.exit(f"daphne on port {port} did not answer /healthz within 60 s")


def stop_worker(worker: Worker) -> None:
    if worker.process.poll() is None:
        worker.process.terminate()
        try:
            worker.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait(timeout=10)


class Sampler:
    """Samples the workers' RSS every half second (peak and last), for memory under load."""

    def __init__(self, workers: list[Worker]) -> None:
        self.workers = workers  # the live list: a worker restarted by the fault run is followed
        self.peak: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            for worker in list(self.workers):
                pid = worker.process.pid
                self.peak[pid] = max(self.peak.get(pid, 0), rss_of(pid))

    def stop(self) -> dict[int, int]:
        self._stop.set()
        self._thread.join()
        return self.peak


class Generators:
    """The load generator's processes (bench/rt_load.py), each holding a share of the clients."""

    def __init__(self, spec: dict[str, Any], entries: list[dict[str, Any]], count: int) -> None:
        count = max(1, min(count, len(entries)))
        self.processes = []
        for index in range(count):
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and script)
                [sys.executable, str(BASE_DIR / "bench" / "rt_load.py")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            process.stdin.write(json.dumps({**spec, "clients": entries[index::count]}) + "\n")
            process.stdin.flush()
            self.processes.append(process)
        self.cpu = [0.0] * count

    def command(self, line: str) -> list[dict[str, Any]]:
        """Send one command to every generator at once and wait for all their answers."""
        for process in self.processes:
            process.stdin.write(line + "\n")
            process.stdin.flush()
        answers = []
        for index, process in enumerate(self.processes):
            answer = process.stdout.readline()
            if not answer:
                raise RuntimeError(f"a load generator process ended (exit {process.wait()})")
            answers.append(json.loads(answer))
            self.cpu[index] = answers[-1]["cpu"]
        return answers

    def close(self) -> None:
        with suppress(Exception):
            self.command("close")
        for process in self.processes:
            with suppress(Exception):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()


# ---- the scratch database ---------------------------------------------------------------------------------


def recreate_database(url: str) -> None:
    """Drop and create the scratch database DATABASE_URL names (it must say "bench"), before Django opens it."""
    import psycopg

    parts = urllib.parse.urlparse(url)
    name = parts.path.lstrip("/")
    if parts.scheme not in ("postgres", "postgresql", "pgsql") or "bench" not in name:
        sys.exit("DATABASE_URL must name a scratch PostgreSQL database whose name contains 'bench'.")
    maintenance = parts._replace(path="/postgres").geturl()
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def seed_people(prefix: str, count: int, room_size: int) -> list[dict[str, Any]]:
    """`count` users named <prefix><n> in rooms of `room_size`, each with a signed-in session made directly in
    the session store. Returns one entry per user: username, session key, room id."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone
    from django.utils.crypto import get_random_string

    from accounts.models import User
    from accounts.tests.factories import _test_password_hash
    from messenger import services

    password = _test_password_hash()  # one real PBKDF2 hash of TEST_PASSWORD: S5b's sign-ins verify it
    names = [f"{prefix}{index}" for index in range(count)]
    User.objects.bulk_create(
        [User(username=name, email=f"{name}@bench.test", display_name=name, password=password) for name in names],
        batch_size=1000,
    )
    users = {user.username: user for user in User.objects.filter(username__in=names)}
    room_of: dict[str, int] = {}
    for start in range(0, count, room_size):
        members = names[start : start + room_size]
        room = services.room_create(
            creator=users[members[0]], name=f"{prefix}-room-{start // room_size}", member_usernames=members[1:]
        )
        room_of.update(dict.fromkeys(members, room.pk))
    # The backend that checks passwords (axes' comes first but only refuses locked-out names).
    backend = next(path for path in settings.AUTHENTICATION_BACKENDS if path.endswith("LocalPasswordBackend"))
    expire = timezone.now() + timezone.timedelta(days=1)
    store = SessionStore()
    sessions, entries = [], []
    for name in names:
        user = users[name]
        key = get_random_string(32, "abcdefghijklmnopqrstuvwxyz0123456789")
        data = {SESSION_KEY: str(user.pk), BACKEND_SESSION_KEY: backend, HASH_SESSION_KEY: user.get_session_auth_hash()}
        sessions.append(Session(session_key=key, session_data=store.encode(data), expire_date=expire))
        entries.append({"username": name, "user_id": user.pk, "session_key": key, "room": room_of[name]})
    Session.objects.bulk_create(sessions, batch_size=1000)
    return entries


# ---- measuring ---------------------------------------------------------------------------------------------


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.1f} ms"


def latency_summary(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 0.50),
        "p95": percentile(values, 0.95),
        "p99": percentile(values, 0.99),
        "max": max(values, default=None),
    }


def print_table(title: str, rows: list[tuple[str, Any]], columns: list[tuple[str, ...]] | None = None) -> None:
    """A scenario's table: `columns` (a header, then one line each, e.g. per ramp step), then name/value rows."""
    print(f"\n{title}")
    print("-" * len(title))
    if columns:
        widths = [max(len(line[index]) for line in columns) for index in range(len(columns[0]))]
        for line in columns:
            print("  " + "  ".join(cell.rjust(width) for cell, width in zip(line, widths, strict=True)))
    width = max((len(name) for name, _ in rows), default=0)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def record(scenario: str, config: dict[str, Any], result: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    line = {
        "scenario": scenario,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_after": os.getloadavg(),  # the machine is shared: how busy it was around this scenario
        **config,
        **result,
    }
    with RESULTS.open("a") as out:
        out.write(json.dumps(line, default=str) + "\n")


def machine() -> dict[str, Any]:
    import channels
    import channels_redis
    import daphne
    import django

    memory = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
    return {
        "nproc": os.cpu_count(),
        "memory": f"{int(memory.split()[1]) // 1024 // 1024} GiB",
        "load_before": os.getloadavg(),
        "python": platform.python_version(),
        "django": django.__version__,
        "channels": channels.__version__,
        "channels_redis": channels_redis.__version__,
        "daphne": daphne.__version__,
    }


class Bench:
    def __init__(self, args: argparse.Namespace, redis: Redis) -> None:
        self.args, self.redis = args, redis
        self.people: dict[str, list[dict[str, Any]]] = {}
        self.cookie_name = "sessionid"
        self.env = {
            **os.environ,
            "REDIS_URL": redis.url,
            "DEBUG": "false",
            "PARLEY_SEND_RATE_PER_SECOND": "100000",  # the per-person send limit, lifted
            "PARLEY_SEND_BURST": "100000",
            "LOG_LEVEL": "WARNING",
        }
        self.env.pop("DJANGO_SETTINGS_MODULE", None)

    def seconds(self, default: float) -> float:
        return min(default, self.args.seconds) if self.args.seconds else default

    def users(self, default: int) -> int:
        return min(default, self.args.users) if self.args.users else default

    def people_for(self, prefix: str, count: int, room_size: int = ROOM_SIZE) -> list[dict[str, Any]]:
        """Seeded once per run and shared by the scenarios that fit (S2 uses S1's rooms, S5 S4's people)."""
        have = self.people.get(prefix, [])
        if len(have) < count:
            started = time.monotonic()
            more = seed_people(f"{prefix}{len(have)}x", count - len(have), room_size)
            self.people[prefix] = have + more
            print(f"(seeded {count - len(have)} {prefix} users in {time.monotonic() - started:.1f} s)")
        return self.people[prefix][:count]

    @contextmanager
    def deployment(self, workers: int):
        self.redis.flush()  # no presence or channel state left by the previous scenario
        running = [start_worker(self.env) for _ in range(workers)]
        try:
            yield running
        finally:
            for worker in running:
                stop_worker(worker)

    def generators(self, running: list[Worker], entries: list[dict[str, Any]], **spec: Any) -> Generators:
        entries = [{**entry, "worker": index % len(running)} for index, entry in enumerate(entries)]
        spec = {"urls": [worker.url for worker in running], "cookie_name": self.cookie_name, **spec}
        return Generators(spec, entries, self.args.generators)

    def connect(self, generators: Generators) -> dict[str, Any]:
        answers = generators.command("connect")
        failures: dict[str, int] = {}
        for answer in answers:
            for name, count in answer["failures"].items():
                failures[name] = failures.get(name, 0) + count
        started = min(answer["started"] for answer in answers)
        return {
            "connected": sum(answer["connected"] for answer in answers),
            "connect_failures": failures,
            "connect_seconds": max(answer["last_done"] for answer in answers) - started,
        }

    # ---- S1, S2, the fault run: rooms of 10 -------------------------------------------------------------

    def messaging(
        self, scenario: str, workers: int, command: dict[str, Any], faults=None, users: int | None = None
    ) -> dict[str, Any]:
        """Rooms of 10 (S1's people, `users` of them, 100 unless said), one deployment, one run of `command`."""
        entries = self.people_for("room", users or self.users(100))
        with self.deployment(workers) as running:
            generators = self.generators(running, entries, connect_concurrency=max(1, 20 // self.args.generators))
            try:
                connected = self.connect(generators)
                pids = [worker.process.pid for worker in running]
                cpu_before = {pid: cpu_of(pid) for pid in pids}
                redis_before = cpu_of(self.redis.process.pid)
                generator_before = sum(generators.cpu)
                sampler = Sampler(running)
                start = time.time() + 1.0
                command = {**command, "start": start}
                fault_thread = None
                fault_log: list[dict[str, Any]] = []
                if faults:
                    fault_thread = threading.Thread(target=faults, args=(running, start, command, fault_log))
                    fault_thread.start()
                answers = generators.command("run " + json.dumps(command))
                if fault_thread:
                    fault_thread.join()
                elapsed = command["seconds"]
                peak = sampler.stop()
                server = {
                    f"worker{index + 1}": {
                        "cpu_percent": (cpu_of(worker.process.pid) - cpu_before.get(worker.process.pid, 0.0))
                        / elapsed
                        * 100,
                        "rss_peak_mb": peak.get(worker.process.pid, 0) / 2**20,
                        "rss_end_mb": rss_of(worker.process.pid) / 2**20,
                    }
                    for index, worker in enumerate(running)
                }
                redis_cpu = (
                    None if faults else (cpu_of(self.redis.process.pid) - redis_before) / elapsed * 100
                )  # the fault run restarts Redis: its CPU is not comparable
                generator_cpu = (sum(generators.cpu) - generator_before) / elapsed * 100
            finally:
                generators.close()
        return self.judge(entries, answers, connected, server, redis_cpu, generator_cpu, elapsed, fault_log)

    def judge(self, entries, answers, connected, server, redis_cpu, generator_cpu, elapsed, fault_log):
        room_of = {entry["username"]: entry["room"] for entry in entries}
        acked = acknowledged(answers)
        lost, lost_before, unacknowledged = losses(answers, acked, room_of)
        latencies = [value for answer in answers for value in answer["latencies"]]
        acks = [value for answer in answers for value in answer["ack_latencies"]]
        errors: dict[str, int] = {}
        for answer in answers:
            for name, count in answer["errors"].items():
                errors[name] = errors.get(name, 0) + count
        sent = sum(len(seqs) for seqs in acked.values())
        result = {
            **connected,
            "sent": sent,
            "accepted_per_second": sent / elapsed,
            "live_deliveries": sum(answer["live_deliveries"] for answer in answers),
            "deliveries_per_second": len(latencies) / elapsed,
            "latency": latency_summary(latencies),
            "ack_latency": latency_summary(acks),
            "lost_before_final_sync": lost_before,
            "lost": lost,
            "stored_without_ack": unacknowledged,
            "duplicated": sum(answer["duplicates"] for answer in answers),
            "out_of_order": sum(answer["out_of_order"] for answer in answers),
            "overloaded_retries": sum(answer["overloaded"] for answer in answers),
            "send_errors": errors,
            "reconnects": sum(answer["reconnects"] for answer in answers),
            "final_sync_failures": _merged(answer.get("final_sync_failures", {}) for answer in answers),
            "server": server,
            "redis_cpu_percent": redis_cpu,
            "generator_cpu_percent": generator_cpu,
            "generator_processes": len(answers),
        }
        if fault_log:
            result["faults"] = fault_log
            ack_times = sorted(t for answer in answers for t in answer["ack_times"])
            result["recovery"] = recovery(ack_times, fault_log)
        return result

    def messaging_rows(self, result: dict[str, Any]) -> list[tuple[str, Any]]:
        latency, ack = result["latency"], result["ack_latency"]
        rows = [
            ("connected (failed)", f"{result['connected']} ({result['connect_failures'] or 0})"),
            ("sent (accepted/s)", f"{result['sent']:,} ({result['accepted_per_second']:,.1f}/s)"),
            ("deliveries (per s)", f"{result['live_deliveries']:,} ({result['deliveries_per_second']:,.1f}/s)"),
            ("latency p50 / p95 / p99 / max", " / ".join(ms(latency[k]) for k in ("p50", "p95", "p99", "max"))),
            ("ack p50 / p99", f"{ms(ack['p50'])} / {ms(ack['p99'])}"),
            ("lost (before final sync)", f"{result['lost']} ({result['lost_before_final_sync']})"),
            ("stored, though the sender got an error", result["stored_without_ack"]),
            ("duplicated / out of order", f"{result['duplicated']} / {result['out_of_order']}"),
            ("overloaded retries, errors", f"{result['overloaded_retries']}, {result['send_errors'] or 0}"),
            ("reconnects, final syncs failed", f"{result['reconnects']}, {result['final_sync_failures'] or 0}"),
        ]
        for name, worker in result["server"].items():
            rows.append((f"{name} CPU / RSS peak", f"{worker['cpu_percent']:.0f}% / {worker['rss_peak_mb']:.0f} MB"))
        if result["redis_cpu_percent"] is not None:
            rows.append(("redis CPU", f"{result['redis_cpu_percent']:.0f}%"))
        rows.append(
            ("generator CPU", f"{result['generator_cpu_percent']:.0f}% ({result['generator_processes']} processes)")
        )
        for fault in result.get("recovery", []):
            rows.append((f"recovery after {fault['fault']}", fault["summary"]))
        return rows

    def s1(self, workers: int) -> dict[str, Any]:
        seconds = self.seconds(60)
        return self.messaging("S1", workers, {"scenario": "steady", "seconds": seconds})

    def s2(self, workers: int) -> dict[str, Any]:
        seconds = self.seconds(30)
        return self.messaging("S2", workers, {"scenario": "saturate", "seconds": seconds, "in_flight": 4})

    def ramp(self, workers: int) -> dict[str, Any]:
        """S2's "rate at which p99 passes 100 ms": S1's steady load (each sender one message a second, rooms of
        10) with 20 more senders each step, each step a fresh deployment and run (so an overloaded step's backlog
        does not spill into the next), until delivery p99 is over 100 ms in two steps running or at --ramp-max."""
        seconds = self.seconds(self.args.ramp_seconds)
        top = self.users(self.args.ramp_max)
        # A smoke run's --users caps the top; it still takes two steps, so the stopping rule runs.
        step = min(RAMP_STEP, max(ROOM_SIZE, top // 2 // ROOM_SIZE * ROOM_SIZE))
        steps: list[dict[str, Any]] = []
        for rate in list(range(step, top + 1, step)) or [top]:
            outcome = self.messaging("ramp", workers, {"scenario": "steady", "seconds": seconds}, users=rate)
            steps.append({"offered_per_second": rate, **outcome})
            print(f"(ramp, {workers} worker(s): {rate}/s offered, delivery p99 {ms(outcome['latency']['p99'])})")
            if len(steps) >= 2 and _slow(steps[-1]) and _slow(steps[-2]):
                break
        passes, crossing = ramp_crossing(steps)
        return {
            "step_seconds": seconds,
            "step_per_second": step,
            "ramp_max_per_second": top,
            "p99_passes_100ms_between": passes,
            "steps": steps,
            "columns": ramp_columns(steps),
            "rows": [
                (
                    "each step",
                    f"{seconds:g} s on a fresh deployment; generator CPU up to "
                    f"{max(done['generator_cpu_percent'] for done in steps):.0f}%",
                ),
                ("p99 passes 100 ms", crossing),
            ],
        }

    def fault(self, workers: int) -> dict[str, Any]:
        seconds = self.seconds(60)
        redis = self.redis

        def faults(running: list[Worker], start: float, command: dict[str, Any], log: list[dict[str, Any]]):
            time.sleep(max(0.0, start + seconds / 3 - time.time()))
            victim = running[-1]
            victim.process.kill()  # SIGKILL: a crashed worker, no socket closed cleanly
            victim.process.wait()
            log.append({"fault": "worker killed", "at": time.time()})
            # A supervisor restarts it on the same port; its clients have moved to the other worker by then.
            replacement = start_worker(victim.env, victim.port)
            running[-1] = replacement
            log.append({"fault": "worker restarted", "at": time.time()})
            time.sleep(max(0.0, start + 2 * seconds / 3 - time.time()))
            redis.stop()
            log.append({"fault": "redis stopped", "at": time.time()})
            time.sleep(1.0)
            redis.start()
            log.append({"fault": "redis restarted (empty)", "at": time.time()})

        return self.messaging("fault", workers, {"scenario": "steady", "seconds": seconds, "drain": 10.0}, faults)

    # ---- S3: one room of 300 ------------------------------------------------------------------------------

    def s3(self, workers: int) -> dict[str, Any]:
        size = self.users(300)
        seconds = self.seconds(30)
        entries = self.people_for("fan", size, room_size=size)
        sender = entries[0]["username"]
        with self.deployment(workers) as running:
            generators = self.generators(running, entries, connect_concurrency=max(1, 10 // self.args.generators))
            try:
                connected = self.connect(generators)
                pids = [worker.process.pid for worker in running]
                cpu_before = {pid: cpu_of(pid) for pid in pids}
                generator_before = sum(generators.cpu)
                command = {"scenario": "fanout", "seconds": seconds, "rate": 5, "sender": sender,
                           "start": time.time() + 1.0, "receipts": True}  # fmt: skip
                answers = generators.command("run " + json.dumps(command))
                server = {
                    f"worker{index + 1}_cpu_percent": (cpu_of(pid) - cpu_before[pid]) / seconds * 100
                    for index, pid in enumerate(pids)
                }
                generator_cpu = (sum(generators.cpu) - generator_before) / seconds * 100
            finally:
                generators.close()
        last: dict[int, float] = {}
        receivers: dict[int, int] = {}
        for answer in answers:
            for _conversation, seq, latency in answer["receipts"]:
                last[seq] = max(last.get(seq, 0.0), latency)
                receivers[seq] = receivers.get(seq, 0) + 1
        acked = acknowledged(answers)
        sent = sum(len(seqs) for seqs in acked.values())
        complete = [seq for seq, count in receivers.items() if count == connected["connected"] - 1]
        lost, _, _ = losses(answers, acked, {entry["username"]: entry["room"] for entry in entries})
        result = {
            **connected,
            "room_size": size,
            "sent": sent,
            "messages_live_to_all": len(complete),
            "latency_to_last": latency_summary([last[seq] for seq in complete]),
            "latency_any": latency_summary([latency for answer in answers for latency in answer["latencies"]]),
            "lost": lost,
            "duplicated": sum(answer["duplicates"] for answer in answers),
            "out_of_order": sum(answer["out_of_order"] for answer in answers),
            "reconnects": sum(answer["reconnects"] for answer in answers),
            "final_sync_failures": _merged(answer.get("final_sync_failures", {}) for answer in answers),
            "holding_nothing": sum(answer.get("holding_nothing", 0) for answer in answers),
            "server": server,
            "generator_cpu_percent": generator_cpu,
        }
        to_last, any_ = result["latency_to_last"], result["latency_any"]
        result["rows"] = [
            (
                "connected (failed), connect time",
                f"{result['connected']} ({result['connect_failures'] or 0}), {result['connect_seconds']:.1f} s",
            ),
            ("sent", f"{sent} (live to all {size - 1}: {len(complete)})"),
            ("to the last receiver p50 / p95 / p99 / max", " / ".join(ms(to_last[k]) for k in to_last)),
            ("to any receiver p50 / p99", f"{ms(any_['p50'])} / {ms(any_['p99'])}"),
            ("lost / duplicated / out of order", f"{lost} / {result['duplicated']} / {result['out_of_order']}"),
            (
                "reconnects, final syncs failed, receivers holding nothing",
                f"{result['reconnects']}, {result['final_sync_failures'] or 0}, {result['holding_nothing']}",
            ),
            *((name, f"{value:.0f}%") for name, value in server.items()),
            ("generator CPU", f"{generator_cpu:.0f}%"),
        ]
        return result

    # ---- S4: idle sockets ---------------------------------------------------------------------------------

    def s4(self, workers: int) -> list[dict[str, Any]]:
        results = []
        for size in sorted({self.users(1000), self.users(self.args.idle_max)}):
            results.append(self.idle(workers, size))
        return results

    def idle(self, workers: int, size: int) -> dict[str, Any]:
        entries = self.people_for("person", size)
        idle_seconds = self.seconds(30)
        with self.deployment(workers) as running:
            pids = [worker.process.pid for worker in running]
            time.sleep(2.0)
            rss_before = sum(rss_of(pid) for pid in pids)
            generators = self.generators(running, entries, connect_concurrency=max(1, 20 // self.args.generators))
            try:
                connected = self.connect(generators)
                time.sleep(5.0)  # the connects' own garbage settles; the first heartbeats pass
                cpu_before = {pid: cpu_of(pid) for pid in pids}
                redis_before = cpu_of(self.redis.process.pid)
                generator_before = sum(generators.cpu)
                answers = generators.command(
                    "run " + json.dumps({"scenario": "idle", "start": time.time(), "seconds": idle_seconds})
                )
                rss_after = sum(rss_of(pid) for pid in pids)
                cpu = sum(cpu_of(pid) - cpu_before[pid] for pid in pids) / idle_seconds * 100
                redis_cpu = (cpu_of(self.redis.process.pid) - redis_before) / idle_seconds * 100
                generator_cpu = (sum(generators.cpu) - generator_before) / idle_seconds * 100
            finally:
                generators.close()
        sockets = connected["connected"]
        per_socket = (rss_after - rss_before) / sockets if sockets else None
        result = {
            **connected,
            "sockets": size,
            "still_open": sum(answer["open"] for answer in answers),
            "rss_before_mb": rss_before / 2**20,
            "rss_after_mb": rss_after / 2**20,
            "kib_per_socket": per_socket / 1024 if per_socket else None,
            "idle_worker_cpu_percent": cpu,
            "idle_redis_cpu_percent": redis_cpu,
            "idle_generator_cpu_percent": generator_cpu,
            "idle_seconds": idle_seconds,
        }
        result["rows"] = [
            ("connected (failed)", f"{sockets} ({connected['connect_failures'] or 0}) of {size}"),
            ("time to connect all", f"{connected['connect_seconds']:.1f} s"),
            ("open after idling", result["still_open"]),
            ("workers' RSS before → after", f"{rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MB"),
            ("memory per socket", f"{result['kib_per_socket'] or 0:.1f} KiB"),
            (f"workers' CPU while idle ({idle_seconds:.0f} s)", f"{cpu:.1f}% of a core (all workers)"),
            ("redis / generator CPU while idle", f"{redis_cpu:.1f}% / {generator_cpu:.1f}%"),
        ]
        return result

    # ---- S5: storms -----------------------------------------------------------------------------------------

    def s5(self, workers: int) -> list[dict[str, Any]]:
        return [self.reconnect_storm(workers), self.sign_in_storm(workers)]

    def reconnect_storm(self, workers: int) -> dict[str, Any]:
        from asgiref.sync import async_to_sync
        from django.conf import settings

        from accounts import presence

        size = self.users(500)
        spread = 10.0
        entries = self.people_for("person", size)
        with self.deployment(workers) as running:
            generators = self.generators(
                running, entries, connect_concurrency=max(1, 20 // self.args.generators), reconnect=False
            )
            try:
                before = self.connect(generators)
                for worker in running:  # the restart: every worker dies at once, its sockets cut
                    worker.process.kill()
                    worker.process.wait()
                generators.command("run " + json.dumps({"scenario": "drop"}))
                # Cold: the dead workers' connections expire (their TTL) and are swept before anyone returns, so
                # everyone starts offline and "online for their contacts" is something each client must see.
                time.sleep(settings.PARLEY_PRESENCE_TTL_SECONDS + 1)
                async_to_sync(presence.sweep_expired)()
                online = async_to_sync(presence.shown_states)([entry["user_id"] for entry in entries])
                still = sum(1 for state, _ in online.values() if state != presence.OFFLINE)
                for index, worker in enumerate(running):
                    running[index] = start_worker(worker.env, worker.port)
                start = time.time() + 1.0
                answers = generators.command(
                    "run "
                    + json.dumps({"scenario": "storm", "start": start, "spread": spread, "watch": 10.0, "retry": True})
                )
            finally:
                generators.close()
        outcomes = [outcome for answer in answers for outcome in answer["outcomes"]]
        refused = [outcome for outcome in outcomes if "refused" in outcome]
        back = [outcome for outcome in outcomes if "refused" not in outcome]
        last_back = max((outcome["done"] for outcome in back), default=None)  # the last reconnect that succeeded
        # Who watches whom: rooms of 10, so a person's contacts are the others in their room.
        room_of = {entry["user_id"]: entry["room"] for entry in entries}
        watchers: dict[int, list[dict[str, Any]]] = {}
        for outcome in back:
            watchers.setdefault(room_of[outcome["user_id"]], []).append(outcome)
        online_for_all: list[float] = []
        after_own: list[float] = []
        pair_delays: list[float] = []  # W saw U online this long after both were back (announcement lag)
        missing = 0
        for outcome in back:
            user = outcome["user_id"]
            contacts = [other for other in watchers[room_of[user]] if other["user_id"] != user]
            seen = [other["online_seen"].get(str(user)) for other in contacts]
            if any(moment is None for moment in seen):
                missing += 1
                continue
            pair_delays += [
                moment - max(outcome["done"], other["done"]) for moment, other in zip(seen, contacts, strict=True)
            ]
            moment = max([outcome["done"], *seen])
            online_for_all.append(moment)
            after_own.append(moment - outcome["tried"])
        result = {
            "people": size,
            "connected_before": before["connected"],
            "still_online_before_storm": still,
            "spread_seconds": spread,
            "reconnected": len(back),
            "refused": len(refused),
            "refusals": _count(outcome["refused"] for outcome in refused),
            "failed_attempts": _count(name for outcome in outcomes for name in outcome.get("refusals", [])),
            "reconnect_time": latency_summary([outcome["done"] - outcome["tried"] for outcome in back]),
            "online_for_all_after_own_reconnect": latency_summary(after_own),
            "seen_online_after_both_back": latency_summary(pair_delays),
            "never_seen_online_by_some_contact": missing,
            "all_online_after_last_reconnect": (max(online_for_all) - last_back) if online_for_all else None,
        }
        spent = result["reconnect_time"]
        seen = result["online_for_all_after_own_reconnect"]
        result["rows"] = [
            ("people (connected before the restart)", f"{size} ({before['connected']})"),
            ("reconnected / gave up", f"{len(back)} / {len(refused)} {result['refusals'] or ''}"),
            ("failed attempts (retried with backoff)", result["failed_attempts"] or 0),
            (
                "own reconnect (from first try) p50 / p99 / max",
                f"{ms(spent['p50'])} / {ms(spent['p99'])} / {ms(spent['max'])}",
            ),
            (
                "online for all contacts, after own start p50 / p99 / max",
                f"{ms(seen['p50'])} / {ms(seen['p99'])} / {ms(seen['max'])}",
            ),
            (
                "everyone online for everyone, after the last reconnect",
                ms(result["all_online_after_last_reconnect"]),
            ),
            ("never seen online by some contact", missing),
            (
                "a contact sees them online, after both are back p50 / p99 / max",
                " / ".join(ms(result["seen_online_after_both_back"][k]) for k in ("p50", "p99", "max")),
            ),
        ]
        return result

    def sign_in_storm(self, workers: int) -> dict[str, Any]:
        size = self.users(100)
        spread = 10.0
        entries = self.people_for("person", size)
        with self.deployment(workers) as running:
            pids = [worker.process.pid for worker in running]
            generators = self.generators(running, entries, password="correct-horse-battery-staple")  # noqa: S106
            try:
                cpu_before = {pid: cpu_of(pid) for pid in pids}
                start = time.time() + 1.0
                answers = generators.command(
                    "run "
                    + json.dumps({"scenario": "storm", "start": start, "spread": spread, "password": True, "watch": 0})
                )
                cpu = sum(cpu_of(pid) - cpu_before[pid] for pid in pids)
            finally:
                generators.close()
        outcomes = [outcome for answer in answers for outcome in answer["outcomes"]]
        refused = [outcome for outcome in outcomes if "refused" in outcome]
        back = [outcome for outcome in outcomes if "refused" not in outcome]
        result = {
            "people": size,
            "spread_seconds": spread,
            "signed_in": len(back),
            "refused": len(refused),
            "refusals": _count(outcome["refused"] for outcome in refused),
            "sign_in_time": latency_summary([outcome["done"] - outcome["tried"] for outcome in back]),
            "last_in_after_start": (max(outcome["done"] for outcome in back) - start) if back else None,
            "worker_cpu_seconds_per_sign_in": cpu / len(outcomes) if outcomes else None,
        }
        spent = result["sign_in_time"]
        result["rows"] = [
            ("signed in / refused", f"{len(back)} / {len(refused)} {result['refusals'] or ''}"),
            ("sign-in + socket p50 / p99 / max", f"{ms(spent['p50'])} / {ms(spent['p99'])} / {ms(spent['max'])}"),
            ("last one in, after the storm began", ms(result["last_in_after_start"])),
            ("worker CPU per sign-in", ms(result["worker_cpu_seconds_per_sign_in"])),
        ]
        return result


def acknowledged(answers: list[dict[str, Any]]) -> dict[str, set[int]]:
    """Per conversation, the seqs the server acknowledged to their senders."""
    acked: dict[str, set[int]] = {}
    for answer in answers:
        for room, seqs in answer["sent"].items():
            acked.setdefault(room, set()).update(seqs)
    return acked


def losses(answers, acked: dict[str, set[int]], room_of: dict[str, int]) -> tuple[int, int, int]:
    """Acknowledged messages a member of the room did not hold at the end (after the final resync, and before
    it), and messages members hold that no sender had acknowledged (stored, though the sender heard an error)."""
    lost = lost_before = 0
    stored: dict[str, set[int]] = {}
    for answer in answers:
        for name, held in answer["held"].items():
            room = str(room_of[name])
            lost += len(acked.get(room, set()) - set(held.get(room, [])))
            lost_before += len(acked.get(room, set()) - set(answer["held_before_sync"][name].get(room, [])))
            stored.setdefault(room, set()).update(held.get(room, []))
    unacknowledged = sum(len(seqs - acked.get(room, set())) for room, seqs in stored.items())
    return lost, lost_before, unacknowledged


def _slow(step: dict[str, Any]) -> bool:
    """A ramp step whose delivery p99 is past the line (no delivery at all counts as past it)."""
    p99 = step["latency"]["p99"]
    return p99 is None or p99 > SLOW_P99


def ramp_crossing(steps: list[dict[str, Any]]) -> tuple[list[int] | None, str]:
    """The offered rates between which delivery p99 passed 100 ms, and that said in words. The crossing is the
    first step from which every later one was slow: a lone slow step followed by a quick one is noise."""
    first_slow = len(steps)
    while first_slow and _slow(steps[first_slow - 1]):
        first_slow -= 1
    if first_slow == len(steps):
        return None, f"not reached up to {steps[-1]['offered_per_second']} messages/s"
    below = steps[first_slow - 1]["offered_per_second"] if first_slow else 0
    above = steps[first_slow]["offered_per_second"]
    words = f"between {below} and {above} messages/s" if first_slow else f"at {above} messages/s already"
    if first_slow == len(steps) - 1:
        words += " (the top step: not confirmed by a second)"
    return [below, above], words


def ramp_columns(steps: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The ramp's table: a header, then a line per step."""
    columns = [
        ("offered/s", "accepted/s", "deliveries/s", "delivery p50", "delivery p99", "ack p99", "lost (before sync)",
         "dup / out of order", "workers' CPU"),
    ]  # fmt: skip
    for step in steps:
        offered = str(step["offered_per_second"])
        if step["connected"] < step["offered_per_second"]:
            offered += f" ({step['connected']} connected)"
        columns.append(
            (
                offered,
                f"{step['accepted_per_second']:,.1f}",
                f"{step['deliveries_per_second']:,.1f}",
                ms(step["latency"]["p50"]),
                ms(step["latency"]["p99"]),
                ms(step["ack_latency"]["p99"]),
                f"{step['lost']} ({step['lost_before_final_sync']})",
                f"{step['duplicated']} / {step['out_of_order']}",
                " + ".join(f"{worker['cpu_percent']:.0f}%" for worker in step["server"].values()),
            )
        )
    return columns


def _merged(counts) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for name, value in count.items():
            total[name] = total.get(name, 0) + value
    return total


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def recovery(ack_times: list[float], faults: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each fault: the longest pause in acknowledged sends after it, and how long until the per-second rate
    of acknowledgements was back to 90% of its rate in the 5 s before."""
    out = []
    for fault in faults:
        if fault["fault"] not in ("worker killed", "redis stopped"):
            continue
        at = fault["at"]
        before = sum(1 for t in ack_times if at - 5 <= t < at) / 5
        after = [t for t in ack_times if t >= at]
        gaps = [b - a for a, b in zip([at, *after], after, strict=False)]
        back_at = None
        for second in range(60):
            window = sum(1 for t in after if at + second <= t < at + second + 1)
            if before and window >= 0.9 * before:
                back_at = second + 1
                break
        out.append(
            {
                "fault": fault["fault"],
                "acks_per_second_before": before,
                "longest_pause_s": max(gaps, default=None),
                "rate_back_within_s": back_at,
                "summary": f"longest pause in acks {max(gaps, default=0):.1f} s, rate back within "
                + (f"{back_at} s" if back_at else "never (in 60 s)"),
            }
        )
    return out


SCENARIOS = ("s1", "s2", "ramp", "s3", "s4", "s5", "fault")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenarios", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="worker counts to run (default: 1 2)")
    parser.add_argument("--seconds", type=float, help="cap every scenario's duration (a smoke run)")
    parser.add_argument("--users", type=int, help="cap every scenario's number of people (a smoke run)")
    parser.add_argument("--idle-max", type=int, default=5000, help="S4's larger size (default 5,000)")
    parser.add_argument("--generators", type=int, default=3, help="load generator processes (default 3)")
    parser.add_argument("--ramp-seconds", type=float, default=15.0, help="length of each ramp step (default 15)")
    parser.add_argument(
        "--ramp-max", type=int, default=400, help="the ramp's highest offered rate, messages/s (default 400)"
    )
    args = parser.parse_args()
    scenarios = args.scenarios or list(SCENARIOS)
    if unknown := set(scenarios) - set(SCENARIOS):
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}: choose from {', '.join(SCENARIOS)}")
    if not os.environ.get("DATABASE_URL"):
        sys.exit("Set DATABASE_URL to a scratch PostgreSQL database whose name contains 'bench'.")
    recreate_database(os.environ["DATABASE_URL"])
    redis = Redis()
    redis.start()
    os.environ["REDIS_URL"] = redis.url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(BASE_DIR))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    bench = Bench(args, redis)
    about = machine()
    print(
        f"Parley real-time bench: {about['nproc']} cores, {about['memory']}, load {about['load_before']}, "
        f"Python {about['python']}, Django {about['django']}, channels {about['channels']}, "
        f"channels-redis {about['channels_redis']}, daphne {about['daphne']}"
    )

    def interrupted(*_: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupted)
    random.seed(13)
    try:
        for scenario in scenarios:
            for workers in args.workers:
                if scenario == "fault" and workers < 2:
                    continue  # a worker dies: its clients need another to go to
                outcome = getattr(bench, scenario)(workers)
                for result in outcome if isinstance(outcome, list) else [outcome]:
                    title, rows = _title(scenario, result, workers), result.pop("rows", None)
                    print_table(title, rows or bench.messaging_rows(result), result.pop("columns", None))
                    config = {"workers": workers, "machine": about, "seconds_cap": args.seconds}
                    record(title.split(":")[0], config, result)
    finally:
        redis.stop()


def _title(scenario: str, result: dict[str, Any], workers: int) -> str:
    names = {
        "s1": "S1 steady load",
        "s2": "S2 saturation (4 in flight each)",
        "ramp": "S2 ramp (S1's load, more senders each step)",
        "s3": "S3 fan-out (one room, one sender at 5/s)",
        "fault": "fault run (S1; kill a worker, restart Redis)",
    }
    if scenario == "s4":
        return f"S4 idle sockets: {result['sockets']:,}, {workers} worker(s)"
    if scenario == "s5":
        kind = "S5a reconnect storm" if "reconnected" in result else "S5b sign-in storm"
        return f"{kind}: {result['people']} people in {result['spread_seconds']:.0f} s, {workers} worker(s)"
    return f"{names[scenario]}: {workers} worker(s)"


if __name__ == "__main__":
    main()
