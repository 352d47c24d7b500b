// Parley browser client: one WebSocket per tab (docs/protocol.md), reconnecting with backoff.

const stateLabel = document.getElementById("connection-state");

function showState(state, text) {
  stateLabel.dataset.state = state;
  stateLabel.textContent = text;
}

function connect(attempt = 0) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/`);
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "hello") {
      attempt = 0;
      showState("open", "Online");
    }
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4401) {
      location.href = "/accounts/login/?next=/";
      return;
    }
    const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
    showState("closed", "Reconnecting…");
    setTimeout(() => connect(attempt + 1), delay);
  });
}

connect();
