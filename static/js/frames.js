// What the tab does with each frame the server sends unasked (docs/protocol.md, "Server → client"): a table
// from frame type to handler. A new kind of traffic (calls, games) adds one entry per frame type here, each
// handing the frame to that traffic's own module; replies to requests never come here (socket.js matches them).

// The handlers, given what they act on: `receive(message, { live })` takes an arriving message, `expected`
// holds conversations to open as soon as their `conversation` frame arrives, `goTo(id)` opens one (null: none),
// `games` draws the game cards (games.js).
export function frameHandlers({ store, sync, receive, composer, view, expected, goTo, games }) {
  return {
    message(frame) {
      sync.noteGap(frame.message);
      receive(frame.message, { live: true });
    },
    "message.updated"(frame) {
      store.updateMessage(frame.message);
      if (frame.message.deleted) composer.messageGone(frame.message.id);
    },
    // retention removed them from the chat for good
    "messages.expired"(frame) {
      store.dropMessages(frame.conversation_id, frame.message_ids);
    },
    "message.reactions"(frame) {
      store.setReactions(frame.conversation_id, frame.message_id, frame.reactions);
    },
    read(frame) {
      store.noteRead(frame.conversation_id, frame.user_id, frame.seq);
    },
    typing(frame) {
      store.noteTyping(frame.conversation_id, frame.user);
    },
    conversation(frame) {
      store.upsertConversation(frame.conversation);
      if (expected.delete(frame.conversation.id)) goTo(frame.conversation.id);
    },
    // renamed, new topic, or archived
    "conversation.updated"(frame) {
      store.upsertConversation(frame.conversation);
    },
    "conversation.left"(frame) {
      store.removeConversation(frame.conversation_id);
      if (store.activeId === null && view.conversationId === frame.conversation_id) goTo(null);
    },
    "member.left"(frame) {
      store.memberLeft(frame.conversation_id, frame.user);
    },
    "presence.snapshot"(frame) {
      for (const entry of frame.users) store.setPresence(entry);
    },
    presence(frame) {
      store.setPresence(frame);
    },
    // someone's name, picture or details changed (the user's own, from another tab, too)
    "user.updated"(frame) {
      store.updatePerson(frame.user);
    },
    // the buddy list changed in another tab or device
    contacts(frame) {
      store.setContactGroups(frame.groups);
    },
    // a game in one of the user's conversations changed (games.js)
    "game.updated"(frame) {
      games.updated(frame.game);
    },
  };
}

// Hand a frame to its handler. Frame types added later are ignored by this version of the client.
export function dispatchFrame(handlers, frame) {
  if (Object.hasOwn(handlers, frame.type)) handlers[frame.type](frame);
}
