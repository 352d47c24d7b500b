// The tab's one WebSocket (docs/protocol.md): connect, reconnect with backoff, match replies to requests by
// `ref`, and notice a dead connection by pinging. It knows frames, not the page: no DOM here.
//
// Events (CustomEvent, detail in brackets):
//   "state"     ("connecting" | "open" | "closed")  the connection changed; "open" means hello was received
//   "hello"     (the hello frame)                   a (re)connect finished: time to sync
//   "frame"     (a frame)                           every server frame that is not a reply to a request
//   "signedout" (the reason)                        the server closed us for good; do not reconnect

const CLOSE_SIGNED_OUT = 4403;
const CLOSE_UNAUTHENTICATED = 4401;
const REQUEST_TIMEOUT_MS = 15_000;
const PING_EVERY_MS = 25_000;
const PONG_WITHIN_MS = 10_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 30_000;

export class SocketError extends Error {
  // `retryAfter`: seconds the server asks us to wait before trying again (with `overloaded`), else null.
  constructor(code, message, retryAfter = null) {
    super(message);
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export class Connection extends EventTarget {
  constructor(url) {
    super();
    this.url = url;
    this.socket = null;
    this.state = "closed";
    this.attempt = 0;
    this.nextRef = 0;
    this.pending = new Map(); // ref -> {resolve, reject, timer}
    this.retryTimer = null;
    this.pingTimer = null;
    this.stopped = false;
    // Come back at once, not after the backoff, when the network or the tab returns.
    window.addEventListener("online", () => this.reconnectNow());
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    });
  }

  get isOpen() {
    return this.state === "open";
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.drop();
  }

  // Send a frame and wait for its reply (ack, pong, sync.result) or error. Rejects with SocketError.
  request(frame) {
    if (!this.isOpen) return Promise.reject(new SocketError("disconnected", "Not connected."));
    const ref = `r${++this.nextRef}`;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(ref);
        reject(new SocketError("timeout", "The server did not answer in time."));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(ref, { resolve, reject, timer });
      this.socket.send(JSON.stringify({ ...frame, ref }));
    });
  }

  // Fire and forget (typing, presence): dropped silently while disconnected.
  notify(frame) {
    if (this.isOpen) this.request(frame).catch(() => {});
  }

  reconnectNow() {
    if (this.stopped || this.state !== "closed") return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    this.setState("connecting");
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      if (socket === this.socket) this.receive(event.data);
    });
    socket.addEventListener("close", (event) => {
      if (socket === this.socket) this.closed(event.code);
    });
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.ref && this.pending.has(frame.ref)) {
      const { resolve, reject, timer } = this.pending.get(frame.ref);
      this.pending.delete(frame.ref);
      clearTimeout(timer);
      if (frame.type === "error") reject(new SocketError(frame.code, frame.message, frame.retry_after ?? null));
      else resolve(frame);
      return;
    }
    if (frame.type === "hello") {
      this.attempt = 0;
      this.setState("open");
      this.startPinging();
      this.dispatchEvent(new CustomEvent("hello", { detail: frame }));
      return;
    }
    if (frame.type === "signed_out") {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent("signedout", { detail: frame.reason }));
      return;
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: frame }));
  }

  closed(code) {
    this.drop();
    if (code === CLOSE_SIGNED_OUT || code === CLOSE_UNAUTHENTICATED) {
      this.stopped = true;
      this.dispatchEvent(new CustomEvent("signedout", { detail: "signed_out" }));
      return;
    }
    if (this.stopped) return;
    // Exponential backoff with jitter, so a restarted server is not hit by every tab at the same instant.
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  // Forget the current socket: fail what waits for a reply, stop pinging, close it if still open.
  drop() {
    clearInterval(this.pingTimer);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) socket.close();
    for (const { reject, timer } of this.pending.values()) {
      clearTimeout(timer);
      reject(new SocketError("disconnected", "The connection was lost."));
    }
    this.pending.clear();
    this.setState("closed");
  }

  // A socket can die without a close event (a laptop lid, a proxy): ping, and treat silence as a drop.
  startPinging() {
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      const socket = this.socket;
      const timeout = setTimeout(() => {
        if (socket === this.socket) this.closed(1006);
      }, PONG_WITHIN_MS);
      this.request({ type: "ping" })
        .then(() => clearTimeout(timeout))
        .catch(() => clearTimeout(timeout));
    }, PING_EVERY_MS);
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: state }));
  }
}
