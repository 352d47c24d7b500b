// The message box: Enter sends, Shift+Enter adds a line, Escape cancels a reply or an edit, Up in an empty box
// edits your last message. Keeps a draft per conversation. Completes "@name" (members of the conversation first,
// then colleagues from the directory) and ":shortcode" (emoji) in a list under the caret: arrows move, Enter or
// Tab picks, Escape closes. DOM only; app.js decides what a submit does and who can be mentioned.

import { debounce, SEARCH_DEBOUNCE_MS } from "./dialogs/shared.js";
import { personLine } from "./dialogs/people-picker.js";
import { clear, el, icon } from "./dom.js";
import { emojiCatalog, emojiMatching, shortcodeFor } from "./emoji.js";
import { displayName, plainExcerpt } from "./format.js";
import { Listbox } from "./listbox.js";

const TYPING_EVERY_MS = 3_000; // docs/protocol.md: at most one `typing` frame every 3 s
export const MENTION_OPTIONS = 8; // members first (app.js), filled up with colleagues when fewer match
const EMOJI_OPTIONS = 8;
// What is being completed: the text from the trigger to the caret. A mention starts after anything but a letter,
// digit, _ or @ (as the server's MENTION_PATTERN); a shortcode needs two characters after its colon, so "12:30",
// "http://" and ":)" stay text.
const MENTION_BEFORE_CARET = /(?:^|[^\p{L}\p{N}_@])@([\p{L}\p{N}_.+-]{0,150})$/u;
const SHORTCODE_BEFORE_CARET = /(?:^|[^\p{L}\p{N}_:]):([\p{L}\p{N}_+-]{2,40})$/u;

// A mention option's content: a person (the people pickers' line), or @here / @channel with what it does.
function mentionLine(option) {
  if (!option.everyone) return personLine(option);
  return el(
    "span",
    { class: "person-text everyone-option" },
    el("span", { class: "person-name" }, `@${option.everyone}`),
    el("span", { class: "person-detail" }, option.description),
  );
}

function emojiLine({ entry, query }) {
  return [el("span", { class: "completion-emoji", "aria-hidden": "true" }, entry.char), el("span", { class: "completion-code" }, `:${shortcodeFor(entry, query)}:`)];
}

export class Composer {
  // `elements` {form, input, context, completions, emojiButton}: another box than the conversation's (the thread
  // pane's); emojiButton null for none.
  constructor(handlers, elements = {}) {
    // submit({text, mode, message}) -> accepted (or a promise of it), typing(), editLast(), changed(),
    // members(query) -> people of this conversation (and @here/@channel options) to mention now,
    // colleagues(query) -> a promise of other people, pickEmoji(button): open the emoji picker.
    this.handlers = handlers;
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
    this.completions = elements.completions || document.getElementById("composer-completions");
    this.listbox = new Listbox(this.input, this.completions, { onPick: (index) => this.pickCompletion(index), combobox: false });
    this.completion = null; // {kind: "mention" | "emoji", start, query, options}
    this.searchColleagues = debounce((completion) => this.addColleagues(completion), SEARCH_DEBOUNCE_MS);
    this.input.addEventListener("blur", () => this.closeCompletion());
    this.input.addEventListener("click", () => this.complete());
    this.input.addEventListener("keyup", (event) => {
      if (["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) this.complete();
    });
    const emojiButton = elements.emojiButton === undefined ? document.getElementById("emoji-button") : elements.emojiButton;
    emojiButton?.addEventListener("click", (event) => this.handlers.pickEmoji(event.currentTarget));
    this.input.addEventListener("input", () => {
      this.complete();
      this.resize();
      if (this.input.value.trim() && this.mode !== "edit" && Date.now() - this.lastTyping > TYPING_EVERY_MS) {
        this.lastTyping = Date.now();
        this.handlers.typing();
      }
    });
  }

  onKey(event) {
    if (event.isComposing || event.keyCode === 229) return; // an input method is composing a character
    if (this.listbox.isOpen) {
      if (this.listbox.moveWith(event)) return;
      if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
        event.preventDefault();
        this.pickCompletion(this.listbox.active);
        return;
      }
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.closeCompletion();
        return;
      }
    }
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

  // ---- completions ------------------------------------------------------------------------------------------

  // Look at the text before the caret: an "@name" or ":code" being typed opens (or updates) the list.
  complete() {
    const caret = this.input.selectionStart;
    if (caret !== this.input.selectionEnd) return this.closeCompletion();
    const before = this.input.value.slice(0, caret);
    const mention = before.match(MENTION_BEFORE_CARET);
    const shortcode = mention ? null : before.match(SHORTCODE_BEFORE_CARET);
    if (mention) {
      const query = mention[1];
      const completion = { kind: "mention", start: caret - query.length - 1, query, options: this.handlers.members(query) };
      this.completion = completion;
      this.showCompletion();
      this.searchColleagues(completion);
    } else if (shortcode) {
      const query = shortcode[1];
      const completion = { kind: "emoji", start: caret - query.length - 1, query, options: [] };
      this.completion = completion;
      emojiCatalog()
        .then((catalog) => {
          if (this.completion !== completion) return; // typed on meanwhile
          completion.options = emojiMatching(catalog, query, EMOJI_OPTIONS).map((entry) => ({ entry, query }));
          this.showCompletion();
        })
        .catch(() => {}); // no list without the catalog; the picker button says why
    } else {
      this.closeCompletion();
    }
  }

  async addColleagues(completion) {
    let colleagues;
    try {
      colleagues = await this.handlers.colleagues(completion.query);
    } catch {
      return; // the members already listed stay
    }
    if (this.completion !== completion) return;
    const listed = new Set(completion.options.map((option) => option.username).filter(Boolean));
    const others = colleagues.filter((person) => !listed.has(person.username)).slice(0, MENTION_OPTIONS - completion.options.length);
    if (!others.length) return;
    const active = this.listbox.active; // they go below: the active option stays where it is
    completion.options = [...completion.options, ...others];
    this.showCompletion();
    if (active > 0) this.listbox.highlight(active);
  }

  showCompletion() {
    const { kind, options } = this.completion;
    if (kind === "mention") this.listbox.show(options, mentionLine, { optionClass: "person-option" });
    else this.listbox.show(options, emojiLine, { optionClass: "emoji-option" });
    this.completions.setAttribute("aria-label", kind === "mention" ? "People to mention" : "Emoji");
  }

  closeCompletion() {
    this.completion = null;
    if (this.listbox.isOpen || !this.completions.hidden) this.listbox.close();
  }

  // Replace what was typed ("@bo", ":smi") with the pick: "@bob " or the emoji.
  pickCompletion(index) {
    const completion = this.completion;
    const option = completion?.options[index];
    if (!option) return;
    const text = completion.kind === "mention" ? `@${option.everyone || option.username} ` : option.entry.char;
    this.replaceRange(completion.start, this.input.selectionStart, text);
    this.closeCompletion();
  }

  // Put text where the caret is (an emoji from the picker), as if typed.
  insert(text) {
    this.replaceRange(this.input.selectionStart, this.input.selectionEnd, text);
    this.focus();
  }

  replaceRange(start, end, text) {
    const value = this.input.value;
    this.input.value = value.slice(0, start) + text + value.slice(end);
    const caret = start + text.length;
    this.input.setSelectionRange(caret, caret);
    this.resize();
  }

  // ---- sending ----------------------------------------------------------------------------------------------

  async submit() {
    const text = this.input.value;
    if (!text.trim()) return;
    let accepted = this.handlers.submit({ text, mode: this.mode, message: this.message });
    if (accepted instanceof Promise) {
      accepted = await accepted; // a question first (app.js: @channel in a big room)
      if (this.input.value !== text) return; // typed on meanwhile: keep what is there
    }
    if (accepted === false) return;
    this.closeCompletion();
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
    this.closeCompletion();
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
