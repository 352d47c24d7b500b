// A list of options under a text field (the ARIA combobox pattern): the field keeps the focus, arrows move the
// active option (aria-activedescendant), the owner decides which keys pick. Shared by the people pickers
// (dialogs/people-picker.js) and the message box's @-mention and :shortcode: completions (composer.js).

import { clear, el } from "./dom.js";

export class Listbox {
  // `combobox` false for a textarea: it keeps its textbox role, which may not carry aria-expanded.
  constructor(input, list, { onPick, combobox = true }) {
    this.input = input;
    this.list = list;
    this.onPick = onPick;
    this.combobox = combobox;
    this.count = 0;
    this.active = -1;
    if (combobox) {
      input.setAttribute("role", "combobox");
      input.setAttribute("aria-expanded", "false");
    }
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    list.setAttribute("role", "listbox");
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) this.onPick(Number(option.dataset.index));
    });
    // A click on an option must not take the focus from the field (the box would lose its caret).
    list.addEventListener("pointerdown", (event) => event.preventDefault());
  }

  get isOpen() {
    return this.count > 0;
  }

  // One option per item, built by `build(item)` (its content); the first is active.
  show(items, build, { optionClass = "" } = {}) {
    clear(this.list);
    this.count = items.length;
    if (!items.length) {
      this.close();
      return;
    }
    items.forEach((item, index) => {
      this.list.append(
        el("li", { role: "option", id: `${this.list.id}-${index}`, class: optionClass, dataset: { index }, "aria-selected": "false" }, build(item)),
      );
    });
    this.list.hidden = false;
    if (this.combobox) this.input.setAttribute("aria-expanded", "true");
    this.highlight(0);
  }

  // A line instead of options ("Nobody found"): nothing to pick.
  showMessage(text) {
    clear(this.list);
    this.count = 0;
    this.list.append(el("li", { class: "list-empty", role: "presentation" }, text));
    this.list.hidden = false;
    this.collapse();
  }

  close() {
    clear(this.list);
    this.count = 0;
    this.list.hidden = true;
    this.collapse();
  }

  collapse() {
    this.active = -1;
    if (this.combobox) this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  highlight(index) {
    const options = [...this.list.querySelectorAll("[role=option]")];
    if (!options.length) return;
    this.active = (index + options.length) % options.length;
    options.forEach((option, i) => option.setAttribute("aria-selected", i === this.active ? "true" : "false"));
    this.input.setAttribute("aria-activedescendant", options[this.active].id);
    options[this.active].scrollIntoView({ block: "nearest" });
  }

  // Arrow keys move the active option; true when the key was one of them (the caller then prevents its default).
  moveWith(event) {
    if (!this.isOpen) return false;
    if (event.key === "ArrowDown") this.highlight(this.active + 1);
    else if (event.key === "ArrowUp") this.highlight(this.active - 1);
    else return false;
    event.preventDefault();
    return true;
  }
}
