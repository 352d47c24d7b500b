// "Start a direct chat": pick one colleague; their direct chat opens, created on the server the first time.

import { api } from "../api.js";
import { PeoplePicker } from "./people-picker.js";
import { openDialog, showError } from "./shared.js";

export class DirectDialog {
  constructor({ store, openConversation }) {
    this.store = store;
    this.openConversation = openConversation;
    this.dialog = document.getElementById("dialog-direct");
    this.picker = new PeoplePicker(this.dialog.querySelector(".people-picker"), {
      me: store.me,
      multi: false,
      onPick: (person) => this.start(person),
    });
  }

  open() {
    openDialog(this.dialog);
    this.picker.reset();
    this.picker.input.focus();
  }

  async start(person) {
    const error = this.dialog.querySelector(".form-error");
    try {
      const conversation = await api.openDirect(person.username);
      this.store.upsertConversation(conversation);
      this.dialog.close();
      this.openConversation(conversation.id);
    } catch (failure) {
      showError(error, failure);
    }
  }
}
