// The modal dialogs, one module each under dialogs/ (shared.js holds what they all use, people-picker.js the
// people search three of them share). Native <dialog> elements from app.html: Escape closes them and focus
// returns to what opened them. This module builds them; the app calls each one's open() (and the others below).

import { AddContactDialog, PersonDialog } from "./dialogs/contacts.js";
import { ConfirmDialog } from "./dialogs/confirm.js";
import { DirectDialog } from "./dialogs/direct.js";
import { DirectoryDialog } from "./dialogs/directory.js";
import { InviteDialog } from "./dialogs/invite.js";
import { NewRoomDialog } from "./dialogs/new-room.js";
import { ProfileDialog } from "./dialogs/profile.js";
import { RoomSettingsDialog } from "./dialogs/room-settings.js";
import { SearchDialog } from "./dialogs/search.js";
import { closeOnRequest } from "./dialogs/shared.js";

// dialogs.person.changed() keeps an open profile card current; dialogs.confirm.ask({ title, text, action })
// resolves true when the user confirms.
export class Dialogs {
  // openConversation(id) opens a conversation; expectConversation(id) opens it when its frame arrives;
  // openDirectWith(person) opens, or first creates, the direct chat; statusChanged(text) tells the people
  // watching the user's presence; showMessage(conversationId, seq) opens a conversation at that message.
  constructor({ store, openConversation, expectConversation, openDirectWith, statusChanged, showMessage }) {
    this.confirm = new ConfirmDialog();
    this.direct = new DirectDialog({ store, openConversation });
    this.newRoom = new NewRoomDialog({ store, openConversation });
    this.invite = new InviteDialog({ store });
    this.directory = new DirectoryDialog({ store, openConversation, expectConversation, openNewRoom: () => this.newRoom.open() });
    this.addContact = new AddContactDialog({ store });
    this.person = new PersonDialog({ store, openDirectWith });
    this.profile = new ProfileDialog({ store, statusChanged });
    this.search = new SearchDialog({ store, showMessage });
    this.roomSettings = new RoomSettingsDialog({ store, confirm: (question) => this.confirm.ask(question) });
    for (const dialog of document.querySelectorAll("dialog")) closeOnRequest(dialog);
  }
}
