// A search box with a list of people under it (the ARIA combobox pattern): arrows move, Enter picks. One person
// at a time (`multi` false: `onPick` gets them) or several, shown as chips (`usernames`).

import { api } from "../api.js";
import { clear, el, icon } from "../dom.js";
import { displayName } from "../format.js";
import { Listbox } from "../listbox.js";
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
    this.searchId = 0;
    this.listbox = new Listbox(this.input, this.results, { onPick: (index) => this.pick(index) });
    const search = debounce(() => this.search(), SEARCH_DEBOUNCE_MS);
    this.input.addEventListener("input", search);
    this.input.addEventListener("keydown", (event) => this.onKey(event));
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
    if (!this.options.length) {
      this.renderMessage(this.emptyText());
      return;
    }
    this.listbox.show(this.options, personLine, { optionClass: "person-option" });
  }

  renderMessage(text) {
    this.listbox.showMessage(text);
  }

  onKey(event) {
    if (this.listbox.moveWith(event)) return;
    if (event.key === "Enter") {
      if (this.listbox.active >= 0) {
        event.preventDefault();
        this.pick(this.listbox.active);
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
