// "Room settings" for owners and moderators: name and topic, the members with their roles (the owner makes
// moderators and removes anyone else; a moderator removes plain members), and for the owner archiving the room.

import { api } from "../api.js";
import { clear, el } from "../dom.js";
import { displayName } from "../format.js";
import { avatar } from "../render.js";
import { openDialog, showError, submitting } from "./shared.js";

const RANK = { owner: 0, moderator: 1, member: 2 };

export class RoomSettingsDialog {
  // `confirm({ title, text, action })` resolves true when the user confirms.
  constructor({ store, confirm }) {
    this.store = store;
    this.confirm = confirm;
    this.conversationId = null;
    this.dialog = document.getElementById("dialog-room-settings");
    this.form = this.dialog.querySelector("form");
    this.error = this.form.querySelector(".form-error");
    this.form.addEventListener("submit", (event) => this.save(event));
    this.dialog.querySelector("[data-action=archive-room]").addEventListener("click", () => this.archive());
  }

  open(conversationId) {
    const room = this.store.conversations.get(conversationId);
    this.conversationId = conversationId;
    const form = this.form;
    form.elements.name.value = room.name;
    form.elements.topic.value = room.topic || "";
    showError(this.error, null);
    this.dialog.querySelector("[data-action=archive-room]").hidden = room.role !== "owner";
    this.renderMembers();
    openDialog(this.dialog);
    form.elements.name.focus();
    // The members with their roles, fresh: someone may have joined or been promoted since the tab loaded them.
    api
      .conversation(conversationId)
      .then((details) => {
        this.store.upsertConversation(details);
        if (this.conversationId === conversationId) this.renderMembers();
      })
      .catch((failure) => showError(this.error, failure));
  }

  // Owners and moderators first, then by name; buttons for what the user's role allows on each person.
  renderMembers() {
    const room = this.store.conversations.get(this.conversationId);
    const list = this.dialog.querySelector(".room-members");
    clear(list);
    const members = [...(room.members || [])].sort(
      (a, b) => (RANK[a.role] ?? 2) - (RANK[b.role] ?? 2) || displayName(a).localeCompare(displayName(b)),
    );
    for (const member of members) {
      const role = member.role || "member";
      const isMe = member.id === this.store.me.id;
      const actions = [];
      if (room.role === "owner" && !isMe && role !== "owner") {
        const next = role === "moderator" ? "member" : "moderator";
        const label = next === "moderator" ? "Make moderator" : "Make member";
        actions.push(el("button", { type: "button", class: "ghost small", onclick: () => this.setRole(member, next) }, label));
      }
      const removable = room.role === "owner" ? role !== "owner" : room.role === "moderator" && role === "member";
      if (removable && !isMe) {
        actions.push(el("button", { type: "button", class: "ghost small danger-text", onclick: () => this.remove(member) }, "Remove"));
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

  async setRole(member, role) {
    try {
      this.store.upsertConversation(await api.setMemberRole(this.conversationId, member.username, role));
      this.renderMembers();
    } catch (failure) {
      showError(this.error, failure);
    }
  }

  async remove(member) {
    const id = this.conversationId;
    const room = this.store.conversations.get(id);
    this.dialog.close();
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
        this.open(id);
        showError(this.error, failure);
        return;
      }
    }
    this.open(id);
  }

  async save(event) {
    event.preventDefault();
    const form = event.target;
    await submitting(form, async () => {
      const room = await api.updateRoom(this.conversationId, {
        name: form.elements.name.value.trim(),
        topic: form.elements.topic.value.trim(),
      });
      this.store.upsertConversation(room);
      this.dialog.close();
    });
  }

  async archive() {
    const id = this.conversationId;
    const room = this.store.conversations.get(id);
    this.dialog.close();
    const sure = await this.confirm({
      title: `Archive ${this.store.titleOf(room)}?`,
      text: "Its history stays readable for its members, and the compliance archive keeps it; nobody can post in it again. This cannot be undone.",
      action: "Archive room",
    });
    if (!sure) return;
    try {
      this.store.upsertConversation(await api.archiveRoom(id));
    } catch (failure) {
      this.open(id);
      showError(this.error, failure);
    }
  }
}
