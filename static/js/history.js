// A conversation's history over HTTP (`GET /api/v1/conversations/{id}/messages`): the newest page when it is
// first opened, older pages as the user scrolls up, and as many as it takes to reach a quoted or found message.

import { api } from "./api.js";

const PAGE_SIZE = 50;
const MAX_PAGE = 200; // messenger.selectors.HISTORY_PAGE_MAX

export class MessageHistory {
  // `say(text)` tells the user; `render()` puts the store's pending changes on the page at once.
  constructor({ store, view, say, render }) {
    this.store = store;
    this.view = view;
    this.say = say;
    this.render = render;
    this.loadingNewest = new Map(); // conversation id -> the request on its way
  }

  // The newest page of a conversation; one request per conversation while it is on its way.
  loadNewest(conversationId) {
    if (!this.loadingNewest.has(conversationId)) {
      const loading = api
        .messages(conversationId, { limit: PAGE_SIZE })
        .then((page) => this.store.addHistory(conversationId, page, { older: page.length === PAGE_SIZE }))
        .catch((error) => this.say(`Messages could not be loaded: ${error.message}`))
        .finally(() => this.loadingNewest.delete(conversationId));
      this.loadingNewest.set(conversationId, loading);
    }
    return this.loadingNewest.get(conversationId);
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
