// The modal dialogs: start a direct chat (people picker), create a room, invite people, browse rooms, add a
// contact, someone's profile card (with moving or removing them on the buddy list), your own profile, confirm.
// Native <dialog> elements from app.html: Escape closes them and focus returns to what opened them.

import { api } from "./api.js";
import { clear, el, icon } from "./dom.js";
import { dayLabel, displayName, messageText, plainExcerpt, timeOf } from "./format.js";
import { avatar, fillAvatar, presenceState, presenceText } from "./render.js";

const PROFILE_FIELDS = ["display_name", "job_title", "department", "phone", "status_message"];
const DEFAULT_CONTACT_GROUP = "Contacts"; // accounts.services.DEFAULT_CONTACT_GROUP

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

// A form's action with its submit button disabled meanwhile; a refusal shows in the form's error line.
async function submitting(form, action) {
  const submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    await action();
  } catch (failure) {
    showError(form.querySelector(".form-error"), failure);
  } finally {
    submit.disabled = false;
  }
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
  constructor({ store, openConversation, expectConversation, openDirectWith, statusChanged, showMessage }) {
    this.store = store;
    this.showMessage = showMessage; // (conversationId, seq) => opens the conversation at that message
    this.openConversation = openConversation;
    this.expectConversation = expectConversation; // (id) => the app opens it when its frame arrives
    this.openDirectWith = openDirectWith; // (person) => opens, or first creates, the direct chat
    this.statusChanged = statusChanged; // (text) => tells the people watching the user's presence

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

    this.addContact = document.getElementById("dialog-add-contact");
    this.contactPicker = new PeoplePicker(this.addContact.querySelector(".people-picker"), {
      me: store.me,
      multi: false,
      onPick: (person) => this.chooseContact(person),
      exclude: () => store.contactGroups.flatMap((group) => group.contacts.map((person) => person.username)),
    });
    this.addContact.querySelector("form").addEventListener("submit", (event) => this.saveContact(event));
    this.addContact.querySelector("[data-action=change-person]").addEventListener("click", () => this.chooseContact(null));
    this.groupNames = document.getElementById("contact-group-names");

    this.person = document.getElementById("dialog-person");
    this.personId = null;
    this.person.querySelector("[data-action=message]").addEventListener("click", () => {
      const person = this.store.personOf(this.personId);
      this.person.close();
      this.openDirectWith(person);
    });
    this.person.querySelector("form").addEventListener("submit", (event) => this.moveContact(event));
    this.person.querySelector("[data-action=remove-contact]").addEventListener("click", () => this.removeContact());
    this.person.addEventListener("close", () => {
      this.personId = null;
    });

    this.profile = document.getElementById("dialog-profile");
    this.profile.querySelector("form").addEventListener("submit", (event) => this.saveProfile(event));

    this.search = document.getElementById("dialog-search");
    this.searchForm = this.search.querySelector("form");
    this.searchResults = this.search.querySelector(".search-results");
    this.searchState = this.search.querySelector(".search-state");
    this.searchMore = this.search.querySelector("[data-action=more]");
    this.searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this.searchMessages();
    });
    this.searchMore.addEventListener("click", () => this.searchMessages({ more: true }));

    this.roomSettings = document.getElementById("dialog-room-settings");
    this.roomSettings.querySelector("form").addEventListener("submit", (event) => this.saveRoomSettings(event));
    this.roomSettings.querySelector("[data-action=archive-room]").addEventListener("click", () => this.archiveRoom());

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
    await submitting(form, async () => {
      const room = await api.createRoom({
        name: form.elements.name.value.trim(),
        topic: form.elements.topic.value.trim(),
        isPublic: form.elements.is_public.checked,
        members: this.roomPicker.usernames,
      });
      this.store.upsertConversation(room);
      this.room.close();
      this.openConversation(room.id);
    });
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

  // ---- room settings: name and topic (owner, moderators), archiving (owner)

  openRoomSettings(conversationId) {
    const room = this.store.conversations.get(conversationId);
    this.settingsFor = conversationId;
    const form = this.roomSettings.querySelector("form");
    form.elements.name.value = room.name;
    form.elements.topic.value = room.topic || "";
    showError(form.querySelector(".form-error"), null);
    this.roomSettings.querySelector("[data-action=archive-room]").hidden = room.role !== "owner";
    this.renderRoomMembers();
    openDialog(this.roomSettings);
    form.elements.name.focus();
    // The members with their roles, fresh: someone may have joined or been promoted since the tab loaded them.
    api
      .conversation(conversationId)
      .then((details) => {
        this.store.upsertConversation(details);
        if (this.settingsFor === conversationId) this.renderRoomMembers();
      })
      .catch((failure) => showError(form.querySelector(".form-error"), failure));
  }

  // Owners and moderators first, then by name; buttons for what the user's role allows on each person.
  renderRoomMembers() {
    const room = this.store.conversations.get(this.settingsFor);
    const list = this.roomSettings.querySelector(".room-members");
    clear(list);
    const rank = { owner: 0, moderator: 1, member: 2 };
    const members = [...(room.members || [])].sort(
      (a, b) => (rank[a.role] ?? 2) - (rank[b.role] ?? 2) || displayName(a).localeCompare(displayName(b)),
    );
    for (const member of members) {
      const role = member.role || "member";
      const isMe = member.id === this.store.me.id;
      const actions = [];
      if (room.role === "owner" && !isMe && role !== "owner") {
        const next = role === "moderator" ? "member" : "moderator";
        const label = next === "moderator" ? "Make moderator" : "Make member";
        actions.push(el("button", { type: "button", class: "ghost small", onclick: () => this.setMemberRole(member, next) }, label));
      }
      const removable = room.role === "owner" ? role !== "owner" : room.role === "moderator" && role === "member";
      if (removable && !isMe) {
        actions.push(el("button", { type: "button", class: "ghost small danger-text", onclick: () => this.removeMember(member) }, "Remove"));
      }
      list.append(
        el(
          "li",
          { class: "room-member" },
          avatar(member, { size: "small" }),
          el("span", { class: "room-member-name" }, displayName(member), isMe ? " (you)" : ""),
          role === "member" ? null : el("span", { class: "room-member-role" }, role === "owner" ? "Owner" : "Moderator"),
          ...actions,
        ),
      );
    }
  }

  async setMemberRole(member, role) {
    try {
      this.store.upsertConversation(await api.setMemberRole(this.settingsFor, member.username, role));
      this.renderRoomMembers();
    } catch (failure) {
      showError(this.roomSettings.querySelector(".form-error"), failure);
    }
  }

  async removeMember(member) {
    const id = this.settingsFor;
    const room = this.store.conversations.get(id);
    this.roomSettings.close();
    const sure = await this.confirm({
      title: `Remove ${displayName(member)} from ${this.store.titleOf(room)}?`,
      text: "They lose the room and its history; an invitation brings them back. The removal is archived.",
      action: "Remove",
    });
    if (sure) {
      try {
        await api.removeMember(id, member.username);
        this.store.memberLeft(id, member);
      } catch (failure) {
        this.openRoomSettings(id);
        showError(this.roomSettings.querySelector(".form-error"), failure);
        return;
      }
    }
    this.openRoomSettings(id);
  }

  async saveRoomSettings(event) {
    event.preventDefault();
    const form = event.target;
    await submitting(form, async () => {
      const room = await api.updateRoom(this.settingsFor, {
        name: form.elements.name.value.trim(),
        topic: form.elements.topic.value.trim(),
      });
      this.store.upsertConversation(room);
      this.roomSettings.close();
    });
  }

  async archiveRoom() {
    const id = this.settingsFor;
    const room = this.store.conversations.get(id);
    this.roomSettings.close();
    const sure = await this.confirm({
      title: `Archive ${this.store.titleOf(room)}?`,
      text: "Its history stays readable for its members, and the compliance archive keeps it; nobody can post in it again. This cannot be undone.",
      action: "Archive room",
    });
    if (!sure) return;
    try {
      this.store.upsertConversation(await api.archiveRoom(id));
    } catch (failure) {
      this.openRoomSettings(id);
      showError(this.roomSettings.querySelector(".form-error"), failure);
    }
  }

  // ---- message search: newest first, a page at a time; a hit opens its conversation at the message

  openSearch() {
    openDialog(this.search);
    const input = this.searchForm.elements.q;
    input.focus();
    input.select();
  }

  async searchMessages({ more = false } = {}) {
    const error = this.search.querySelector(".form-error");
    const words = this.searchForm.elements.q.value.trim();
    if (!words) return;
    if (!more) {
      this.searchBefore = null;
      this.searchFound = 0;
      clear(this.searchResults);
    }
    const id = (this.searchId = (this.searchId || 0) + 1);
    showError(error, null);
    this.searchMore.hidden = true;
    this.searchState.textContent = "Searching…";
    let page;
    try {
      page = await api.searchMessages({ q: words, before: this.searchBefore });
    } catch (failure) {
      if (id === this.searchId) this.searchState.textContent = "";
      showError(error, failure);
      return;
    }
    if (id !== this.searchId) return; // a newer search started meanwhile
    for (const message of page.messages) this.searchResults.append(this.searchHit(message, words));
    this.searchFound += page.messages.length;
    this.searchBefore = page.next_before;
    this.searchMore.hidden = page.next_before === null;
    const found = this.searchFound;
    this.searchState.textContent = found
      ? `${found} message${found === 1 ? "" : "s"} found${page.next_before === null ? "." : " so far."}`
      : page.next_before === null
        ? "No messages match."
        : "Nothing yet among the newest messages; look further back with “More results”.";
  }

  searchHit(message, words) {
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
            this.search.close();
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

  // ---- the buddy list: add someone from the directory to a group (an existing one or a new name)

  openAddContact() {
    const form = this.addContact.querySelector("form");
    form.reset();
    this.fillGroupNames();
    form.elements.group.value = this.store.contactGroups[0]?.name || DEFAULT_CONTACT_GROUP;
    openDialog(this.addContact);
    this.chooseContact(null);
  }

  fillGroupNames() {
    clear(this.groupNames);
    for (const group of this.store.contactGroups) this.groupNames.append(el("option", { value: group.name }));
  }

  // Show who was picked in place of the search, or (person null) the search again.
  chooseContact(person) {
    this.contactChoice = person;
    const picker = this.addContact.querySelector(".people-picker");
    const chosen = this.addContact.querySelector(".chosen-person");
    picker.hidden = Boolean(person);
    chosen.hidden = !person;
    if (person) {
      const details = [person.job_title, person.department].filter(Boolean).join(", ");
      const card = chosen.querySelector(".chosen-card");
      clear(card);
      card.append(
        avatar(person, { size: "small" }),
        el(
          "span",
          { class: "person-text" },
          el("span", { class: "person-name" }, displayName(person)),
          el("span", { class: "person-detail" }, `@${person.username}${details ? ` · ${details}` : ""}`),
        ),
      );
      this.addContact.querySelector("form").elements.group.select();
      this.addContact.querySelector("form").elements.group.focus();
    } else {
      this.contactPicker.reset();
      this.contactPicker.input.focus();
    }
  }

  async saveContact(event) {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    if (!this.contactChoice) {
      showError(error, new Error("Pick someone from the directory first."));
      return;
    }
    await submitting(form, async () => {
      this.store.setContactGroups(await api.addContact(this.contactChoice.username, form.elements.group.value.trim()));
      this.addContact.close();
    });
  }

  // ---- someone's profile card: who they are, whether they are there, and their place on the buddy list

  openPerson(userId) {
    this.personId = userId;
    const form = this.person.querySelector("form");
    form.reset();
    this.fillGroupNames();
    this.renderPerson();
    this.renderContactForm();
    openDialog(this.person);
    this.person.querySelector("[data-action=message]").focus();
    api
      .user(userId)
      .then((person) => {
        this.store.rememberPerson(person); // the app re-renders the card through personChanged()
      })
      .catch((failure) => {
        if (this.personId === userId) showError(this.person.querySelector(".form-error"), failure);
      });
  }

  // Called by the app when presence, profiles or the buddy list changed: keep an open card current.
  personChanged() {
    if (this.personId === null) return;
    this.renderPerson();
    if (!this.person.querySelector("form").contains(document.activeElement)) this.renderContactForm(); // not while typing
  }

  renderPerson() {
    const person = this.store.personOf(this.personId) || { id: this.personId, username: "" };
    const state = presenceState(this.store, person.id);
    const picture = this.person.querySelector(".person-avatar");
    fillAvatar(picture, person);
    picture.append(el("span", { class: `presence-dot ${state}` }));
    this.person.querySelector(".person-card-name").textContent = displayName(person);
    this.person.querySelector(".person-presence").textContent = presenceText(this.store, person.id);
    const facts = this.person.querySelector(".person-facts");
    clear(facts);
    const rows = [
      ["Title", person.job_title],
      ["Department", person.department],
      ["Phone", person.phone ? el("a", { href: `tel:${person.phone.replace(/[^\d+]/g, "")}` }, person.phone) : ""],
      ["Username", person.username ? `@${person.username}` : ""],
    ];
    for (const [term, value] of rows) {
      if (value) facts.append(el("dt", {}, term), el("dd", {}, value));
    }
    this.person.querySelector("[data-action=message]").hidden = person.id === this.store.me.id;
  }

  renderContactForm() {
    const form = this.person.querySelector("form");
    const group = this.store.contactGroupOf(this.personId);
    form.hidden = this.personId === this.store.me.id;
    form.querySelector(".contact-form-label").textContent = group ? "Group on your buddy list" : "Add to your buddy list, in the group";
    form.elements.group.value = group || this.store.contactGroups[0]?.name || DEFAULT_CONTACT_GROUP;
    form.querySelector("[type=submit]").textContent = group ? "Move" : "Add contact";
    form.querySelector("[data-action=remove-contact]").hidden = !group;
  }

  async moveContact(event) {
    event.preventDefault();
    const form = event.target;
    const error = this.person.querySelector(".form-error");
    const person = this.store.personOf(this.personId);
    showError(error, null);
    try {
      this.store.setContactGroups(await api.addContact(person.username, form.elements.group.value.trim()));
      this.fillGroupNames();
      this.renderContactForm();
    } catch (failure) {
      showError(error, failure);
    }
  }

  async removeContact() {
    const person = this.store.personOf(this.personId);
    const error = this.person.querySelector(".form-error");
    showError(error, null);
    try {
      await api.removeContact(person.username);
      this.store.setContactGroups(await api.contacts());
      this.renderContactForm();
    } catch (failure) {
      showError(error, failure);
    }
  }

  // ---- your own profile: the fields, and a picture

  async openProfile() {
    const form = this.profile.querySelector("form");
    form.reset();
    this.fillProfile(form);
    openDialog(this.profile);
    form.elements.display_name.focus();
    try {
      this.store.setMe(await api.me());
      this.fillProfile(form, { onlyUntouched: true });
    } catch (failure) {
      showError(form.querySelector(".form-error"), failure);
    }
  }

  fillProfile(form, { onlyUntouched = false } = {}) {
    for (const name of PROFILE_FIELDS) {
      const input = form.elements[name];
      if (onlyUntouched && input.value !== input.defaultValue) continue; // typed in while /me was on its way
      input.value = input.defaultValue = this.store.me[name] ?? "";
    }
    fillAvatar(this.profile.querySelector(".profile-avatar"), this.store.me);
  }

  async saveProfile(event) {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    const submit = form.querySelector("[type=submit]");
    const fields = Object.fromEntries(PROFILE_FIELDS.map((name) => [name, form.elements[name].value.trim()]));
    const statusBefore = this.store.me.status_message ?? "";
    const picture = form.elements.picture.files[0];
    showError(error, null);
    submit.disabled = true;
    let saved = false;
    try {
      this.store.setMe(await api.updateMe(fields));
      saved = true;
      if (this.store.me.status_message !== statusBefore) this.statusChanged(this.store.me.status_message);
      if (picture) {
        this.store.setMe(await api.setPicture(picture)); // a new picture comes with a new address
      }
      this.profile.close();
    } catch (failure) {
      showError(error, saved ? new Error(`Your details were saved, but not the picture: ${failure.message}`) : failure);
      if (saved) this.fillProfile(form);
    } finally {
      submit.disabled = false;
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

// `text` as nodes, each occurrence of a searched word (any case) in a <mark>: built with text nodes, never HTML.
function marked(text, words) {
  const needles = [...new Set(searchedWords(words))];
  const lower = text.toLowerCase();
  const nodes = [];
  let at = 0;
  while (at < text.length) {
    let next = -1;
    let length = 0;
    for (const needle of needles) {
      const found = lower.indexOf(needle, at);
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

// What the server matches (messenger.selectors.SEARCH_TERM): quoted phrases and words, not the filters.
const SEARCH_FILTERS = new Set(["from", "in", "after", "before", "on"]);
function searchedWords(query) {
  const needles = [];
  for (const [, quotedName, quotedValue, phrase, word] of query.matchAll(/(\w+):"([^"]*)"|"([^"]+)"|(\S+)/g)) {
    const [name, value] = word ? [word.split(":")[0], word.slice(word.indexOf(":") + 1)] : [quotedName, quotedValue];
    const isFilter = (word ? word.includes(":") : true) && value && SEARCH_FILTERS.has(name.toLowerCase());
    if (phrase) needles.push(phrase.toLowerCase());
    else if (!isFilter) needles.push((word || `${quotedName}:"${quotedValue}"`).toLowerCase());
  }
  return needles.filter(Boolean);
}
