// The user's own presence from this tab: the state they choose in the sidebar's menu, and whether the tab is
// being used (docs/presence.md). No input in this tab for `idleAfterMs` (PARLEY_PRESENCE_IDLE_SECONDS) reports
// it idle; the next key, click, wheel or focus reports it active again. The server merges every tab's report.

const INPUT_EVENTS = ["keydown", "pointerdown", "wheel", "focus"];

export class PresenceReporter {
  constructor({ connection, choice, idleAfterMs }) {
    this.connection = connection;
    this.choice = choice; // the <select> of automatic, busy, away, invisible
    this.idleAfterMs = idleAfterMs;
    this.idle = false;
    this.idleTimer = null;
    choice.addEventListener("change", () => {
      connection.notify({ type: "presence.set", choice: choice.value });
    });
    const active = () => this.active();
    for (const type of INPUT_EVENTS) window.addEventListener(type, active, { passive: true });
    this.active();
  }

  // A new status message, saved over HTTP: presence.set tells contacts at once.
  statusChanged(text) {
    this.connection.notify({ type: "presence.set", choice: this.choice.value, status_message: text });
  }

  active() {
    if (this.idle) {
      this.idle = false;
      this.connection.notify({ type: "presence.tab", state: "active" });
    }
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idle = true;
      this.connection.notify({ type: "presence.tab", state: "idle" });
    }, this.idleAfterMs);
  }
}
