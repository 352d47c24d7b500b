// The buddy list's two dialogs: "Add a contact" (someone from the directory, into an existing group or one
// named on the spot) and someone's profile card (who they are, whether they are there, and their place on the
// buddy list). Both offer the user's group names from one <datalist>.

import { api } from "../api.js";
import { clear, el } from "../dom.js";
import { displayName } from "../format.js";
import { fillAvatar, presenceState, presenceText } from "../render.js";
import { PeoplePicker, personLine } from "./people-picker.js";
import { openDialog, showError, submitting } from "./shared.js";

const DEFAULT_CONTACT_GROUP = "Contacts"; // accounts.services.DEFAULT_CONTACT_GROUP

function fillGroupNames(store) {
  const names = document.getElementById("contact-group-names");
  clear(names);
  for (const group of store.contactGroups) names.append(el("option", { value: group.name }));
}

export class AddContactDialog {
  constructor({ store }) {
    this.store = store;
    this.choice = null;
    this.dialog = document.getElementById("dialog-add-contact");
    this.form = this.dialog.querySelector("form");
    this.picker = new PeoplePicker(this.dialog.querySelector(".people-picker"), {
      me: store.me,
      multi: false,
      onPick: (person) => this.choose(person),
      exclude: () => store.contactGroups.flatMap((group) => group.contacts.map((person) => person.username)),
    });
    this.form.addEventListener("submit", (event) => this.save(event));
    this.dialog.querySelector("[data-action=change-person]").addEventListener("click", () => this.choose(null));
  }

  open() {
    const form = this.form;
    form.reset();
    fillGroupNames(this.store);
    form.elements.group.value = this.store.contactGroups[0]?.name || DEFAULT_CONTACT_GROUP;
    openDialog(this.dialog);
    this.choose(null);
  }

  // Show who was picked in place of the search, or (person null) the search again.
  choose(person) {
    this.choice = person;
    const picker = this.dialog.querySelector(".people-picker");
    const chosen = this.dialog.querySelector(".chosen-person");
    picker.hidden = Boolean(person);
    chosen.hidden = !person;
    if (person) {
      const card = chosen.querySelector(".chosen-card");
      clear(card);
      card.append(...personLine(person));
      this.form.elements.group.select();
      this.form.elements.group.focus();
    } else {
      this.picker.reset();
      this.picker.input.focus();
    }
  }

  async save(event) {
    event.preventDefault();
    const form = event.target;
    const error = form.querySelector(".form-error");
    if (!this.choice) {
      showError(error, new Error("Pick someone from the directory first."));
      return;
    }
    await submitting(form, async () => {
      this.store.setContactGroups(await api.addContact(this.choice.username, form.elements.group.value.trim()));
      this.dialog.close();
    });
  }
}

export class PersonDialog {
  // `openDirectWith(person)` opens, or first creates, the direct chat.
  constructor({ store, openDirectWith }) {
    this.store = store;
    this.personId = null;
    this.dialog = document.getElementById("dialog-person");
    this.form = this.dialog.querySelector("form");
    this.error = this.dialog.querySelector(".form-error");
    this.dialog.querySelector("[data-action=message]").addEventListener("click", () => {
      const person = this.store.personOf(this.personId);
      this.dialog.close();
      openDirectWith(person);
    });
    this.form.addEventListener("submit", (event) => this.move(event));
    this.dialog.querySelector("[data-action=remove-contact]").addEventListener("click", () => this.remove());
    this.dialog.addEventListener("close", () => {
      // Open again (another person's card, opened at once): a late close event of the last one, not this one's.
      if (!this.dialog.open) this.personId = null;
    });
  }

  open(userId) {
    this.personId = userId;
    this.form.reset();
    fillGroupNames(this.store);
    this.renderPerson();
    this.renderContactForm();
    openDialog(this.dialog);
    this.dialog.querySelector("[data-action=message]").focus();
    api
      .user(userId)
      .then((person) => {
        this.store.rememberPerson(person); // the app re-renders the card through changed()
      })
      .catch((failure) => {
        if (this.personId === userId) showError(this.error, failure);
      });
  }

  // Called by the app when presence, profiles or the buddy list changed: keep an open card current.
  changed() {
    if (this.personId === null) return;
    this.renderPerson();
    if (!this.form.contains(document.activeElement)) this.renderContactForm(); // not while typing
  }

  renderPerson() {
    const person = this.store.personOf(this.personId) || { id: this.personId, username: "" };
    const state = presenceState(this.store, person.id);
    const picture = this.dialog.querySelector(".person-avatar");
    fillAvatar(picture, person);
    picture.append(el("span", { class: `presence-dot ${state}` }));
    this.dialog.querySelector(".person-card-name").textContent = displayName(person);
    this.dialog.querySelector(".person-presence").textContent = presenceText(this.store, person.id);
    const facts = this.dialog.querySelector(".person-facts");
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
    this.dialog.querySelector("[data-action=message]").hidden = person.id === this.store.me.id;
  }

  renderContactForm() {
    const form = this.form;
    const group = this.store.contactGroupOf(this.personId);
    form.hidden = this.personId === this.store.me.id;
    form.querySelector(".contact-form-label").textContent = group ? "Group on your buddy list" : "Add to your buddy list, in the group";
    form.elements.group.value = group || this.store.contactGroups[0]?.name || DEFAULT_CONTACT_GROUP;
    form.querySelector("[type=submit]").textContent = group ? "Move" : "Add contact";
    form.querySelector("[data-action=remove-contact]").hidden = !group;
  }

  async move(event) {
    event.preventDefault();
    const form = event.target;
    const person = this.store.personOf(this.personId);
    showError(this.error, null);
    try {
      this.store.setContactGroups(await api.addContact(person.username, form.elements.group.value.trim()));
      fillGroupNames(this.store);
      this.renderContactForm();
    } catch (failure) {
      showError(this.error, failure);
    }
  }

  async remove() {
    const person = this.store.personOf(this.personId);
    showError(this.error, null);
    try {
      await api.removeContact(person.username);
      this.store.setContactGroups(await api.contacts());
      this.renderContactForm();
    } catch (failure) {
      showError(this.error, failure);
    }
  }
}
