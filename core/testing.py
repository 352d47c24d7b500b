"""Helpers for tests that need the real stack: sessions over the ASGI app, real daphne and Redis processes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import queue
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import redis
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.db import connection
from django.test import Client

from config.server import daphne_process

BASE_DIR = Path(settings.BASE_DIR)
TEST_ORIGIN = "http://localhost"


class Listener:
    """A channel subscribed to one group, like a member's open socket. It listens on an event loop of its own in
    a thread for as long as the test runs: the pub/sub layer's subscription lives as long as its loop, so a
    loop per call (async_to_sync's, in a sync test) would miss what services announce in between."""

    def __init__(self, group: str) -> None:
        self.layer = get_channel_layer()
        self.heard: queue.SimpleQueue[dict] = queue.SimpleQueue()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.channel = asyncio.run_coroutine_threadsafe(self._subscribe(group), self.loop).result(timeout=10)

    async def _subscribe(self, group: str) -> str:
        channel = await self.layer.new_channel()
        await self.layer.group_add(group, channel)
        self.tasks = [asyncio.ensure_future(self._listen(channel)), asyncio.ensure_future(self._stay_awake())]
        return channel

    async def _listen(self, channel: str) -> None:
        while True:
            event = await self.layer.receive(channel)
            if "text" in event:  # a frame; not a socket's own bookkeeping (a presence recheck after a leave)
                self.heard.put(json.loads(event["text"]))

    @staticmethod
    async def _stay_awake() -> None:
        """The in-memory layer wakes a reader from the sender's thread without waking its loop: tick so the
        loop notices."""
        while True:  # noqa: ASYNC110 (a tick, not a wait for a condition)
            await asyncio.sleep(0.02)

    def frames(self, timeout: float = 0.5) -> list[dict]:
        """Everything heard so far, and what arrives until `timeout` passes without a frame."""
        received = []
        while True:
            try:
                received.append(self.heard.get(timeout=timeout))
            except queue.Empty:
                return received


def session_cookie_for(user, *, second_factor: bool = False) -> str:
    """A `Cookie` header value for a signed-in session of `user`, as a browser would send it (with its second
    factor entered, if asked)."""
    client = Client()
    if second_factor:
        force_login_with_second_factor(client, user)
    else:
        client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def force_login_with_second_factor(client: Client, user) -> None:
    """Sign `client` in as `user` with a confirmed authenticator, as if they had entered its code: what IT
    Admins, Compliance Officers and superusers need before any page opens."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.models import AuthenticatorDevice

    device = AuthenticatorDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device = AuthenticatorDevice.objects.create(user=user, name="test authenticator", confirmed=True)
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def signed_in_client(user) -> Client:
    """A fresh test client signed in as `user`, second factor included (admin pages need it for staff)."""
    client = Client()
    force_login_with_second_factor(client, user)
    return client


def staff_in(role: str, username: str):
    """A staff account in one of accounts.roles' groups, with the roles' permissions applied (after a flush
    they are gone): an IT Admin, a Compliance Officer, or an employee who was made staff."""
    from accounts import roles
    from accounts.tests.factories import UserFactory

    roles.role_permissions_apply()
    person = UserFactory(username=username, is_staff=True)
    person.groups.add(roles.role_group(role))
    return person


def socket_to_app(
    *,
    cookie: str | None = None,
    origin: str | None = TEST_ORIGIN,
    host: str = "localhost",
    extra_headers: tuple[tuple[bytes, bytes], ...] = (),
) -> WebsocketCommunicator:
    """A WebSocket to /ws/ through the whole ASGI application (origin check, auth, routing)."""
    from config.asgi import application

    headers = [(b"host", host.encode()), *extra_headers]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    if cookie is not None:
        headers.append((b"cookie", cookie.encode()))
    return WebsocketCommunicator(application, "/ws/", headers=headers)


async def next_of_type(socket: WebsocketCommunicator, frame_type: str, *, seconds: float = 3) -> dict:
    """The next frame of `frame_type` on a socket from socket_to_app, skipping the others."""
    while True:
        frame = await socket.receive_json_from(timeout=seconds)
        if frame["type"] == frame_type:
            return frame


async def frames_before(
    socket: WebsocketCommunicator, is_marker: Callable[[dict], bool], *, seconds: float = 3
) -> list[dict]:
    """The frames a socket receives before the first one `is_marker` accepts (consumed, not returned). To show
    that a frame does not arrive, cause a marker that must come after it and wait for the marker: sure, unlike
    waiting a moment for nothing, and as fast as the server."""
    frames = []
    while not is_marker(frame := await socket.receive_json_from(timeout=seconds)):
        frames.append(frame)
    return frames


async def open_socket_for(cookie: str) -> WebsocketCommunicator:
    """A connected socket of the session `cookie` belongs to (session_cookie_for)."""
    socket = socket_to_app(cookie=cookie)
    assert (await socket.connect())[0]
    return socket


async def closes_with(socket: WebsocketCommunicator, reason: str) -> bool:
    """Does the server sign this socket out with `reason`, then close it?"""
    while (frame := await socket.receive_json_from(timeout=3))["type"] != "signed_out":
        pass
    return frame["reason"] == reason and (await socket.receive_output(timeout=3))["type"] == "websocket.close"


class MovableClock:
    """A clock for code that reads time through one hand-in point (accounts.presence.clock,
    core.ratelimit.TokenBucket.clock): it stands still until the test moves it, so an expiry or a refill is
    exact and never slept through on a busy machine."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_url_of_test_database() -> str:
    """DATABASE_URL for the database this test run uses, so a child process opens the very same one."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    credentials = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{credentials}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class ChildProcess:
    """A server process a test started on a free loopback port, with its output in a log file."""

    port: int
    process: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """Die like a crashed host: SIGKILL, nothing is closed cleanly or handed over."""
        self.process.kill()
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class DaphneWorker(ChildProcess):
    """One real `daphne` process serving config.asgi on a free loopback port."""

    env: dict[str, str] = field(repr=False)

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        super().stop()
        # Captured by pytest and shown only when the test failed: what the worker said, for the post-mortem.
        print(f"---- daphne worker on port {self.port}, end of its log ----\n{self.log()[-6000:]}")


def start_daphne_worker(tmp_dir: Path, extra_env: dict[str, str] | None = None) -> DaphneWorker:
    """Start daphne against the test database and channel layer, and wait until /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_database(),
        "SECRET_KEY": settings.SECRET_KEY,
        "PARLEY_ENCRYPTION_KEYS": settings.PARLEY_ENCRYPTION_KEYS,
        "PARLEY_CHANNEL_PREFIX": settings.PARLEY_CHANNEL_PREFIX,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        **(extra_env or {}),
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    log_path = tmp_dir / f"daphne-{port}.log"
    with log_path.open("wb") as log:
        process = daphne_process(port=port, env=env, log=log, cwd=BASE_DIR)
    worker = DaphneWorker(port=port, process=process, log_path=log_path, env=env)
    wait_until_answering(worker, f"{worker.http_url}/healthz", name="daphne")
    return worker


def wait_until_answering(child: ChildProcess, url: str, *, name: str, seconds: float = 30) -> None:
    """Wait until a server the test started answers `url`; stop it and fail with its log if it exits first or
    does not answer within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.process.poll() is not None:
            raise RuntimeError(f"{name} exited with {child.process.returncode}:\n{child.log()}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback)
                return
        except OSError:
            time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{name} did not answer on port {child.port} within {seconds:g} s:\n{child.log()}")


class LoadBalancer:
    """A TCP load balancer on a free loopback port, for tests of what a client sees when a worker dies.

    Each new connection goes to the first backend port in `backend_ports` that accepts it, so a killed worker
    (its port refuses) is skipped as a real balancer's health check would skip it, and the bytes are relayed both
    ways until either side closes, when the other side is closed too: a worker killed mid-connection drops the
    client's socket as it would behind nginx or an ELB. While `refusing` is set, new connections are reset as
    soon as they are accepted (an outage whose end the test chooses); connections already relayed are left
    alone. `routed_to` lists the backend port of every connection relayed, in order.

    Plain threads and blocking sockets (one acceptor, two copiers per connection), not asyncio: Playwright's sync
    API owns the test thread's event loop, and a copy loop per direction is the simplest relay that is correct.
    Use it as a context manager: leaving closes the listener and every relayed socket and joins every thread.
    """

    def __init__(self, backend_ports: list[int]) -> None:
        self.backend_ports = list(backend_ports)
        self.refusing = threading.Event()
        self.routed_to: list[int] = []
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)  # the acceptor looks at _closing this often
        self.port = self._listener.getsockname()[1]
        self._acceptor = threading.Thread(target=self._accept, name=f"balancer-{self.port}", daemon=True)
        self._acceptor.start()

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LoadBalancer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        self._closing.set()
        self._acceptor.join(timeout=5)
        self._listener.close()
        with self._lock:  # shut, not closed: each pair's copiers wake, and the last of them closes it
            for relayed in self._sockets:
                self._shut(relayed)
        for thread in self._threads:
            thread.join(timeout=5)
        assert not any(thread.is_alive() for thread in [self._acceptor, *self._threads]), "a relay did not stop"

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            client.setblocking(True)
            backend = None if self.refusing.is_set() else self._first_backend_accepting()
            if backend is None:
                # RST at once, not a polite FIN: what a client meets when nothing is listening.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                client.close()
                continue
            with self._lock:
                self.routed_to.append(backend.getpeername()[1])
                self._sockets |= {client, backend}
            copiers_left = [2]  # the pair is closed by the last of its two copiers, never under the other's feet
            for source, target in ((client, backend), (backend, client)):
                copier = threading.Thread(target=self._copy, args=(source, target, copiers_left), daemon=True)
                self._threads.append(copier)
                copier.start()

    def _first_backend_accepting(self) -> socket.socket | None:
        for port in self.backend_ports:
            try:
                backend = socket.create_connection(("127.0.0.1", port), timeout=2)
            except OSError:
                continue
            backend.settimeout(None)
            return backend
        return None

    def _copy(self, source: socket.socket, target: socket.socket, copiers_left: list[int]) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass  # reset, or shut by the other copier or by close()
        finally:  # one side is gone: end both, which also wakes the copier of the other direction
            self._shut(source)
            self._shut(target)
            with self._lock:
                copiers_left[0] -= 1
                if copiers_left[0] == 0:
                    self._sockets -= {source, target}
                    source.close()
                    target.close()

    @staticmethod
    def _shut(end: socket.socket) -> None:
        with contextlib.suppress(OSError):  # closed already
            end.shutdown(socket.SHUT_RDWR)


class RedisProcess(ChildProcess):
    """One real redis-server or redis-sentinel process, its config in the test's tmp dir."""

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)


def start_redis(
    tmp_dir: Path, *, directives: list[str], sentinel: bool = False, port: int | None = None
) -> RedisProcess:
    """Start redis-server (or redis-sentinel) with `directives` as its config file; wait until it answers PING.

    In memory only, bound to loopback; a sentinel rewrites its config file, so each gets its own. Given the
    `port` of one stopped earlier, it is that server restarted empty.
    """
    port = port or free_port()
    work_dir = tmp_dir / f"redis-{port}"
    work_dir.mkdir(exist_ok=True)
    config = work_dir / ("sentinel.conf" if sentinel else "redis.conf")
    lines = [f"port {port}", "bind 127.0.0.1", f'dir "{work_dir}"', "daemonize no", 'save ""', "appendonly no"]
    config.write_text("\n".join((lines[:4] if sentinel else lines) + directives) + "\n")
    log_path = work_dir / "log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (a Debian binary and our own config)
            ["redis-sentinel" if sentinel else "redis-server", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    server = RedisProcess(port=port, process=process, log_path=log_path)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{config.name} process exited with {process.returncode}:\n{server.log()}")
        try:
            if server.client().ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"{config.name} did not answer on port {port} within 30 s:\n{server.log()}")


class SignedInSocket:
    """A real WebSocket to a daphne worker, signed in through the login form like a browser (aiohttp)."""

    def __init__(self, session, socket) -> None:
        self.session, self.socket = session, socket

    @classmethod
    async def open(cls, http_url: str, username: str, password: str) -> SignedInSocket:
        import aiohttp
        import yarl

        session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # unsafe: IP-address hosts
        login_url = f"{http_url}/accounts/login/"
        async with session.get(login_url) as response:
            await response.read()
        csrf = session.cookie_jar.filter_cookies(yarl.URL(login_url))["csrftoken"].value
        form = {"username": username, "password": password, "csrfmiddlewaretoken": csrf}
        async with session.post(login_url, data=form, allow_redirects=False) as response:
            if response.status != 302:
                await session.close()
                raise RuntimeError(f"sign-in of {username} failed with HTTP {response.status}")
        socket = await session.ws_connect(f"{http_url.replace('http', 'ws', 1)}/ws/", origin=http_url)
        return cls(session, socket)

    async def send(self, frame: dict) -> None:
        await self.socket.send_json(frame)

    async def next_frame(self, *, seconds: float = 10.0) -> dict:
        import asyncio

        message = await asyncio.wait_for(self.socket.receive(), seconds)
        if message.type.name != "TEXT":
            raise ConnectionError(f"socket ended: {message.type.name}")
        return message.json()

    async def wait_for(self, predicate, *, seconds: float = 10.0) -> dict:
        """The first frame matching `predicate`, skipping others; fails after `seconds`."""
        import asyncio

        async def scan() -> dict:
            while True:
                frame = await self.next_frame(seconds=seconds)
                if predicate(frame):
                    return frame

        return await asyncio.wait_for(scan(), seconds)

    async def close(self) -> None:
        await self.socket.close()
        await self.session.close()


def run_in_threads(work, arguments: list, *, seconds: float = 120) -> list[BaseException]:
    """Run `work(argument)` in one thread per argument, all released at once; return what they raised.

    For concurrency tests: each thread gets its own database connection and closes it when done.
    """
    import threading

    from django.db import connection as thread_connection

    failures: list[BaseException] = []
    start = threading.Barrier(len(arguments))

    def run(argument) -> None:
        try:
            start.wait()
            work(argument)
        except BaseException as error:  # reported to the caller; a thread's exception is otherwise lost
            failures.append(error)
        finally:
            thread_connection.close()

    threads = [threading.Thread(target=run, args=(argument,)) for argument in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds)
    return failures


def table_text(table: str) -> str:
    """Every value of every row of a table as one text, as a dump would show it: binary columns as Latin-1
    (so a clear value inside them shows), the rest as str. Portable SQL, so tests run on SQLite too."""
    values = []
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 (a table we name)
        for row in cursor.fetchall():
            values += [bytes(v).decode("latin-1") if isinstance(v, bytes | memoryview) else str(v) for v in row]
    return "\n".join(values)


SSHD = Path("/usr/sbin/sshd")


def service_missing(reason: str) -> NoReturn:
    """End a test that needs a program or service this machine lacks: a skip, but a failure under CI=true."""
    import pytest

    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; under CI=true a missing service is a failure, not a skip.", pytrace=False)
    pytest.skip(reason)


def require_sshd() -> None:
    """OpenSSH's server (Debian's openssh-server) for tests of SFTP targets; under CI=true missing means failed."""
    if not (SSHD.exists() and shutil.which("ssh-keygen")):
        service_missing(f"OpenSSH's server is not installed at {SSHD} (apt-get install openssh-server)")


@dataclass
class SftpServer(ChildProcess):
    """A real OpenSSH sshd on a loopback port serving SFTP (internal-sftp) to one key, with a throwaway host
    key: `known_hosts` pins it, `client_key` signs in as `username`, files land under `root`."""

    username: str = ""
    root: Path = field(default_factory=Path)
    client_key: Path = field(default_factory=Path)
    known_hosts: Path = field(default_factory=Path)
    host_public_key: str = ""

    @property
    def url(self) -> str:
        return f"sftp://{self.username}@127.0.0.1:{self.port}{self.root}"


def start_sftp_server(tmp_dir: Path) -> SftpServer:
    """Start sshd in the foreground on a free port, configured wholly from files in `tmp_dir` (absolute paths,
    as sshd requires); the system's sshd service is neither used nor started."""
    import getpass

    require_sshd()
    home = (tmp_dir / "sshd").resolve()
    root = home / "inbox"
    root.mkdir(parents=True)
    keygen = shutil.which("ssh-keygen")
    for key in ("host_key", "client_key"):
        subprocess.run(  # noqa: S603 (our own arguments)
            [keygen, "-q", "-t", "ed25519", "-N", "", "-C", key, "-f", str(home / key)],
            check=True,
            capture_output=True,
        )
    (home / "authorized_keys").write_text((home / "client_key.pub").read_text())
    port = free_port()
    host_public_key = (home / "host_key.pub").read_text().split()
    known_hosts = home / "known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{port} {host_public_key[0]} {host_public_key[1]}\n")
    config = home / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {home / 'host_key'}\nPidFile {home / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {home / 'authorized_keys'}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PubkeyAuthentication yes\nPermitRootLogin prohibit-password\nUsePAM no\n"
        # StrictModes: the temporary directory's owner and modes are not sshd's idea of a home; as root it insists.
        "StrictModes no\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n"
    )
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # its privilege separation directory
    log_path = home / "sshd.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 (our own arguments)
            [str(SSHD), "-D", "-e", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    server = SftpServer(
        port=port,
        process=process,
        log_path=log_path,
        username=getpass.getuser(),
        root=root,
        client_key=home / "client_key",
        known_hosts=known_hosts,
        host_public_key=" ".join(host_public_key[:2]),
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sshd exited with {process.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                if probe.recv(4).startswith(b"SSH-"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"sshd did not answer on port {port} within 15 s:\n{server.log()}")
