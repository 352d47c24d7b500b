// A conversation's history over HTTP (`GET /api/v1/conversations/{id}/messages`): the newest page when it is
// first opened, older pages as the user scrolls up, and as many as it takes to reach a quoted or found message.

import { api } from "./api.js";

const PAGE_SIZE = 50;
const MAX_PAGE = 200; // messenger.selectors.HISTORY_PAGE_MAX
const MAX_UNREAD_LOADED = 1000;

export class MessageHistory {
  // `say(text)` tells the user; `render()` puts the store's pending changes on the page at once.
  constructor({ store, view, say, render }) {
    this.store = store;
    this.view = view;
    this.say = say;
    this.render = render;
    this.loadingNewest = new Map(); // conversation id -> the request on its way
  }

  // The newest page of a conversation, reaching back to the first unread message so the chat opens there (at
  // the "New messages" line) however much was missed, up to MAX_UNREAD_LOADED; one request chain per
  // conversation while it is on its way.
  loadNewest(conversationId) {
    if (!this.loadingNewest.has(conversationId)) {
      const conversation = this.store.conversations.get(conversationId);
      const firstUnread = conversation?.unread ? conversation.last_read_seq + 1 : null;
      const limit = firstUnread === null ? PAGE_SIZE : Math.min(MAX_PAGE, Math.max(PAGE_SIZE, conversation.unread + 10));
      const loading = api
        .messages(conversationId, { limit })
        .then((page) => this.store.addHistory(conversationId, page, { older: page.length === limit }))
        .then(() => firstUnread !== null && this.loadBackTo(conversationId, firstUnread))
        .catch((error) => this.say(`Messages could not be loaded: ${error.message}`))
        .finally(() => this.loadingNewest.delete(conversationId));
      this.loadingNewest.set(conversationId, loading);
    }
    return this.loadingNewest.get(conversationId);
  }

  // Older pages until `seq` is loaded (or MAX_UNREAD_LOADED messages are: past that, the chat opens at the
  // oldest one loaded, and scrolling up loads the rest).
  async loadBackTo(conversationId, seq) {
    const thread = this.store.thread(conversationId);
    while (thread.hasOlder && (thread.oldestSeq ?? 0) > seq && thread.newestSeq - thread.oldestSeq < MAX_UNREAD_LOADED) {
      const before = thread.oldestSeq;
      await this.loadOlder(conversationId, Math.min(MAX_PAGE, thread.oldestSeq - seq + 10));
      if (thread.oldestSeq === before) return; // refused or failed: loadOlder said so
    }
  }

  async loadOlder(conversationId, limit = PAGE_SIZE) {
    const thread = this.store.thread(conversationId);
    if (!thread.hasOlder || thread.oldestSeq === null) return;
    try {
      const page = await api.messages(conversationId, { beforeSeq: thread.oldestSeq, limit });
      this.store.addHistory(conversationId, page, { older: page.length === limit && page[0]?.seq > 1 });
    } catch (error) {
      this.say(`Earlier messages could not be loaded: ${error.message}`);
    }
  }

  // Show the message a quote points at, loading older history until it is there.
  async jumpTo(conversationId, seq) {
    if (this.view.reveal(seq)) return;
    const thread = this.store.thread(conversationId);
    while (thread.hasOlder && (thread.oldestSeq ?? 0) > seq && conversationId === this.store.activeId) {
      const needed = Math.min(MAX_PAGE, thread.oldestSeq - seq + 10);
      await this.loadOlder(conversationId, needed);
      this.render();
    }
    if (!this.view.reveal(seq)) this.say("That message is no longer available.");
  }
}
