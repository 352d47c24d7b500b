// The thread pane (docs/client.md, "Threads"): one thread beside the conversation, as Slack and Mattermost show
// it (over the conversation on a phone): its first message, its replies, and a message box of its own (the
// Composer, on the pane's elements) with "Also send to #room". The thread's state is the store's
// (`store.openThread`): the replies come once from GET …/threads/{id}, then live from the `message` frames the tab
// already receives. Messages are drawn by the chat's own builder, so they look and act the same in both places.

import { api } from "./api.js";
import { el } from "./dom.js";
import { Composer } from "./composer.js";
import { displayName } from "./format.js";
import { reconcileList } from "./render.js";

const NEAR_BOTTOM_PX = 80;

// What makes a drawn message stale (as in the chat's list): text, state, reactions, its sender's name and picture.
function versionOf(message) {
  return [
    message.html,
    message.deleted,
    message.edited_at,
    JSON.stringify(message.reactions),
    JSON.stringify(message.reply_to),
    displayName(message.sender),
    message.sender.avatar,
  ].join("|");
}

export class ThreadPane {
  // `view` is the ChatView (its buildMessage and buildPending draw the pane's messages). `handlers`:
  // send({conversationId, rootId, body, replyTo, alsoInRoom}), edit(message, text), react(message, emoji, add),
  // pickReaction(message, button), remove(message), retry(clientId), discard(clientId), jumpTo(conversationId,
  // seq), closed() (focus goes back to the conversation).
  constructor({ store, view, handlers }) {
    this.store = store;
    this.view = view;
    this.handlers = handlers;
    this.app = document.getElementById("app");
    this.root = document.getElementById("thread-pane");
    this.where = document.getElementById("thread-where");
    this.scroller = document.getElementById("thread-messages");
    this.list = document.getElementById("thread-list");
    this.form = document.getElementById("thread-composer");
    this.alsoInRoom = document.getElementById("thread-also-in-room");
    this.alsoLabel = document.getElementById("thread-also-label");
    this.opener = null;
    this.loadError = ""; // why the open thread's replies could not be fetched
    this.composer = new Composer(
      {
        submit: ({ text, mode, message }) => this.submit(text, mode, message),
        typing: () => {}, // the typing line is the conversation's: it would tell the room about a thread reply
        editLast: () => this.editLast(),
        // @-mentions complete as in the conversation's box (its members first); emoji through ":name".
        members: (query) => handlers.members(query),
        colleagues: (query) => handlers.colleagues(query),
      },
      {
        form: this.form,
        input: document.getElementById("thread-input"),
        context: document.getElementById("thread-composer-context"),
        completions: document.getElementById("thread-completions"),
        emojiButton: null,
      },
    );
    this.list.addEventListener("click", (event) => this.onClick(event));
    document.getElementById("thread-close").addEventListener("click", () => this.close());
    // Escape closes the pane; the box's own Escape (cancel a reply or an edit) and the reaction picker's come first.
    this.root.addEventListener("keydown", (event) => {
      if (event.key !== "Escape" || event.defaultPrevented) return;
      event.preventDefault();
      event.stopPropagation();
      this.close();
    });
  }

  get isOpen() {
    return this.store.openThread !== null;
  }

  get conversationId() {
    return this.store.openThread?.conversationId ?? null;
  }

  // Open the thread whose first message is `rootId`, load its replies, and put the cursor in its box.
  async open(conversationId, rootId) {
    if (!this.root.contains(document.activeElement)) this.opener = document.activeElement;
    this.store.showThread(conversationId, rootId);
    this.loadError = "";
    this.root.hidden = false;
    this.app.classList.add("show-thread");
    this.composer.switchTo(`thread-${rootId}`, "Reply in the thread");
    this.render({ initial: true });
    this.composer.focus();
    try {
      this.store.setThread(conversationId, await api.thread(conversationId, rootId));
    } catch (error) {
      if (this.store.openThread?.rootId !== rootId) return;
      this.loadError = `The replies could not be loaded: ${error.message}`;
      this.render();
    }
  }

  close() {
    if (!this.isOpen && this.root.hidden) return;
    this.composer.switchTo(null, "Reply in the thread"); // keeps the draft for when the thread opens again
    this.store.closeThread();
    this.hide();
    if (this.opener?.isConnected && !this.opener.closest("[hidden]")) this.opener.focus({ preventScroll: true });
    else this.handlers.closed();
    this.opener = null;
  }

  hide() {
    this.root.hidden = true;
    this.app.classList.remove("show-thread");
  }

  // ---- drawing: the first message, a line with the count, the replies, then the replies still on their way

  render({ initial = false } = {}) {
    const open = this.store.openThread;
    if (!open) {
      this.hide(); // the conversation was left or forgotten
      return;
    }
    const conversation = this.store.conversations.get(open.conversationId);
    const place = conversation?.kind === "room" ? `#${this.store.titleOf(conversation)}` : "";
    this.where.textContent = place || `with ${this.store.titleOf(conversation)}`;
    this.alsoLabel.textContent = place ? `Also send to ${place}` : "Also send to the conversation";
    this.form.hidden = Boolean(conversation?.is_archived);

    const wasAtBottom = initial || this.isAtBottom();
    const root = this.store.threadRoot();
    const replies = this.store.threadReplies();
    const items = [];
    if (root) {
      items.push({ key: `m-${root.seq}`, version: versionOf(root), build: () => this.view.buildMessage(root, { continued: false, inThread: true }) });
    }
    const count = replies.length;
    let countText = count ? `${count} ${count === 1 ? "reply" : "replies"}` : "No replies yet";
    if (!open.loaded) countText = this.loadError || "Loading replies…";
    items.push({
      key: "count",
      version: countText,
      build: () => el("li", { class: "thread-count-line" }, el("span", {}, countText)),
    });
    for (const reply of replies) {
      items.push({ key: `m-${reply.seq}`, version: versionOf(reply), build: () => this.view.buildMessage(reply, { continued: false, inThread: true }) });
    }
    for (const entry of this.store.outboxFor(open.conversationId)) {
      if (entry.thread_root_id !== open.rootId) continue;
      items.push({ key: `p-${entry.client_id}`, version: `${entry.status}|${entry.error}`, build: () => this.view.buildPending(entry) });
    }
    reconcileList(this.list, items);
    if (wasAtBottom) this.scrollToBottom();
  }

  isAtBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }

  // ---- the box and the messages' buttons

  submit(text, mode, message) {
    const open = this.store.openThread;
    if (!open) return false;
    if (mode === "edit") {
      this.handlers.edit(message, text);
      return true;
    }
    this.handlers.send({
      conversationId: open.conversationId,
      rootId: open.rootId,
      body: text,
      replyTo: mode === "reply" ? message.id : null,
      alsoInRoom: this.alsoInRoom.checked,
    });
    this.alsoInRoom.checked = false; // as in Slack: each reply is asked about on its own
    this.scrollToBottom();
    return true;
  }

  // Up in the empty box: edit your last reply in this thread.
  editLast() {
    const mine = this.store
      .threadReplies()
      .reverse()
      .find((message) => message.sender.id === this.store.me.id && !message.deleted);
    if (!mine) return false;
    this.composer.startEdit(mine);
    return true;
  }

  messageAt(seq) {
    const root = this.store.threadRoot();
    if (root?.seq === seq) return root;
    return this.store.openThread?.replies.get(seq) || null;
  }

  onClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button) return;
    const action = button.dataset.action;
    const item = button.closest("li");
    if (action === "retry" || action === "discard") {
      this.handlers[action](item.dataset.clientId);
      return;
    }
    const message = this.messageAt(Number(item.dataset.seq));
    if (!message) return;
    if (action === "toggle-reaction") {
      const reaction = message.reactions.find((entry) => entry.emoji === button.dataset.emoji);
      this.handlers.react(message, button.dataset.emoji, !reaction?.user_ids.includes(this.store.me.id));
    } else if (action === "react") this.handlers.pickReaction(message, button);
    else if (action === "reply") this.composer.startReply(message);
    else if (action === "edit") this.composer.startEdit(message);
    else if (action === "delete") this.handlers.remove(message);
    else if (action === "jump") this.jump(Number(button.dataset.seq));
  }

  // A quote: the quoted message in the thread if it is here, else in the conversation.
  jump(seq) {
    const node = this.list.querySelector(`li[data-seq="${seq}"]`);
    if (!node) {
      this.handlers.jumpTo(this.conversationId, seq);
      return;
    }
    node.scrollIntoView({ block: "center" });
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
  }

  // A message disappeared (deleted): the box forgets a reply to it or an edit of it.
  messageGone(messageId) {
    this.composer.messageGone(messageId);
  }
}
