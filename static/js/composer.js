// The message box: Enter sends, Shift+Enter adds a line, Escape cancels a reply or an edit, Up in an empty box
// edits your last message. Keeps a draft per conversation. DOM only; app.js decides what a submit does.

import { clear, el, icon } from "./dom.js";
import { displayName, plainExcerpt } from "./format.js";

const TYPING_EVERY_MS = 3_000; // docs/protocol.md: at most one `typing` frame every 3 s

export class Composer {
  // `elements` {form, input, context}: another box than the conversation's (the thread pane's).
  constructor(handlers, elements = {}) {
    this.handlers = handlers; // submit({text, mode, message}), typing(), editLast(), changed()
    this.form = elements.form || document.getElementById("composer");
    this.input = elements.input || document.getElementById("composer-input");
    this.context = elements.context || document.getElementById("composer-context");
    this.mode = "new"; // "new" | "reply" | "edit"
    this.message = null; // the message replied to or edited
    this.lastTyping = 0;
    this.drafts = new Map(); // conversation id -> {text, mode, message}
    this.conversationId = null;

    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.input.addEventListener("input", () => {
      this.resize();
      if (this.input.value.trim() && this.mode !== "edit" && Date.now() - this.lastTyping > TYPING_EVERY_MS) {
        this.lastTyping = Date.now();
        this.handlers.typing();
      }
    });
  }

  onKey(event) {
    if (event.isComposing || event.keyCode === 229) return; // an input method is composing a character
    if (event.key === "Enter" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      this.submit();
    } else if (event.key === "Escape" && this.mode !== "new") {
      event.preventDefault();
      event.stopPropagation();
      this.cancel();
    } else if (event.key === "ArrowUp" && !this.input.value && this.mode === "new") {
      if (this.handlers.editLast()) event.preventDefault();
    }
  }

  submit() {
    const text = this.input.value;
    if (!text.trim()) return;
    const accepted = this.handlers.submit({ text, mode: this.mode, message: this.message });
    if (accepted === false) return;
    this.input.value = "";
    this.lastTyping = 0;
    this.setMode("new", null);
    this.resize();
  }

  // The typed text, handed over as the caption of shared files: the box empties as if it had been sent.
  takeText() {
    if (this.mode === "edit" || !this.input.value.trim()) return "";
    const text = this.input.value;
    this.input.value = "";
    this.setMode("new", null);
    this.resize();
    return text;
  }

  // Switch the box to another conversation, keeping what was typed in the previous one.
  switchTo(conversationId, placeholder) {
    if (this.conversationId !== null) {
      this.drafts.set(this.conversationId, { text: this.input.value, mode: this.mode, message: this.message });
    }
    this.conversationId = conversationId;
    const draft = this.drafts.get(conversationId);
    this.input.value = draft?.text || "";
    this.setMode(draft?.mode || "new", draft?.message || null);
    this.input.placeholder = placeholder;
    this.input.setAttribute("aria-label", placeholder);
    this.lastTyping = 0;
    this.resize();
  }

  startReply(message) {
    this.setMode("reply", message);
    this.focus();
  }

  startEdit(message) {
    if (this.mode === "new" && this.input.value.trim()) {
      this.drafts.set(`before-edit-${this.conversationId}`, { text: this.input.value });
    }
    this.setMode("edit", message);
    this.input.value = message.body;
    this.resize();
    this.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }

  cancel() {
    const wasEdit = this.mode === "edit";
    this.setMode("new", null);
    if (wasEdit) {
      const saved = this.drafts.get(`before-edit-${this.conversationId}`);
      this.drafts.delete(`before-edit-${this.conversationId}`);
      this.input.value = saved?.text || "";
      this.resize();
    }
    this.focus();
  }

  setMode(mode, message) {
    this.mode = mode;
    this.message = message;
    this.form.dataset.mode = mode;
    clear(this.context);
    this.context.hidden = mode === "new";
    if (mode === "new") return;
    const label = mode === "edit" ? "Editing your message" : `Replying to ${displayName(message.sender)}`;
    this.context.append(
      el("span", { class: "context-icon", "aria-hidden": "true" }, icon(mode === "edit" ? "edit" : "reply")),
      el(
        "span",
        { class: "context-text" },
        el("strong", {}, label),
        mode === "reply" ? el("span", { class: "context-excerpt" }, plainExcerpt(message.body, 140)) : null,
      ),
      el("span", { class: "context-hint" }, "Esc to cancel"),
      el(
        "button",
        { type: "button", class: "ghost", "aria-label": mode === "edit" ? "Cancel editing" : "Cancel reply", onclick: () => this.cancel() },
        icon("close"),
      ),
    );
    this.handlers.changed?.();
  }

  resize() {
    this.input.style.height = "auto";
    this.input.style.height = `${Math.min(this.input.scrollHeight, 240)}px`;
  }

  focus() {
    this.input.focus({ preventScroll: true });
  }

  // Forget the reply or edit target when that message disappears (deleted, conversation left).
  messageGone(messageId) {
    if (this.message?.id === messageId) this.cancel();
  }
}
