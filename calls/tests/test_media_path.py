"""A real media path through Parley's signaling: two aiortc peers, each driven by the Python client against a
live daphne, connect over ICE on loopback and hear each other's audio. The server only relayed the offer and
the answer; the sound went between the peers."""

import array
import asyncio
import fractions
import math

import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from av import AudioFrame

from messenger.client import Client

SAMPLE_RATE = 48_000
SAMPLES_PER_FRAME = 960  # 20 ms, Opus's usual frame


class SineTrack(MediaStreamTrack):
    """A 440 Hz tone in real time: what a microphone would give, with something to recognise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.started: float | None = None

    async def recv(self) -> AudioFrame:
        loop = asyncio.get_running_loop()
        self.started = self.started or loop.time()
        wait = self.started + self.sent / SAMPLE_RATE - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        samples = array.array(
            "h", (round(8000 * math.sin(2 * math.pi * 440 * (self.sent + n) / SAMPLE_RATE)) for n in range(960))
        )
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES_PER_FRAME)
        frame.planes[0].update(samples.tobytes())
        frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, self.sent, fractions.Fraction(1, SAMPLE_RATE)
        self.sent += SAMPLES_PER_FRAME
        return frame


class Peer:
    """One side of the call: a peer connection with a tone to send, keeping what it receives."""

    def __init__(self, ice_servers: list[dict]) -> None:
        self.connection = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        assert ice_servers == []  # Parley's default: no STUN or TURN server, host candidates only
        self.connection.addTrack(SineTrack())
        self.heard: list[AudioFrame] = []
        self.connected, self.heard_enough = asyncio.Event(), asyncio.Event()
        self.connection.on("track", lambda track: asyncio.ensure_future(self._listen(track)))
        self.connection.on("connectionstatechange", self._state_changed)

    def _state_changed(self) -> None:
        if self.connection.connectionState == "connected":
            self.connected.set()

    async def _listen(self, track: MediaStreamTrack) -> None:
        while len(self.heard) < 25:
            self.heard.append(await track.recv())
        self.heard_enough.set()


@pytest.fixture
def loopback_only(monkeypatch):
    """ICE host candidates on 127.0.0.1 only (aioice leaves loopback out by default), so the test needs no
    network but this machine's own."""
    import aioice.ice

    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@pytest.mark.django_db(transaction=True)
def test_a_python_peer_answers_a_call_placed_through_the_client_and_both_hear_audio(tmp_path, loopback_only):
    from accounts.tests.factories import TEST_PASSWORD, UserFactory
    from core.testing import start_daphne_worker

    for name in ("alice", "bob"):
        UserFactory(username=name)
    worker = start_daphne_worker(tmp_path)

    async def scenario():
        async with (
            Client(worker.http_url, "alice", TEST_PASSWORD) as alice,
            Client(worker.http_url, "bob", TEST_PASSWORD) as bob,
        ):
            placed = await alice.call_invite(await alice.direct("bob"))
            call_id = placed["call"]["id"]
            ringing = await bob.next_event("call.ringing")
            accepted = await bob.call_accept(ringing["call"]["id"])
            caller, callee = Peer(placed["ice_servers"]), Peer(accepted["ice_servers"])
            try:
                # The one who joins offers to those already in (docs/calls.md); aiortc puts its candidates in
                # the SDP, so no separate `ice` signals are needed here.
                await callee.connection.setLocalDescription(await callee.connection.createOffer())
                await bob.call_signal(call_id, alice.user_id, "offer", {"sdp": callee.connection.localDescription.sdp})
                offer = await alice.next_event("call.signal")
                await caller.connection.setRemoteDescription(RTCSessionDescription(**offer["payload"]))
                await caller.connection.setLocalDescription(await caller.connection.createAnswer())
                await alice.call_signal(call_id, bob.user_id, "answer", {"sdp": caller.connection.localDescription.sdp})
                answer = await bob.next_event("call.signal")
                await callee.connection.setRemoteDescription(RTCSessionDescription(**answer["payload"]))

                async with asyncio.timeout(20):
                    await asyncio.gather(caller.connected.wait(), callee.connected.wait())
                    await asyncio.gather(caller.heard_enough.wait(), callee.heard_enough.wait())
                states = (caller.connection.iceConnectionState, callee.connection.iceConnectionState)
                await alice.call_hangup(call_id)
                ended = await bob.next_event("call.ended")
                return offer, states, caller.heard, callee.heard, ended
            finally:
                await caller.connection.close()
                await callee.connection.close()

    try:
        offer, states, heard_by_caller, heard_by_callee, ended = asyncio.run(scenario())
    finally:
        worker.stop()

    assert offer["kind"] == "offer" and "127.0.0.1" in offer["payload"]["sdp"]
    assert states == ("completed", "completed")  # aiortc's name for ICE "connected" with checks done
    for heard in (heard_by_caller, heard_by_callee):
        loudest = max(max(map(abs, array.array("h", bytes(frame.planes[0])))) for frame in heard)
        assert loudest > 1000, "the frames carry the tone, not silence"
    assert ended["call"]["state"] == "ended" and ended["call"]["duration_seconds"] >= 0
