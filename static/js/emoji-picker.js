// The emoji picker: one popover with a search box, a row of category tabs and a grid of the whole set (emoji.js),
// the quick ten first. The message box's smiley button opens it to insert an emoji, the reaction picker's "More"
// to react with one. Arrows move in the grid, Enter picks, Escape closes and gives the focus back.

import { clear, el } from "./dom.js";
import { emojiCatalog, emojiMatching, shortcodeFor } from "./emoji.js";

const SEARCH_LIMIT = 120;

export class EmojiPicker {
  constructor() {
    this.onPick = null;
    this.opener = null;
    this.catalog = null;
    this.search = el("input", { type: "search", class: "emoji-search", placeholder: "Search emoji", "aria-label": "Search emoji", autocomplete: "off" });
    this.tabs = el("div", { class: "emoji-tabs", role: "toolbar", "aria-label": "Emoji categories" });
    this.grid = el("div", { class: "emoji-grid" });
    this.status = el("p", { class: "emoji-status", role: "status" });
    this.node = el("div", { class: "emoji-picker", role: "dialog", "aria-label": "Emoji", hidden: true }, this.search, this.tabs, this.grid, this.status);
    document.body.append(this.node);

    this.search.addEventListener("input", () => this.renderSearch());
    this.search.addEventListener("keydown", (event) => {
      if (event.key === "ArrowDown" || event.key === "Enter") {
        const first = this.visibleButtons()[0];
        if (!first) return;
        event.preventDefault();
        if (event.key === "Enter") this.pick(first.dataset.emoji);
        else this.focusButton(first);
      }
    });
    this.grid.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-emoji]");
      if (button) this.pick(button.dataset.emoji);
    });
    this.grid.addEventListener("keydown", (event) => this.onGridKey(event));
    this.tabs.addEventListener("click", (event) => {
      const tab = event.target.closest("button[data-section]");
      if (!tab) return;
      const section = this.grid.querySelector(`#${tab.dataset.section}`);
      this.grid.scrollTop = section.offsetTop; // the grid is the sections' offset parent (position: relative)
      this.focusButton(section.querySelector("button"));
    });
    this.node.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.node.hidden && !this.node.contains(event.target) && !this.opener?.contains(event.target)) this.close();
    });
  }

  get isOpen() {
    return !this.node.hidden;
  }

  // Show the picker by `opener` (above it when there is room); `onPick(emoji)` gets the chosen character.
  async open(opener, onPick, { label = "Emoji" } = {}) {
    this.opener = opener;
    this.onPick = onPick;
    this.node.setAttribute("aria-label", label);
    this.search.value = "";
    this.node.hidden = false;
    this.place(opener);
    this.search.focus();
    if (!this.catalog) {
      this.status.textContent = "Loading emoji…";
      try {
        this.catalog = await emojiCatalog();
      } catch (error) {
        this.status.textContent = error.message;
        return;
      }
      this.status.textContent = "";
      this.build();
    }
    this.renderSearch();
    this.place(opener);
  }

  place(opener) {
    const rect = opener.getBoundingClientRect();
    const width = this.node.offsetWidth;
    const height = this.node.offsetHeight;
    const left = Math.max(8, Math.min(rect.left, window.innerWidth - width - 8));
    const top = rect.top - height - 6 > 8 ? rect.top - height - 6 : Math.min(rect.bottom + 6, window.innerHeight - height - 8);
    this.node.style.left = `${left}px`;
    this.node.style.top = `${Math.max(8, top)}px`;
  }

  close() {
    if (this.node.hidden) return;
    this.node.hidden = true;
    if (this.opener?.isConnected) this.opener.focus({ preventScroll: true });
    this.opener = null;
    this.onPick = null;
  }

  pick(emoji) {
    const onPick = this.onPick;
    this.close();
    onPick?.(emoji);
  }

  // The quick ten, then every category: built once, on first open.
  build() {
    const { quick, categories, emoji } = this.catalog;
    const byChar = new Map(emoji.map((entry) => [entry.char, entry]));
    const sections = [{ name: "Quick reactions", entries: quick.map((char) => byChar.get(char)).filter(Boolean) }];
    categories.forEach((name, index) => sections.push({ name, entries: emoji.filter((entry) => entry.category === index) }));
    clear(this.tabs);
    sections.forEach((section, index) => {
      if (!section.entries.length) return;
      const id = `emoji-section-${index}`;
      this.tabs.append(
        el("button", { type: "button", class: "ghost", dataset: { section: id }, title: section.name, "aria-label": section.name }, section.entries[0].char),
      );
      this.grid.append(
        el(
          "div",
          { class: "emoji-section", id, role: "group", "aria-label": section.name },
          el("p", { class: "emoji-section-title", "aria-hidden": "true" }, section.name),
          el("div", { class: "emoji-cells" }, section.entries.map((entry) => this.button(entry))),
        ),
      );
    });
    this.results = el("div", { class: "emoji-section emoji-results", role: "group", "aria-label": "Search results", hidden: true }, el("div", { class: "emoji-cells" }));
    this.grid.prepend(this.results);
  }

  button(entry, query = "") {
    return el(
      "button",
      { type: "button", tabindex: "-1", dataset: { emoji: entry.char }, "aria-label": entry.name, title: `:${shortcodeFor(entry, query)}:` },
      entry.char,
    );
  }

  renderSearch() {
    if (!this.catalog) return;
    const query = this.search.value.trim();
    const cells = this.results.querySelector(".emoji-cells");
    clear(cells);
    for (const section of this.grid.querySelectorAll(".emoji-section:not(.emoji-results)")) section.hidden = Boolean(query);
    this.results.hidden = !query;
    this.tabs.hidden = Boolean(query);
    if (query) {
      const found = emojiMatching(this.catalog, query, SEARCH_LIMIT);
      cells.append(...found.map((entry) => this.button(entry, query)));
      this.status.textContent = found.length ? "" : `No emoji for “${query}”.`;
    } else {
      this.status.textContent = "";
      this.grid.scrollTop = 0;
    }
    this.setRoving(this.visibleButtons()[0]);
  }

  visibleButtons() {
    return [...this.grid.querySelectorAll(".emoji-section:not([hidden]) button")];
  }

  // One button of the grid is in the Tab order (roving tabindex): Tab goes from the search box into the grid.
  setRoving(button) {
    this.grid.querySelector('button[tabindex="0"]')?.setAttribute("tabindex", "-1");
    button?.setAttribute("tabindex", "0");
  }

  focusButton(button) {
    if (!button) return;
    this.setRoving(button);
    button.focus();
  }

  onGridKey(event) {
    const buttons = this.visibleButtons();
    const index = buttons.indexOf(document.activeElement);
    if (index < 0) return;
    let target = null;
    if (event.key === "ArrowRight") target = buttons[index + 1];
    else if (event.key === "ArrowLeft") target = buttons[index - 1];
    else if (event.key === "ArrowDown" || event.key === "ArrowUp") target = verticalNeighbour(buttons, index, event.key === "ArrowDown");
    else if (event.key === "Home") target = buttons[0];
    else if (event.key === "End") target = buttons[buttons.length - 1];
    else return;
    event.preventDefault();
    if (target) this.focusButton(target);
    else if (event.key === "ArrowUp") this.search.focus();
  }
}

// The button in the next (or previous) row nearest in x: rows are told apart by their top edge.
function verticalNeighbour(buttons, index, down) {
  const here = buttons[index].getBoundingClientRect();
  const rows = buttons.filter((button) => {
    const top = button.getBoundingClientRect().top;
    return down ? top > here.top + 2 : top < here.top - 2;
  });
  if (!rows.length) return null;
  const rowTop = down ? Math.min(...rows.map((b) => b.getBoundingClientRect().top)) : Math.max(...rows.map((b) => b.getBoundingClientRect().top));
  const row = rows.filter((button) => Math.abs(button.getBoundingClientRect().top - rowTop) < 2);
  return row.reduce((best, button) =>
    Math.abs(button.getBoundingClientRect().left - here.left) < Math.abs(best.getBoundingClientRect().left - here.left) ? button : best,
  );
}
