// A search box with a list of people under it (the ARIA combobox pattern): arrows move, Enter picks. One person
// at a time (`multi` false: `onPick` gets them) or several, shown as chips (`usernames`).

import { api } from "../api.js";
import { clear, el, icon } from "../dom.js";
import { displayName } from "../format.js";
import { avatar } from "../render.js";
import { debounce, SEARCH_DEBOUNCE_MS } from "./shared.js";

// A person as the pickers list them: picture, name, and username with title and department.
export function personLine(person) {
  const details = [person.job_title, person.department].filter(Boolean).join(", ");
  return [
    avatar(person, { size: "small" }),
    el(
      "span",
      { class: "person-text" },
      el("span", { class: "person-name" }, displayName(person)),
      el("span", { class: "person-detail" }, `@${person.username}${details ? ` · ${details}` : ""}`),
    ),
  ];
}

export class PeoplePicker {
  constructor(root, { me, multi, onPick, exclude = () => [] }) {
    this.root = root;
    this.me = me;
    this.multi = multi;
    this.onPick = onPick;
    this.exclude = exclude;
    this.input = root.querySelector("input[type=search]");
    this.results = root.querySelector(".people-results");
    this.chips = root.querySelector(".chips");
    this.selected = new Map(); // username -> user
    this.options = [];
    this.active = -1;
    this.searchId = 0;
    this.input.setAttribute("role", "combobox");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-controls", this.results.id);
    this.input.setAttribute("aria-expanded", "false");
    this.results.setAttribute("role", "listbox");
    const search = debounce(() => this.search(), SEARCH_DEBOUNCE_MS);
    this.input.addEventListener("input", search);
    this.input.addEventListener("keydown", (event) => this.onKey(event));
    this.results.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.pick(Number(option.dataset.index));
    });
  }

  reset() {
    this.input.value = "";
    this.selected.clear();
    this.renderChips();
    this.search();
  }

  async search() {
    const id = ++this.searchId;
    const term = this.input.value.trim();
    let people;
    try {
      people = await api.users(term);
    } catch (error) {
      if (id === this.searchId) this.renderMessage(error.message);
      return;
    }
    if (id !== this.searchId) return; // a newer search is on its way
    const excluded = new Set([this.me.username, ...this.exclude(), ...this.selected.keys()]);
    this.options = people.filter((person) => !excluded.has(person.username)).slice(0, 30);
    this.found = people.length;
    this.render();
  }

  emptyText() {
    if (this.found) return "Everyone found is already added.";
    return this.input.value.trim() ? "Nobody found by that name." : "Nobody else here yet.";
  }

  render() {
    clear(this.results);
    this.active = this.options.length ? 0 : -1;
    if (!this.options.length) {
      this.renderMessage(this.emptyText());
      return;
    }
    this.options.forEach((person, index) => {
      this.results.append(
        el(
          "li",
          { role: "option", id: `${this.results.id}-${index}`, class: "person-option", dataset: { index }, "aria-selected": index === 0 ? "true" : "false" },
          ...personLine(person),
        ),
      );
    });
    this.input.setAttribute("aria-expanded", "true");
    this.highlight(0);
  }

  renderMessage(text) {
    clear(this.results);
    this.results.append(el("li", { class: "list-empty", role: "presentation" }, text));
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  highlight(index) {
    const options = [...this.results.querySelectorAll("[role=option]")];
    if (!options.length) return;
    this.active = (index + options.length) % options.length;
    options.forEach((option, i) => option.setAttribute("aria-selected", i === this.active ? "true" : "false"));
    this.input.setAttribute("aria-activedescendant", options[this.active].id);
    options[this.active].scrollIntoView({ block: "nearest" });
  }

  onKey(event) {
    if (event.key === "ArrowDown") {
      event.preventDefault();
      this.highlight(this.active + 1);
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      this.highlight(this.active - 1);
    } else if (event.key === "Enter") {
      if (this.active >= 0 && this.options.length) {
        event.preventDefault();
        this.pick(this.active);
      }
    } else if (event.key === "Backspace" && this.multi && !this.input.value && this.selected.size) {
      const last = [...this.selected.keys()].pop();
      this.selected.delete(last);
      this.renderChips();
      this.search();
    }
  }

  pick(index) {
    const person = this.options[index];
    if (!person) return;
    if (!this.multi) {
      this.onPick(person);
      return;
    }
    this.selected.set(person.username, person);
    this.input.value = "";
    this.renderChips();
    this.search();
    this.input.focus();
  }

  renderChips() {
    if (!this.chips) return;
    clear(this.chips);
    for (const person of this.selected.values()) {
      this.chips.append(
        el(
          "li",
          { class: "chip" },
          displayName(person),
          el(
            "button",
            {
              type: "button",
              class: "ghost",
              "aria-label": `Remove ${displayName(person)}`,
              onclick: () => {
                this.selected.delete(person.username);
                this.renderChips();
                this.search();
                this.input.focus();
              },
            },
            icon("close"),
          ),
        ),
      );
    }
    this.chips.hidden = !this.selected.size;
  }

  get usernames() {
    return [...this.selected.keys()];
  }
}
