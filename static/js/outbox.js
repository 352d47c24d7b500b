// The outgoing queue: messages typed in this tab wait in the store's outbox ("Sending…") until the server
// acknowledges them, and are sent again after every reconnect. The client_id makes a resend harmless: the
// server answers with the message it already stored (docs/protocol.md, "No duplicates"). A worker at its limit
// answers `overloaded`: the entry stays "sending" and goes again later, with backoff and jitter ("Under overload").

import { newClientId } from "./format.js";

const OVERLOAD_FIRST_DELAY_S = 0.5; // when the server gives no hint
const OVERLOAD_MAX_DELAY_MS = 10_000;

export class Outbox {
  // `delivered(message)` takes the message the server stored, as any arriving message is taken.
  constructor({ store, connection, delivered }) {
    this.store = store;
    this.connection = connection;
    this.delivered = delivered;
    this.refusals = new Map(); // client_id -> how many times in a row the server answered `overloaded`
  }

  // Queue a new message (a reply when `replyTo` is a message id; in a thread when `threadRootId` is its first
  // message, shown in the conversation too with `alsoInRoom`) and send it if the socket is open.
  add({ conversationId, body, replyTo = null, threadRootId = null, alsoInRoom = false }) {
    const entry = {
      client_id: newClientId(),
      conversation_id: conversationId,
      body,
      reply_to: replyTo,
      thread_root_id: threadRootId,
      also_in_room: Boolean(threadRootId) && alsoInRoom,
      created_at: new Date().toISOString(),
    };
    this.store.queue(entry);
    this.send(entry);
  }

  // Send (or resend) an entry. Not connected: it stays "sending" until resendWaiting() after the next hello.
  async send(entry) {
    if (!this.connection.isOpen) return;
    const frame = { type: "message.send", conversation_id: entry.conversation_id, client_id: entry.client_id, body: entry.body };
    if (entry.reply_to) frame.reply_to = entry.reply_to;
    if (entry.thread_root_id) Object.assign(frame, { thread_root_id: entry.thread_root_id, also_in_room: entry.also_in_room });
    try {
      const reply = await this.connection.request(frame);
      this.refusals.delete(entry.client_id);
      this.delivered(reply.message);
    } catch (error) {
      if (error.code === "disconnected" || error.code === "timeout") return;
      if (error.code === "overloaded") {
        this.later(entry, error.retryAfter ?? OVERLOAD_FIRST_DELAY_S);
        return;
      }
      this.refusals.delete(entry.client_id);
      this.store.outboxFailed(entry.client_id, error.message);
    }
  }

  // The server was too busy to take it: not a failure. Send it again after the server's hint, doubled for each
  // refusal in a row (at most 10 s), times a random 0.5 to 1 so every refused tab does not come back at once.
  later(entry, retryAfterSeconds) {
    const refusals = (this.refusals.get(entry.client_id) ?? 0) + 1;
    this.refusals.set(entry.client_id, refusals);
    const delay = Math.min(retryAfterSeconds * 1000 * 2 ** (refusals - 1), OVERLOAD_MAX_DELAY_MS);
    setTimeout(() => {
      const waiting = this.store.outbox.get(entry.client_id);
      if (waiting && waiting.status === "sending") this.send(waiting); // still unacknowledged, not discarded
    }, delay * (0.5 + Math.random() / 2));
  }

  // Every entry still "sending": after a (re)connect's catch-up, so replies land after the history they follow.
  resendWaiting() {
    for (const entry of this.store.outbox.values()) if (entry.status === "sending") this.send(entry);
  }

  // "Retry" on a refused message: the same client_id again.
  retry(clientId) {
    const entry = this.store.outbox.get(clientId);
    if (!entry) return;
    this.store.outboxRetrying(clientId);
    this.send(entry);
  }

  // "Discard" on a refused message.
  discard(clientId) {
    this.store.outboxDiscard(clientId);
  }
}
