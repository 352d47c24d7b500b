// "Browse rooms": the public rooms (and the user's own) by name or topic, to open or join.

import { api } from "../api.js";
import { clear, el, icon } from "../dom.js";
import { debounce, openDialog, SEARCH_DEBOUNCE_MS, showError } from "./shared.js";

export class DirectoryDialog {
  // `expectConversation(id)`: the app opens the room when its `conversation` frame arrives; `openNewRoom()`
  // opens "Create a room" instead.
  constructor({ store, openConversation, expectConversation, openNewRoom }) {
    this.store = store;
    this.openConversation = openConversation;
    this.expectConversation = expectConversation;
    this.searchId = 0;
    this.dialog = document.getElementById("dialog-rooms");
    this.input = this.dialog.querySelector("input[type=search]");
    this.results = this.dialog.querySelector(".room-results");
    this.input.addEventListener("input", debounce(() => this.search(), SEARCH_DEBOUNCE_MS));
    this.dialog.querySelector("[data-action=create-room]").addEventListener("click", () => {
      this.dialog.close();
      openNewRoom();
    });
  }

  open() {
    this.input.value = "";
    openDialog(this.dialog);
    this.search();
    this.input.focus();
  }

  async search() {
    const term = this.input.value.trim();
    const id = ++this.searchId;
    let rooms;
    try {
      rooms = await api.rooms(term);
    } catch (failure) {
      showError(this.dialog.querySelector(".form-error"), failure);
      return;
    }
    if (id !== this.searchId) return;
    clear(this.results);
    if (!rooms.length) {
      this.results.append(el("li", { class: "list-empty" }, term ? "No rooms match." : "No public rooms yet."));
      return;
    }
    for (const room of rooms) {
      const count = room.member_count ?? 0;
      const action = room.is_member
        ? el("button", { type: "button", onclick: () => this.enter(room) }, "Open")
        : el("button", { type: "button", class: "primary", onclick: (event) => this.join(room, event.currentTarget) }, "Join");
      this.results.append(
        el(
          "li",
          { class: "room-row" },
          el("span", { class: "room-glyph", "aria-hidden": "true" }, room.is_public ? "#" : icon("rooms")),
          el(
            "span",
            { class: "room-text" },
            el("span", { class: "room-name" }, room.name),
            el("span", { class: "room-detail" }, [room.topic, `${count} member${count === 1 ? "" : "s"}`].filter(Boolean).join(" · ")),
          ),
          action,
        ),
      );
    }
  }

  enter(room) {
    this.dialog.close();
    this.openConversation(room.id);
  }

  async join(room, button) {
    button.disabled = true;
    try {
      const joined = await api.joinRoom(room.id);
      this.store.upsertConversation(joined?.id ? joined : { ...room, is_member: true });
      this.expectConversation(room.id);
      this.dialog.close();
      this.openConversation(room.id);
    } catch (failure) {
      showError(this.dialog.querySelector(".form-error"), failure);
      button.disabled = false;
    }
  }
}
