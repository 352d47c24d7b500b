// "Your profile": display name, job title, department, phone, status message, and a picture.

import { api } from "../api.js";
import { fillAvatar } from "../render.js";
import { openDialog, showError } from "./shared.js";

const PROFILE_FIELDS = ["display_name", "job_title", "department", "phone", "status_message"];

export class ProfileDialog {
  // `statusChanged(text)` tells the people watching the user's presence.
  constructor({ store, statusChanged }) {
    this.store = store;
    this.statusChanged = statusChanged;
    this.dialog = document.getElementById("dialog-profile");
    this.form = this.dialog.querySelector("form");
    this.form.addEventListener("submit", (event) => this.save(event));
  }

  async open() {
    const form = this.form;
    form.reset();
    this.fill(form);
    openDialog(this.dialog);
    form.elements.display_name.focus();
    try {
      this.store.setMe(await api.me());
      this.fill(form, { onlyUntouched: true });
    } catch (failure) {
      showError(form.querySelector(".form-error"), failure);
    }
  }

  fill(form, { onlyUntouched = false } = {}) {
    for (const name of PROFILE_FIELDS) {
      const input = form.elements[name];
      if (onlyUntouched && input.value !== input.defaultValue) continue; // typed in while /me was on its way
      input.value = input.defaultValue = this.store.me[name] ?? "";
    }
    fillAvatar(this.dialog.querySelector(".profile-avatar"), this.store.me);
  }

  // Not through submitting(): the details and the picture are two requests, and a refused picture says that
  // the details were saved.
  async save(event) {
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
      this.dialog.close();
    } catch (failure) {
      showError(error, saved ? new Error(`Your details were saved, but not the picture: ${failure.message}`) : failure);
      if (saved) this.fill(form);
    } finally {
      submit.disabled = false;
    }
  }
}
