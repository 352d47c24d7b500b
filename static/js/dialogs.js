// The modal dialogs: start a direct chat (people picker), create a room, invite people, browse rooms, confirm.
// Native <dialog> elements from app.html: Escape closes them and focus returns to what opened them.

import { api } from "./api.js";
import { clear, el, icon } from "./dom.js";
import { displayName } from "./format.js";
import { avatar } from "./render.js";

const SEARCH_DEBOUNCE_MS = 180;

function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}

function openDialog(dialog) {
  dialog.querySelectorAll(".form-error").forEach((node) => showError(node, null));
  dialog.showModal();
}

// A search box with a list of people under it (the ARIA combobox pattern): arrows move, Enter picks.
class PeoplePicker {
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
    this.render();
  }

  render() {
    clear(this.results);
    this.active = this.options.length ? 0 : -1;
    if (!this.options.length) {
      this.renderMessage(this.input.value.trim() ? "Nobody found by that name." : "Nobody else here yet.");
      return;
    }
    this.options.forEach((person, index) => {
      const details = [person.job_title, person.department].filter(Boolean).join(", ");
      this.results.append(
        el(
          "li",
          { role: "option", id: `${this.results.id}-${index}`, class: "person-option", dataset: { index }, "aria-selected": index === 0 ? "true" : "false" },
          avatar(person, { size: "small" }),
          el(
            "span",
            { class: "person-text" },
            el("span", { class: "person-name" }, displayName(person)),
            el("span", { class: "person-detail" }, `@${person.username}${details ? ` · ${details}` : ""}`),
          ),
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

export class Dialogs {
  constructor({ store, openConversation, expectConversation }) {
    this.store = store;
    this.openConversation = openConversation;
    this.expectConversation = expectConversation; // (id) => the app opens it when its frame arrives

    this.direct = document.getElementById("dialog-direct");
    this.directPicker = new PeoplePicker(this.direct.querySelector(".people-picker"), {
      me: store.me,
      multi: false,
      onPick: (person) => this.startDirect(person),
    });

    this.room = document.getElementById("dialog-room");
    this.roomPicker = new PeoplePicker(this.room.querySelector(".people-picker"), { me: store.me, multi: true });
    this.room.querySelector("form").addEventListener("submit", (event) => this.createRoom(event));

    this.invite = document.getElementById("dialog-invite");
    this.invitePicker = new PeoplePicker(this.invite.querySelector(".people-picker"), {
      me: store.me,
      multi: true,
      exclude: () => (store.conversations.get(this.inviteTo)?.members || []).map((member) => member.username),
    });
    this.invite.querySelector("form").addEventListener("submit", (event) => this.sendInvites(event));

    this.rooms = document.getElementById("dialog-rooms");
    this.roomSearch = this.rooms.querySelector("input[type=search]");
    this.roomResults = this.rooms.querySelector(".room-results");
    this.roomSearch.addEventListener("input", debounce(() => this.searchRooms(), SEARCH_DEBOUNCE_MS));
    this.rooms.querySelector("[data-action=create-room]").addEventListener("click", () => {
      this.rooms.close();
      this.openRoom();
    });

    this.confirmDialog = document.getElementById("dialog-confirm");

    for (const dialog of document.querySelectorAll("dialog")) {
      dialog.querySelectorAll("[data-action=close]").forEach((button) => button.addEventListener("click", () => dialog.close()));
      // A click on the backdrop (the dialog element itself, outside its card) closes it.
      dialog.addEventListener("click", (event) => {
        if (event.target === dialog) dialog.close();
      });
    }
  }

  // ---- direct chats

  openDirect() {
    openDialog(this.direct);
    this.directPicker.reset();
    this.directPicker.input.focus();
  }

  async startDirect(person) {
    const error = this.direct.querySelector(".form-error");
    try {
      const conversation = await api.openDirect(person.username);
      this.store.upsertConversation(conversation);
      this.direct.close();
      this.openConversation(conversation.id);
    } catch (failure) {
      showError(error, failure);
    }
  }

  // ---- rooms

  openRoom() {
    this.room.querySelector("form").reset();
    openDialog(this.room);
    this.roomPicker.reset();
    this.room.querySelector("[name=name]").focus();
  }

  async createRoom(event) {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    const submit = form.querySelector("[type=submit]");
    submit.disabled = true;
    try {
      const room = await api.createRoom({
        name: form.elements.name.value.trim(),
        topic: form.elements.topic.value.trim(),
        isPublic: form.elements.is_public.checked,
        members: this.roomPicker.usernames,
      });
      this.store.upsertConversation(room);
      this.room.close();
      this.openConversation(room.id);
    } catch (failure) {
      showError(error, failure);
    } finally {
      submit.disabled = false;
    }
  }

  openInvite(conversationId) {
    this.inviteTo = conversationId;
    const conversation = this.store.conversations.get(conversationId);
    this.invite.querySelector(".dialog-title").textContent = `Invite people to ${this.store.titleOf(conversation)}`;
    openDialog(this.invite);
    this.invitePicker.reset();
    this.invitePicker.input.focus();
    // Room members come with the conversation's details; fetch them so the picker can leave them out.
    if (!conversation.members) {
      api
        .conversation(conversationId)
        .then((details) => {
          this.store.upsertConversation(details);
          this.invitePicker.search();
        })
        .catch(() => {});
    }
  }

  async sendInvites(event) {
    event.preventDefault();
    const error = event.target.querySelector(".form-error");
    const usernames = this.invitePicker.usernames;
    if (!usernames.length) {
      showError(error, new Error("Pick at least one person."));
      return;
    }
    try {
      await api.invite(this.inviteTo, usernames);
      const details = await api.conversation(this.inviteTo);
      this.store.upsertConversation(details);
      this.invite.close();
    } catch (failure) {
      showError(error, failure);
    }
  }

  openDirectory() {
    this.roomSearch.value = "";
    openDialog(this.rooms);
    this.searchRooms();
    this.roomSearch.focus();
  }

  async searchRooms() {
    const term = this.roomSearch.value.trim();
    const id = (this.roomSearchId = (this.roomSearchId || 0) + 1);
    let rooms;
    try {
      rooms = await api.rooms(term);
    } catch (failure) {
      showError(this.rooms.querySelector(".form-error"), failure);
      return;
    }
    if (id !== this.roomSearchId) return;
    clear(this.roomResults);
    if (!rooms.length) {
      this.roomResults.append(el("li", { class: "list-empty" }, term ? "No rooms match." : "No public rooms yet."));
      return;
    }
    for (const room of rooms) {
      const count = room.member_count ?? 0;
      const action = room.is_member
        ? el("button", { type: "button", onclick: () => this.enterRoom(room) }, "Open")
        : el("button", { type: "button", class: "primary", onclick: (event) => this.joinRoom(room, event.currentTarget) }, "Join");
      this.roomResults.append(
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

  enterRoom(room) {
    this.rooms.close();
    this.openConversation(room.id);
  }

  async joinRoom(room, button) {
    button.disabled = true;
    try {
      const joined = await api.joinRoom(room.id);
      this.store.upsertConversation(joined?.id ? joined : { ...room, is_member: true });
      this.expectConversation(room.id);
      this.rooms.close();
      this.openConversation(room.id);
    } catch (failure) {
      showError(this.rooms.querySelector(".form-error"), failure);
      button.disabled = false;
    }
  }

  // ---- confirm: resolves true when the user confirms

  confirm({ title, text, action }) {
    const dialog = this.confirmDialog;
    dialog.querySelector(".dialog-title").textContent = title;
    dialog.querySelector(".dialog-text").textContent = text;
    const button = dialog.querySelector("[data-action=confirm]");
    button.textContent = action;
    dialog.returnValue = "";
    dialog.showModal();
    button.focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    });
  }
}
