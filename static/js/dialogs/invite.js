// "Invite people" to a room: several colleagues at once, leaving out those already in it.

import { api } from "../api.js";
import { PeoplePicker } from "./people-picker.js";
import { openDialog, showError } from "./shared.js";

export class InviteDialog {
  constructor({ store }) {
    this.store = store;
    this.conversationId = null;
    this.dialog = document.getElementById("dialog-invite");
    this.picker = new PeoplePicker(this.dialog.querySelector(".people-picker"), {
      me: store.me,
      multi: true,
      exclude: () => (store.conversations.get(this.conversationId)?.members || []).map((member) => member.username),
    });
    this.dialog.querySelector("form").addEventListener("submit", (event) => this.send(event));
  }

  open(conversationId) {
    this.conversationId = conversationId;
    const conversation = this.store.conversations.get(conversationId);
    this.dialog.querySelector(".dialog-title").textContent = `Invite people to ${this.store.titleOf(conversation)}`;
    openDialog(this.dialog);
    this.picker.reset();
    this.picker.input.focus();
    // Room members come with the conversation's details; fetch them so the picker can leave them out.
    if (!conversation.members) {
      api
        .conversation(conversationId)
        .then((details) => {
          this.store.upsertConversation(details);
          this.picker.search();
        })
        .catch(() => {});
    }
  }

  async send(event) {
    event.preventDefault();
    const error = event.target.querySelector(".form-error");
    const usernames = this.picker.usernames;
    if (!usernames.length) {
      showError(error, new Error("Pick at least one person."));
      return;
    }
    try {
      await api.invite(this.conversationId, usernames);
      const details = await api.conversation(this.conversationId);
      this.store.upsertConversation(details);
      this.dialog.close();
    } catch (failure) {
      showError(error, failure);
    }
  }
}
