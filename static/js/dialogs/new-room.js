// "Create a room": name, topic, public or not, and the people to invite with it.

import { api } from "../api.js";
import { PeoplePicker } from "./people-picker.js";
import { openDialog, submitting } from "./shared.js";

export class NewRoomDialog {
  constructor({ store, openConversation }) {
    this.store = store;
    this.openConversation = openConversation;
    this.dialog = document.getElementById("dialog-room");
    this.form = this.dialog.querySelector("form");
    this.picker = new PeoplePicker(this.dialog.querySelector(".people-picker"), { me: store.me, multi: true });
    this.form.addEventListener("submit", (event) => this.create(event));
  }

  open() {
    this.form.reset();
    openDialog(this.dialog);
    this.picker.reset();
    this.form.elements.name.focus();
  }

  async create(event) {
    event.preventDefault();
    const form = event.target;
    await submitting(form, async () => {
      const room = await api.createRoom({
        name: form.elements.name.value.trim(),
        topic: form.elements.topic.value.trim(),
        isPublic: form.elements.is_public.checked,
        members: this.picker.usernames,
      });
      this.store.upsertConversation(room);
      this.dialog.close();
      this.openConversation(room.id);
    });
  }
}
