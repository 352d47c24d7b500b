"""The load generator of bench/realtime.py: one process holding a share of the clients (messenger/client.py).

Django-free on purpose: it is started as its own process (`python bench/rt_load.py`), several at once, so the
generator is not the bottleneck and its CPU is measured apart from the server's. It reads a JSON spec on its
first stdin line, then one command per line, and answers each with one JSON line on stdout:

    connect            sign the clients in (session cookies made before the clock) and open their sockets
    run {...}          the scenario's load from wall-clock `start` for `seconds` (one clock on one machine)
    close              close every socket; the last answer
Every answer carries the process's own CPU seconds so far (`cpu`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import resource
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
import yarl

from messenger.client import RECONNECT_FIRST_DELAY, RECONNECT_MAX_DELAY, Client, ClientError

RETRY_FOR_SECONDS = 60.0  # a storm's client that keeps failing gives up this long after the window


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class BenchClient(Client):
    """A client whose sign-in was done before the clock (a session made in the scratch database), and which
    fails over to the next worker when its own refuses the connection, as a load balancer would route it."""

    def __init__(self, urls: list[str], first: int, username: str, *, session_key: str | None, cookie_name: str,
                 password: str = "", reconnect: bool = True) -> None:  # fmt: skip
        super().__init__(urls[first % len(urls)], username, password, reconnect=reconnect)
        self.urls = urls[first % len(urls) :] + urls[: first % len(urls)]
        self.session_key, self.cookie_name = session_key, cookie_name
        # What the scenario measures, filled by `listen`.
        self.received_at: dict[tuple[int, int], float] = {}  # (conversation, seq) -> first live receipt
        self.sent_at: dict[tuple[int, int], float] = {}  # from the body's timestamp, for others' messages
        self.duplicates = 0
        self.out_of_order = 0
        self.highest_live: dict[int, int] = {}
        self.online_seen: dict[int, float] = {}  # user id -> first moment this client saw them online

    async def _sign_in(self) -> None:
        if self.session_key is None:
            await super()._sign_in()  # a real password sign-in (S5b)
            return
        self._http.cookie_jar.update_cookies({self.cookie_name: self.session_key}, response_url=yarl.URL(self.base_url))

    async def _open_socket(self) -> None:
        error: Exception | None = None
        for url in self.urls:
            self.base_url = url
            try:
                await super()._open_socket()
                return
            except (aiohttp.ClientError, OSError) as failure:
                error = failure
        raise error

    async def listen(self) -> None:
        async for frame in self.events():
            now = time.time()
            kind = frame["type"]
            if kind == "message":
                message = frame["message"]
                key = (message["conversation_id"], message["seq"])
                if key in self.received_at:
                    self.duplicates += 1
                    continue
                if key[1] < self.highest_live.get(key[0], 0):
                    self.out_of_order += 1  # a later message of this conversation arrived live before it
                self.highest_live[key[0]] = max(key[1], self.highest_live.get(key[0], 0))
                self.received_at[key] = now
                body = message["body"]
                if message["sender"]["username"] != self.username and "@" in body:  # others' messages only
                    self.sent_at[key] = float(body.rsplit("@", 1)[1])
            elif kind == "presence.snapshot":
                for person in frame["users"]:
                    if person["state"] != "offline":
                        self.online_seen.setdefault(person["user_id"], now)
            elif kind == "presence" and frame["state"] != "offline":
                self.online_seen.setdefault(frame["user_id"], now)

    async def send_counted(self, conversation_id: int, stats: dict[str, Any]) -> None:
        """Send one message carrying its send time. An `overloaded` refusal is retried by the client itself
        (messenger/client.py: backoff, the same client id, so the server keeps one message) and counted here;
        the ack latency includes those waits."""
        client_id = uuid.uuid4().hex
        started = time.time()
        refused_before = self.overloaded_refusals
        try:
            message = await self.send(conversation_id, f"{self.username} @{started:.6f}", client_id=client_id)
        except ClientError as error:
            stats["errors"][error.code] = stats["errors"].get(error.code, 0) + 1
            return
        except (TimeoutError, ConnectionError) as error:
            stats["errors"][type(error).__name__] = stats["errors"].get(type(error).__name__, 0) + 1
            return
        finally:
            stats["overloaded"] += self.overloaded_refusals - refused_before
        acked = time.time()
        stats["sent"].setdefault(str(conversation_id), []).append(message["seq"])  # acknowledged seqs
        stats["ack_latencies"].append(acked - started)
        stats["ack_times"].append(acked)


class Generator:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.clients: list[BenchClient] = []
        self.listeners: list[asyncio.Task] = []
        self.connect_report: dict[str, Any] = {}

    def make_client(self, entry: dict[str, Any], *, reconnect: bool = True) -> BenchClient:
        return BenchClient(
            self.spec["urls"],
            entry["worker"],
            entry["username"],
            session_key=entry.get("session_key"),
            cookie_name=self.spec["cookie_name"],
            password=self.spec.get("password", ""),
            reconnect=reconnect,
        )

    async def connect(self) -> dict[str, Any]:
        entries = self.spec["clients"]
        self.clients = [self.make_client(entry, reconnect=self.spec.get("reconnect", True)) for entry in entries]
        gate = asyncio.Semaphore(self.spec.get("connect_concurrency", 10))
        failures: dict[str, int] = {}
        done_at: list[float] = []
        started = time.time()

        async def one(client: BenchClient) -> bool:
            async with gate:
                try:
                    await client.connect()
                except (ClientError, aiohttp.ClientError, OSError, TimeoutError) as error:
                    name = error.code if isinstance(error, ClientError) else type(error).__name__
                    if isinstance(error, aiohttp.WSServerHandshakeError):
                        name = f"handshake {error.status}"
                    failures[name] = failures.get(name, 0) + 1
                    with contextlib.suppress(Exception):
                        await client.close()
                    return False
                done_at.append(time.time())
                return True

        results = await asyncio.gather(*(one(client) for client in self.clients))
        self.clients = [client for client, ok in zip(self.clients, results, strict=True) if ok]
        self.listeners = [asyncio.create_task(client.listen()) for client in self.clients]
        return {"connected": len(self.clients), "failures": failures, "started": started,
                "last_done": max(done_at, default=started)}  # fmt: skip

    async def run(self, command: dict[str, Any]) -> dict[str, Any]:
        scenario = command["scenario"]
        return await getattr(self, f"run_{scenario}")(command)

    def _stats(self) -> dict[str, Any]:
        return {"sent": {}, "errors": {}, "overloaded": 0, "ack_latencies": [], "ack_times": []}

    async def _until(self, start: float) -> None:
        await asyncio.sleep(max(0.0, start - time.time()))

    async def run_steady(self, command: dict[str, Any]) -> dict[str, Any]:
        """Each client sends to its room once a second, with jitter, until start + seconds."""
        stats = self._stats()
        start, seconds = command["start"], command["seconds"]
        rooms = {entry["username"]: entry["room"] for entry in self.spec["clients"]}

        async def speak(client: BenchClient) -> None:
            await self._until(start + random.random())  # noqa: S311 (spread the senders over the second)
            tick = time.time()
            while tick < start + seconds:
                await client.send_counted(rooms[client.username], stats)
                tick += 1.0 + random.uniform(-0.1, 0.1)  # noqa: S311 (jitter)
                await asyncio.sleep(max(0.0, tick - time.time()))

        await asyncio.gather(*(speak(client) for client in self.clients))
        return await self._drained(stats, command)

    async def run_saturate(self, command: dict[str, Any]) -> dict[str, Any]:
        """Each client keeps `in_flight` messages unacknowledged at all times until start + seconds."""
        stats = self._stats()
        start, seconds = command["start"], command["seconds"]
        rooms = {entry["username"]: entry["room"] for entry in self.spec["clients"]}

        async def lane(client: BenchClient) -> None:
            await self._until(start)
            while time.time() < start + seconds:
                await client.send_counted(rooms[client.username], stats)

        await asyncio.gather(*(lane(client) for client in self.clients for _ in range(command["in_flight"])))
        return await self._drained(stats, command)

    async def run_fanout(self, command: dict[str, Any]) -> dict[str, Any]:
        """The sender (the first client of the first generator) sends `rate` messages a second; everyone
        else only receives."""
        stats = self._stats()
        start, seconds = command["start"], command["seconds"]
        senders = [client for client in self.clients if client.username == command["sender"]]
        room = self.spec["clients"][0]["room"]
        for client in senders:
            await self._until(start)
            tick = time.time()
            while tick < start + seconds:
                await client.send_counted(room, stats)
                tick += 1.0 / command["rate"]
                await asyncio.sleep(max(0.0, tick - time.time()))
        await self._until(start + seconds)
        return await self._drained(stats, command)

    async def _drained(self, stats: dict[str, Any], command: dict[str, Any]) -> dict[str, Any]:
        """Let the last deliveries land, note what was held, then sync once more (a resync finds what live
        delivery missed) and note it again: "lost" is judged after that resync."""
        await asyncio.sleep(command.get("drain", 3.0))
        held_live = {client.username: self._held(client) for client in self.clients}

        sync_failures: dict[str, int] = {}

        async def final_sync(client: BenchClient) -> None:
            try:
                while True:
                    result = await client.request({"type": "sync", "since": client.sync_point()})
                    if not any(conversation["has_more"] for conversation in result["conversations"]):
                        break
            except (ClientError, ConnectionError, TimeoutError) as error:
                name = error.code if isinstance(error, ClientError) else type(error).__name__
                sync_failures[name] = sync_failures.get(name, 0) + 1

        await asyncio.gather(*(final_sync(client) for client in self.clients))
        receipts: list[list] = []
        latencies: list[float] = []
        for client in self.clients:
            for key, received in client.received_at.items():
                if key in client.sent_at:
                    latencies.append(received - client.sent_at[key])
                    if command.get("receipts"):
                        receipts.append([key[0], key[1], received - client.sent_at[key]])
        return {
            **stats,
            "latencies": latencies,
            "receipts": receipts,
            "held_before_sync": held_live,
            "held": {client.username: self._held(client) for client in self.clients},
            "duplicates": sum(client.duplicates for client in self.clients),
            "out_of_order": sum(client.out_of_order for client in self.clients),
            "reconnects": sum(client.reconnects for client in self.clients),
            "live_deliveries": len(latencies),  # others' messages received live (a sender's own echo not counted)
            "final_sync_failures": sync_failures,
            "holding_nothing": sum(1 for client in self.clients if not any(client._messages.values())),
        }

    def _held(self, client: BenchClient) -> dict[str, list[int]]:
        return {str(conversation): sorted(held) for conversation, held in client._messages.items()}

    async def run_idle(self, command: dict[str, Any]) -> dict[str, Any]:
        """Hold the sockets open and do nothing until start + seconds; count the ones still open."""
        await self._until(command["start"] + command["seconds"])
        return {"open": sum(1 for client in self.clients if client._socket is not None and not client._socket.closed)}

    async def run_drop(self, command: dict[str, Any]) -> dict[str, Any]:
        """Forget the sockets a killed worker cut (S5a): close them on our side without reconnecting."""
        await asyncio.gather(*(client.close() for client in self.clients), return_exceptions=True)
        for task in self.listeners:
            task.cancel()
        return {"dropped": len(self.clients)}

    async def run_storm(self, command: dict[str, Any]) -> dict[str, Any]:
        """Every client connects once at a random moment within `spread` seconds of `start` (session cookies
        for a reconnect storm, passwords for a sign-in storm); note when each tried, got in, and saw whom
        online."""
        start, spread = command["start"], command["spread"]
        entries = self.spec["clients"]
        if command.get("password"):
            entries = [{**entry, "session_key": None} for entry in entries]
        clients = [self.make_client(entry, reconnect=False) for entry in entries]
        outcomes: list[dict[str, Any]] = [{} for _ in clients]

        async def one(index: int, client: BenchClient) -> None:
            at = start + random.uniform(0, spread)  # noqa: S311 (spread over the window)
            await self._until(at)
            outcome = outcomes[index]
            outcome.update(username=client.username, tried=time.time(), attempts=0)
            delay = RECONNECT_FIRST_DELAY
            while True:
                outcome["attempts"] += 1
                try:
                    await client.connect()
                    outcome.update(done=time.time(), user_id=client.user_id)
                    self.listeners.append(asyncio.create_task(client.listen()))
                    return
                except (ClientError, aiohttp.ClientError, OSError, TimeoutError) as error:
                    refusal = error.code if isinstance(error, ClientError) else type(error).__name__
                    if isinstance(error, aiohttp.WSServerHandshakeError):
                        refusal = f"handshake {error.status}"
                    outcome.setdefault("refusals", []).append(refusal)
                    with contextlib.suppress(Exception):
                        await client.close()
                    client = clients[index] = self.make_client(entries[index], reconnect=False)
                if not command.get("retry") or time.time() > start + spread + RETRY_FOR_SECONDS:
                    outcome.update(done=time.time(), refused=refusal)
                    return
                # As a browser's socket does after a failed connect (messenger/client.py's policy).
                await asyncio.sleep(delay * (0.5 + random.random() / 2))  # noqa: S311 (jitter)
                delay = min(delay * 2, RECONNECT_MAX_DELAY)

        await asyncio.gather(*(one(index, client) for index, client in enumerate(clients)))
        await asyncio.sleep(command.get("watch", 10.0))  # presence announcements still on their way
        for client, outcome in zip(clients, outcomes, strict=True):
            outcome["online_seen"] = {str(user): seen for user, seen in client.online_seen.items()}
        self.clients = [client for client in clients if client.user_id is not None]
        return {"outcomes": outcomes}

    async def close(self) -> dict[str, Any]:
        for task in self.listeners:
            task.cancel()
        await asyncio.gather(*(client.close() for client in self.clients), return_exceptions=True)
        return {"closed": len(self.clients)}


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)  # the spec line lists thousands of clients
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    spec = json.loads(await reader.readline())

    def quiet(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        """The client fails a dropped socket's waiting replies; the fault run drops sockets on purpose."""
        if not isinstance(context.get("exception"), ConnectionError):
            loop.default_exception_handler(context)

    loop.set_exception_handler(quiet)
    generator = Generator(spec)
    while line := (await reader.readline()).decode().strip():
        name, _, argument = line.partition(" ")
        if name == "connect":
            answer = await generator.connect()
        elif name == "run":
            answer = await generator.run(json.loads(argument))
        elif name == "close":
            answer = await generator.close()
        else:
            answer = {"error": f"unknown command {name!r}"}
        answer["cpu"] = cpu_seconds()
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if name == "close":
            return


if __name__ == "__main__":
    asyncio.run(main())
