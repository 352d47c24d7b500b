// Files on their way into a conversation: one row each above the message box, with progress, and on a refusal
// the server's reason with Retry and Dismiss. The shared message itself arrives like any other (app.js).

import { clear, el, icon } from "./dom.js";
import { fileSize, newClientId } from "./format.js";

export class Uploads {
  constructor(root, { share }) {
    this.root = root;
    this.share = share; // (conversationId, {file, clientId, body}, onProgress) -> Promise
    this.entries = new Map(); // client id -> {conversationId, file, body, state, progress, error}
    this.activeId = null;
  }

  // Share files in a conversation; the caption goes with the first one.
  add(conversationId, files, caption = "") {
    [...files].forEach((file, index) => {
      const entry = { clientId: newClientId(), conversationId, file, body: index === 0 ? caption : "" };
      this.entries.set(entry.clientId, entry);
      this.start(entry);
    });
  }

  show(conversationId) {
    this.activeId = conversationId;
    this.render();
  }

  async start(entry) {
    Object.assign(entry, { state: "uploading", progress: 0, error: "" });
    this.render();
    try {
      await this.share(entry.conversationId, entry, (progress) => {
        entry.progress = progress;
        this.render();
      });
      this.entries.delete(entry.clientId);
    } catch (error) {
      Object.assign(entry, { state: "failed", error: error.message });
    }
    this.render();
  }

  render() {
    clear(this.root);
    const rows = [...this.entries.values()].filter((entry) => entry.conversationId === this.activeId);
    this.root.hidden = rows.length === 0;
    for (const entry of rows) this.root.append(this.row(entry));
  }

  row(entry) {
    const name = el("span", { class: "upload-name" }, entry.file.name || "pasted image");
    const size = el("span", { class: "upload-size" }, fileSize(entry.file.size));
    if (entry.state === "failed") {
      return el(
        "li",
        { class: "upload failed", role: "alert" },
        icon("file"),
        el("span", { class: "upload-text" }, name, el("span", { class: "upload-error" }, entry.error)),
        el("button", { type: "button", class: "small", onclick: () => this.start(entry) }, "Retry"),
        el("button", { type: "button", class: "small ghost", onclick: () => this.dismiss(entry) }, "Dismiss"),
      );
    }
    const percent = Math.round(entry.progress * 100);
    return el(
      "li",
      { class: "upload" },
      icon("file"),
      el("span", { class: "upload-text" }, name, size),
      el("progress", { max: "100", value: String(percent), "aria-label": `Uploading ${entry.file.name}` }),
      el("span", { class: "upload-state" }, percent < 100 ? `${percent}%` : "Scanning…"),
    );
  }

  dismiss(entry) {
    this.entries.delete(entry.clientId);
    this.render();
  }
}
