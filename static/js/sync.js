// Catching up with the server (docs/client.md, "Staying in sync"): after every (re)connect the tab asks `sync`
// for what it missed, and a live message that skips seqs has the missing ones fetched without a reconnect.

const MAX_ROUNDS = 50;
// A live message that skips seqs: the ones between were dropped on the way (a full channel-layer queue) or
// are still coming (another sender's frame overtaken). Wait a moment, then fetch only what is still missing,
// once for all such conversations, rather than a sync per frame that would add load when there is least.
const GAP_WAIT_MS = 1500;

export class Sync {
  // `receive(message, { live })` takes each message the server sends back, as any arriving message is taken.
  constructor({ store, connection, receive }) {
    this.store = store;
    this.connection = connection;
    this.receive = receive;
    this.gaps = new Map(); // conversation id -> the first seq missing
    this.gapTimer = null;
  }

  // `sync` from a seq per conversation (by default the last this tab has of each); repeat while the server
  // says a conversation has more, from the last message it sent. Every conversation is named each time: one the
  // tab leaves out, the server sends from its start. Rejects when the socket drops meanwhile.
  async catchUp(since = this.store.syncPoint()) {
    for (let round = 0; round < MAX_ROUNDS; round++) {
      const reply = await this.connection.request({ type: "sync", since });
      const more = {};
      for (const entry of reply.conversations) {
        for (const message of entry.messages) this.receive(message, { live: false });
        if (entry.has_more && entry.messages.length) more[String(entry.conversation_id)] = entry.messages.at(-1).seq;
      }
      if (!Object.keys(more).length) return;
      since = { ...this.store.syncPoint(), ...more };
    }
  }

  // A live message, before the store takes it: does it skip seqs past the last one this tab knows?
  noteGap(message) {
    const lastSeq = this.store.conversations.get(message.conversation_id)?.last_seq || 0;
    if (lastSeq === 0 || message.seq <= lastSeq + 1) return;
    this.gaps.set(message.conversation_id, Math.min(this.gaps.get(message.conversation_id) ?? Infinity, lastSeq + 1));
    this.gapTimer ??= setTimeout(() => this.fillGaps(), GAP_WAIT_MS);
  }

  async fillGaps() {
    this.gapTimer = null;
    const since = {};
    for (const [conversationId, first] of this.gaps) {
      const thread = this.store.thread(conversationId);
      const last = this.store.conversations.get(conversationId)?.last_seq || 0;
      let seq = first;
      while (seq <= last && thread.bySeq.has(seq)) seq += 1;
      if (seq <= last) since[String(conversationId)] = seq - 1;
    }
    this.gaps.clear();
    if (!Object.keys(since).length) return; // every missing frame arrived meanwhile
    try {
      await this.catchUp({ ...this.store.syncPoint(), ...since });
    } catch {
      // the socket dropped: the reconnect's own catch-up covers the gap
    }
  }
}
