// "Search messages": newest first, a page at a time, the searched words marked; a hit opens its conversation
// at the message.

import { api } from "../api.js";
import { clear, el } from "../dom.js";
import { dayLabel, displayName, messageText, plainExcerpt, timeOf } from "../format.js";
import { openDialog, showError } from "./shared.js";

export class SearchDialog {
  // `showMessage(conversationId, seq)` opens the conversation at that message.
  constructor({ store, showMessage }) {
    this.store = store;
    this.showMessage = showMessage;
    this.searchId = 0;
    this.dialog = document.getElementById("dialog-search");
    this.form = this.dialog.querySelector("form");
    this.results = this.dialog.querySelector(".search-results");
    this.state = this.dialog.querySelector(".search-state");
    this.more = this.dialog.querySelector("[data-action=more]");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    this.more.addEventListener("click", () => this.search({ more: true }));
  }

  open() {
    openDialog(this.dialog);
    const input = this.form.elements.q;
    input.focus();
    input.select();
  }

  async search({ more = false } = {}) {
    const error = this.dialog.querySelector(".form-error");
    const words = this.form.elements.q.value.trim();
    if (!words) return;
    if (!more) {
      this.before = null;
      this.found = 0;
      clear(this.results);
    }
    const id = ++this.searchId;
    showError(error, null);
    this.more.hidden = true;
    this.state.textContent = "Searching…";
    let page;
    try {
      page = await api.searchMessages({ q: words, before: this.before });
    } catch (failure) {
      if (id === this.searchId) this.state.textContent = "";
      showError(error, failure);
      return;
    }
    if (id !== this.searchId) return; // a newer search started meanwhile
    for (const message of page.messages) this.results.append(this.hit(message, words));
    this.found += page.messages.length;
    this.before = page.next_before;
    this.more.hidden = page.next_before === null;
    const found = this.found;
    this.state.textContent = found
      ? `${found} message${found === 1 ? "" : "s"} found${page.next_before === null ? "." : " so far."}`
      : "No messages match.";
  }

  hit(message, words) {
    const conversation = this.store.conversations.get(message.conversation_id);
    const where = conversation ? this.store.titleOf(conversation) : "a conversation";
    return el(
      "li",
      {},
      el(
        "button",
        {
          type: "button",
          class: "search-hit",
          onclick: () => {
            this.dialog.close();
            this.showMessage(message.conversation_id, message.seq);
          },
        },
        el(
          "span",
          { class: "search-hit-meta" },
          el("strong", {}, displayName(message.sender)),
          ` in ${where} · ${dayLabel(message.created_at)} ${timeOf(message.created_at)}`,
        ),
        el("span", { class: "search-hit-text" }, ...marked(plainExcerpt(messageText(message), 240), words)),
      ),
    );
  }
}

// `text` as nodes, each occurrence of a searched word (any case, a whole word as the server matches) in a
// <mark>: built with text nodes, never HTML.
function marked(text, words) {
  const needles = [...new Set(searchedWords(words))];
  const lower = text.toLowerCase();
  const isWordChar = (char) => char !== undefined && /[\p{L}\p{N}_]/u.test(char);
  const wholeWordAt = (needle, from) => {
    for (let found = lower.indexOf(needle, from); found !== -1; found = lower.indexOf(needle, found + 1)) {
      if (!isWordChar(lower[found - 1]) && !isWordChar(lower[found + needle.length])) return found;
    }
    return -1;
  };
  const nodes = [];
  let at = 0;
  while (at < text.length) {
    let next = -1;
    let length = 0;
    for (const needle of needles) {
      const found = wholeWordAt(needle, at);
      if (found !== -1 && (next === -1 || found < next)) [next, length] = [found, needle.length];
    }
    if (next === -1) break;
    if (next > at) nodes.push(text.slice(at, next));
    nodes.push(el("mark", {}, text.slice(next, next + length)));
    at = next + length;
  }
  if (at < text.length) nodes.push(text.slice(at));
  return nodes;
}

// What the server matches (messenger.selectors.SEARCH_TERM): quoted phrases and words, not the filters, nor
// OR, NOT and the words left out (NOT word, -word).
const SEARCH_FILTERS = new Set(["from", "in", "after", "before", "on"]);
function searchedWords(query) {
  const needles = [];
  let leaveOut = false;
  for (const [, quotedName, quotedValue, phrase, word] of query.matchAll(/(\w+):"([^"]*)"|"([^"]+)"|(\S+)/g)) {
    const [name, value] = word ? [word.split(":")[0], word.slice(word.indexOf(":") + 1)] : [quotedName, quotedValue];
    const isFilter = (word ? word.includes(":") : true) && value && SEARCH_FILTERS.has(name.toLowerCase());
    if (phrase) {
      if (!leaveOut) needles.push(phrase.toLowerCase());
      leaveOut = false;
    } else if (word === "OR" || word === "NOT") leaveOut = word === "NOT";
    else if (!isFilter && !leaveOut && !(word && word.startsWith("-"))) {
      needles.push((word || `${quotedName}:"${quotedValue}"`).toLowerCase());
    } else leaveOut = false;
  }
  return needles.filter(Boolean);
}
