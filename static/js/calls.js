// Voice calls and screen sharing (docs/calls.md): WebRTC between the browsers, a mesh of peer connections
// (one per other participant), signaled over the page's one socket. The server rings, keeps who is in the
// call and relays offers, answers and ICE candidates; it never sees the media.
//
// Who offers: the one who joins sends an offer to each participant already in the call; they answer. A
// screen shared later is one more track, offered again on each existing connection.

import { notifyIncomingCall } from "./notify.js";

const $ = (id) => document.getElementById(id);

function nameOf(participant) {
  return participant.display_name || participant.username;
}

function clock(seconds) {
  const minutes = Math.floor(seconds / 60);
  const rest = String(seconds % 60).padStart(2, "0");
  return minutes >= 60 ? `${Math.floor(minutes / 60)}:${String(minutes % 60).padStart(2, "0")}:${rest}` : `${minutes}:${rest}`;
}

export class Calls {
  constructor({ connection, store, say }) {
    this.connection = connection;
    this.store = store;
    this.say = say;
    this.call = null; // the call this tab is in
    this.ringing = null; // a call ringing for this user, not yet answered here
    this.liveCalls = new Map(); // conversation id -> its running call, for "Join call"
    this.peers = new Map(); // user id -> RTCPeerConnection
    this.iceServers = [];
    this.microphone = null;
    this.screen = null;
    this.timer = null;
    this.nodes = {
      start: $("call-start"),
      join: $("call-join"),
      panel: $("call-panel"),
      title: $("call-title"),
      time: $("call-timer"),
      participants: $("call-participants"),
      mute: $("call-mute"),
      share: $("call-share"),
      hangup: $("call-hangup"),
      media: $("call-media"),
      incoming: $("call-incoming"),
      incomingText: $("call-incoming-text"),
      accept: $("call-accept"),
      decline: $("call-decline"),
    };
    this.nodes.start.addEventListener("click", () => this.start(this.store.activeId));
    this.nodes.join.addEventListener("click", () => this.join(this.liveCalls.get(this.store.activeId)?.id));
    this.nodes.accept.addEventListener("click", () => this.join(this.ringing?.id));
    this.nodes.decline.addEventListener("click", () => this.decline());
    this.nodes.hangup.addEventListener("click", () => this.hangUp());
    this.nodes.mute.addEventListener("click", () => this.toggleMute());
    this.nodes.share.addEventListener("click", () => (this.screen ? this.stopSharing() : this.shareScreen()));
    connection.addEventListener("frame", (event) => this.onFrame(event.detail));
    connection.addEventListener("hello", () => this.reconnected());
    window.addEventListener("pagehide", () => this.call && this.connection.notify({ type: "call.hangup", call_id: this.call.id }));
  }

  // ---- the conversation on screen --------------------------------------------------------------------------

  showConversation(conversationId) {
    const live = this.liveCalls.get(conversationId);
    const inThisCall = this.call && this.call.conversation_id === conversationId;
    this.nodes.start.hidden = Boolean(live) || Boolean(this.call);
    this.nodes.join.hidden = !live || inThisCall || Boolean(this.call);
    this.nodes.start.disabled = conversationId === null;
  }

  // ---- frames from the server ----------------------------------------------------------------------------------

  onFrame(frame) {
    switch (frame.type) {
      case "call.ringing":
        if (!this.call) this.ring(frame.call);
        break;
      case "call.updated":
        this.updated(frame.call);
        break;
      case "call.ended":
        this.liveCalls.delete(frame.call.conversation_id);
        if (this.ringing?.id === frame.call.id) this.stopRinging();
        if (this.call?.id === frame.call.id) this.finish(frame.call);
        this.showConversation(this.store.activeId);
        break;
      case "call.signal":
        if (this.call?.id === frame.call_id) this.signal(frame).catch((error) => console.warn("call signal", error));
        break;
    }
  }

  // After every (re)connect: the calls ringing or running now. Frames are not replayed, so a reload or a dropped
  // socket missed those that started them; the reply is the state to start from (frames after it are newer).
  async reconnected() {
    let reply;
    try {
      reply = await this.connection.request({ type: "call.list" });
    } catch {
      return; // the connection dropped again: the next hello asks again
    }
    this.liveCalls = new Map(reply.calls.map((call) => [call.conversation_id, call]));
    if (this.ringing && !this.liveCalls.has(this.ringing.conversation_id)) this.stopRinging();
    for (const call of reply.calls) {
      const mine = call.participants.find((p) => p.user_id === this.store.me.id);
      if (!this.call && !this.ringing && mine?.state === "ringing") this.ring(call); // still ringing for us
    }
    this.showConversation(this.store.activeId);
  }

  updated(call) {
    this.liveCalls.set(call.conversation_id, call);
    const mine = call.participants.find((p) => p.user_id === this.store.me.id);
    // Answered or declined in another tab or device: stop ringing here.
    if (this.ringing?.id === call.id && mine?.state !== "ringing") this.stopRinging();
    if (this.call?.id === call.id) {
      this.call = call;
      for (const participant of call.participants) {
        if (participant.state !== "joined") this.closePeer(participant.user_id);
      }
      this.renderPanel();
    }
    this.showConversation(this.store.activeId);
  }

  ring(call) {
    this.ringing = call;
    const caller = call.participants.find((p) => p.user_id === call.started_by);
    const conversation = this.store.conversations.get(call.conversation_id);
    const where = conversation?.kind === "room" ? ` in ${this.store.titleOf(conversation)}` : "";
    const text = `${caller ? nameOf(caller) : "Someone"} is calling${where}`;
    this.nodes.incomingText.textContent = text;
    this.nodes.incoming.hidden = false;
    notifyIncomingCall({ title: text, tag: `parley-call-${call.id}`, onOpen: () => this.nodes.accept.focus() });
  }

  stopRinging() {
    this.ringing = null;
    this.nodes.incoming.hidden = true;
  }

  // ---- taking part ------------------------------------------------------------------------------------------------

  async start(conversationId) {
    if (conversationId === null || this.call) return;
    try {
      await this.openMicrophone();
      const reply = await this.connection.request({ type: "call.invite", conversation_id: conversationId });
      this.enter(reply);
    } catch (error) {
      this.leaveLocally();
      this.say(error.message || "The call could not start.");
    }
  }

  async join(callId) {
    if (!callId || this.call) return;
    this.stopRinging();
    try {
      await this.openMicrophone();
      const reply = await this.connection.request({ type: "call.accept", call_id: callId });
      this.enter(reply);
      // The newcomer offers to everyone already in.
      for (const participant of reply.call.participants) {
        if (participant.state === "joined" && participant.user_id !== this.store.me.id) {
          await this.offerTo(participant.user_id);
        }
      }
    } catch (error) {
      this.leaveLocally();
      this.say(error.message || "Could not join the call.");
    }
  }

  async decline() {
    const call = this.ringing;
    this.stopRinging();
    if (call) await this.connection.request({ type: "call.decline", call_id: call.id }).catch(() => {});
  }

  async hangUp() {
    const call = this.call;
    if (!call) return;
    await this.connection.request({ type: "call.hangup", call_id: call.id }).catch(() => {});
    this.leaveLocally();
  }

  enter(reply) {
    this.call = reply.call;
    this.iceServers = reply.ice_servers || [];
    this.liveCalls.set(reply.call.conversation_id, reply.call);
    this.nodes.panel.hidden = false;
    this.nodes.panel.dataset.callId = String(reply.call.id);
    this.renderPanel();
    this.timer = setInterval(() => this.renderTime(), 1000);
    this.showConversation(this.store.activeId);
  }

  finish(call) {
    this.leaveLocally();
    this.say(call.end_reason === "declined" ? "The call was declined." : `Call ended (${clock(call.duration_seconds)}).`);
  }

  leaveLocally() {
    for (const userId of [...this.peers.keys()]) this.closePeer(userId);
    for (const stream of [this.microphone, this.screen]) stream?.getTracks().forEach((track) => track.stop());
    this.microphone = this.screen = null;
    clearInterval(this.timer);
    this.call = null;
    this.nodes.panel.hidden = true;
    this.nodes.media.replaceChildren();
    this.nodes.mute.setAttribute("aria-pressed", "false");
    this.nodes.share.setAttribute("aria-pressed", "false");
    this.showConversation(this.store.activeId);
  }

  async openMicrophone() {
    if (!navigator.mediaDevices?.getUserMedia) throw new Error("This browser cannot make calls.");
    this.microphone = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  }

  async toggleMute() {
    if (!this.call || !this.microphone) return;
    const muted = this.nodes.mute.getAttribute("aria-pressed") !== "true";
    this.microphone.getAudioTracks().forEach((track) => (track.enabled = !muted));
    this.nodes.mute.setAttribute("aria-pressed", String(muted));
    this.nodes.mute.textContent = muted ? "Unmute" : "Mute";
    await this.connection.request({ type: "call.mute", call_id: this.call.id, muted }).catch(() => {});
  }

  async shareScreen() {
    if (!this.call) return;
    try {
      this.screen = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
    } catch {
      return; // the user chose not to share
    }
    const [track] = this.screen.getVideoTracks();
    track.addEventListener("ended", () => this.stopSharing());
    this.nodes.share.setAttribute("aria-pressed", "true");
    this.nodes.share.textContent = "Stop sharing";
    await this.connection.request({ type: "call.screen", call_id: this.call.id, sharing: true }).catch(() => {});
    for (const [userId, peer] of this.peers) {
      peer.addTrack(track, this.screen);
      await this.renegotiate(userId, peer);
    }
  }

  async stopSharing() {
    if (!this.screen) return;
    const [track] = this.screen.getVideoTracks();
    track.stop();
    this.screen = null;
    this.nodes.share.setAttribute("aria-pressed", "false");
    this.nodes.share.textContent = "Share screen";
    if (!this.call) return;
    await this.connection.request({ type: "call.screen", call_id: this.call.id, sharing: false }).catch(() => {});
    for (const [userId, peer] of this.peers) {
      const sender = peer.getSenders().find((s) => s.track === track);
      if (sender) {
        peer.removeTrack(sender);
        await this.renegotiate(userId, peer);
      }
    }
  }

  // ---- the peer connections ------------------------------------------------------------------------------------

  peerFor(userId) {
    let peer = this.peers.get(userId);
    if (peer) return peer;
    peer = new RTCPeerConnection({ iceServers: this.iceServers });
    this.peers.set(userId, peer);
    for (const track of this.microphone?.getTracks() || []) peer.addTrack(track, this.microphone);
    for (const track of this.screen?.getTracks() || []) peer.addTrack(track, this.screen);
    peer.addEventListener("icecandidate", ({ candidate }) => {
      if (!candidate || !this.call) return;
      this.send(userId, "ice", {
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid,
        sdpMLineIndex: candidate.sdpMLineIndex,
      });
    });
    peer.addEventListener("connectionstatechange", () => this.renderPanel());
    peer.addEventListener("track", ({ track, streams }) => this.showRemote(userId, track, streams[0]));
    return peer;
  }

  closePeer(userId) {
    const peer = this.peers.get(userId);
    if (!peer) return;
    peer.close();
    this.peers.delete(userId);
    this.nodes.media.querySelectorAll(`[data-user-id="${userId}"]`).forEach((node) => node.remove());
  }

  async offerTo(userId) {
    const peer = this.peerFor(userId);
    await peer.setLocalDescription(await peer.createOffer());
    this.send(userId, "offer", { sdp: peer.localDescription.sdp });
  }

  async renegotiate(userId, peer) {
    if (peer.signalingState !== "stable") return;
    await peer.setLocalDescription(await peer.createOffer());
    this.send(userId, "offer", { sdp: peer.localDescription.sdp });
  }

  async signal({ from_user_id: userId, kind, payload }) {
    const peer = this.peerFor(userId);
    if (kind === "offer") {
      await peer.setRemoteDescription({ type: "offer", sdp: payload.sdp });
      await peer.setLocalDescription(await peer.createAnswer());
      this.send(userId, "answer", { sdp: peer.localDescription.sdp });
    } else if (kind === "answer") {
      await peer.setRemoteDescription({ type: "answer", sdp: payload.sdp });
    } else if (kind === "ice" && payload.candidate) {
      await peer.addIceCandidate(payload);
    }
  }

  send(userId, kind, payload) {
    this.connection
      .request({ type: "call.signal", call_id: this.call.id, to_user_id: userId, kind, payload })
      .catch((error) => console.warn("call signal refused", error.message));
  }

  showRemote(userId, track, stream) {
    const kind = track.kind === "video" ? "video" : "audio";
    const node = document.createElement(kind);
    node.autoplay = true;
    node.playsInline = true;
    node.dataset.userId = String(userId);
    node.dataset.trackId = track.id;
    if (kind === "video") {
      node.muted = true; // its sound, if any, comes with the audio track
      node.className = "call-screen";
      node.setAttribute("aria-label", "Shared screen");
    }
    node.srcObject = kind === "video" ? new MediaStream([track]) : stream || new MediaStream([track]);
    track.addEventListener("ended", () => node.remove());
    // A screen no longer shared leaves the sender's stream: its picture goes.
    stream?.addEventListener("removetrack", (event) => event.track === track && node.remove());
    this.nodes.media.append(node);
  }

  // ---- drawing -----------------------------------------------------------------------------------------------------

  renderPanel() {
    if (!this.call) return;
    const conversation = this.store.conversations.get(this.call.conversation_id);
    this.nodes.title.textContent = conversation ? `Call · ${this.store.titleOf(conversation)}` : "Call";
    const items = this.call.participants
      .filter((p) => p.state === "joined" || p.state === "ringing")
      .map((participant) => {
        const item = document.createElement("li");
        item.dataset.userId = String(participant.user_id);
        const peer = this.peers.get(participant.user_id);
        item.dataset.connection = participant.user_id === this.store.me.id ? "self" : peer?.connectionState || "waiting";
        const state = participant.state === "ringing" ? " (ringing…)" : "";
        const muted = participant.is_muted ? " · muted" : "";
        const sharing = participant.is_sharing_screen ? " · sharing screen" : "";
        item.textContent = `${nameOf(participant)}${participant.user_id === this.store.me.id ? " (you)" : ""}${state}${muted}${sharing}`;
        return item;
      });
    this.nodes.participants.replaceChildren(...items);
    this.renderTime();
  }

  renderTime() {
    if (!this.call) return;
    const answered = this.call.answered_at ? Date.parse(this.call.answered_at) : null;
    this.nodes.time.textContent = answered ? clock(Math.max(0, Math.round((Date.now() - answered) / 1000))) : "Ringing…";
  }
}
