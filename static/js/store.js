// What the tab knows: conversations, the messages loaded for each, read markers, typing, presence, and the
// messages still on their way out. Plain data and rules, no DOM and no network; the DOM code listens.
//
// Messages are kept by (conversation_id, seq), the protocol's identity: a message that arrives twice (once
// live, once in a sync.result or a history page) is stored once. Every change dispatches a "change" event
// whose detail says what changed: {what: "conversations" | "messages" | "typing" | "reads" | "presence" |
// "active" | "me" | "contacts" | "people" | "profile" | "thread", conversationId}.
//
// A reply in a thread (docs/protocol.md, "Threads") is a message of its conversation like any other (its seq,
// synced, counted unread); the conversation's timeline shows it only with `also_in_room`. The thread open in the
// side pane is kept apart (`openThread`), since its replies may reach far back past the loaded history.

import { displayName, mentionsUser } from "./format.js";

const TYPING_SHOWN_MS = 5_000;

// Whether a message (or an outbox entry) shows in its conversation's timeline: a thread reply only when it was
// also sent to the room.
export function isInTimeline(message) {
  return !message.thread_root_id || Boolean(message.also_in_room);
}

function isOlderVersion(candidate, known) {
  if (known.deleted && !candidate.deleted) return true;
  return (candidate.edited_at || "") < (known.edited_at || "");
}

class Thread {
  constructor() {
    this.bySeq = new Map(); // seq -> message
    this.seqById = new Map(); // message id -> seq
    this.hasOlder = true; // whether history before the oldest loaded message may exist
    this.loaded = false; // the newest page was fetched at least once
  }

  get oldestSeq() {
    let oldest = null;
    for (const seq of this.bySeq.keys()) if (oldest === null || seq < oldest) oldest = seq;
    return oldest;
  }

  get newestSeq() {
    let newest = 0;
    for (const seq of this.bySeq.keys()) if (seq > newest) newest = seq;
    return newest;
  }

  ordered() {
    return [...this.bySeq.values()].sort((a, b) => a.seq - b.seq);
  }

  byId(id) {
    const seq = this.seqById.get(id);
    return seq === undefined ? null : this.bySeq.get(seq);
  }

  // Keep the newest version of a message: a copy that was on its way before an edit or delete (a live frame
  // queued behind a sync.result, a history page in flight) must not bring the old text back.
  put(message) {
    const known = this.bySeq.get(message.seq);
    if (known && isOlderVersion(message, known)) return;
    this.bySeq.set(message.seq, message);
    this.seqById.set(message.id, message.seq);
  }

  drop(id) {
    const seq = this.seqById.get(id);
    if (seq === undefined) return;
    this.seqById.delete(id);
    this.bySeq.delete(seq);
  }
}

export class Store extends EventTarget {
  constructor(me) {
    super();
    this.me = me; // {id, username, display_name}
    this.conversations = new Map(); // id -> conversation payload (+ unread, unread_mentions, last_read_seq)
    this.threads = new Map(); // id -> Thread
    this.reads = new Map(); // conversation id -> Map(user id -> seq)
    this.typing = new Map(); // conversation id -> Map(user id -> {user, until})
    this.presence = new Map(); // user id -> {state, version, status_message, last_seen}
    this.contactGroups = []; // the buddy list: [{name, contacts: [person]}], in the user's order
    this.people = new Map(); // user id -> profile (title, department, phone, …) from the buddy list or a card
    this.outbox = new Map(); // client_id -> {client_id, conversation_id, body, reply_to, thread_root_id, also_in_room, created_at, status, error}
    this.activeId = null;
    this.openThread = null; // the thread in the side pane: {conversationId, rootId, root, replies: Map(seq -> message), loaded}
  }

  changed(what, conversationId = null) {
    this.dispatchEvent(new CustomEvent("change", { detail: { what, conversationId } }));
  }

  // ---- conversations --------------------------------------------------------------------------------------

  setConversations(list) {
    const seen = new Set();
    for (const conversation of list) {
      seen.add(conversation.id);
      this.mergeConversation(conversation);
    }
    for (const id of [...this.conversations.keys()]) {
      if (!seen.has(id)) this.forget(id);
    }
    this.changed("conversations");
  }

  upsertConversation(conversation) {
    this.mergeConversation(conversation);
    this.changed("conversations", conversation.id);
  }

  mergeConversation(incoming) {
    const known = this.conversations.get(incoming.id) || {
      unread: 0,
      unread_mentions: 0,
      last_read_seq: 0,
      is_muted: false,
      last_message: null,
    };
    const merged = { ...known, ...incoming };
    if (!incoming.members && known.members) merged.members = known.members;
    // Never move backwards: a list fetched before a live message must not hide it again.
    merged.last_seq = Math.max(known.last_seq || 0, incoming.last_seq || 0);
    merged.last_read_seq = Math.max(known.last_read_seq || 0, incoming.last_read_seq || 0);
    merged.unread = Math.max(0, merged.last_seq - merged.last_read_seq);
    if (merged.unread === 0) merged.unread_mentions = 0;
    this.conversations.set(incoming.id, merged);
    for (const member of incoming.members || []) {
      if (member.last_read_seq !== undefined) this.noteRead(incoming.id, member.id ?? member.user_id, member.last_read_seq);
    }
    if (incoming.last_read_seq !== undefined) this.noteRead(incoming.id, this.me.id, incoming.last_read_seq);
  }

  removeConversation(id) {
    this.forget(id);
    this.changed("conversations", id);
  }

  forget(id) {
    this.conversations.delete(id);
    this.threads.delete(id);
    this.reads.delete(id);
    this.typing.delete(id);
    if (this.activeId === id) this.activeId = null;
    if (this.openThread?.conversationId === id) this.openThread = null;
  }

  memberLeft(conversationId, user) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation?.members) return;
    conversation.members = conversation.members.filter((member) => member.id !== user.id);
    this.reads.get(conversationId)?.delete(user.id);
    this.changed("conversations", conversationId);
  }

  // The name a person sees for a conversation: the room's name, or the other person in a direct chat.
  titleOf(conversation) {
    if (!conversation) return "";
    if (conversation.kind === "room") return conversation.name || "Untitled room";
    const other = this.otherMember(conversation);
    if (other) return displayName(other);
    return conversation.members?.length === 1 ? `${displayName(this.me)} (you)` : "Direct chat";
  }

  otherMember(conversation) {
    return (conversation?.members || []).find((member) => member.id !== this.me.id) || null;
  }

  sortedConversations(kind) {
    return [...this.conversations.values()]
      .filter((conversation) => conversation.kind === kind)
      .sort((a, b) => {
        const byActivity = (b.last_message?.created_at || "").localeCompare(a.last_message?.created_at || "");
        return byActivity || b.last_seq - a.last_seq || this.titleOf(a).localeCompare(this.titleOf(b));
      });
  }

  setActive(id) {
    this.activeId = id;
    this.changed("active", id);
  }

  get active() {
    return this.activeId === null ? null : this.conversations.get(this.activeId) || null;
  }

  // Unread in conversations that are not muted, plus mentions anywhere: the number for the tab title.
  totalUnread() {
    let total = 0;
    for (const conversation of this.conversations.values()) {
      total += conversation.is_muted ? conversation.unread_mentions : conversation.unread;
    }
    return total;
  }

  // ---- messages -------------------------------------------------------------------------------------------

  thread(conversationId) {
    let thread = this.threads.get(conversationId);
    if (!thread) {
      thread = new Thread();
      this.threads.set(conversationId, thread);
    }
    return thread;
  }

  // The last seq this tab has for each conversation, for `sync` after a (re)connect.
  syncPoint() {
    const since = {};
    for (const [id, conversation] of this.conversations) {
      const thread = this.threads.get(id);
      since[String(id)] = Math.max(thread?.newestSeq || 0, thread?.loaded ? 0 : conversation.last_seq || 0);
    }
    return since;
  }

  // Store a page of history (oldest first). `older` says whether even older messages may exist.
  addHistory(conversationId, messages, { older }) {
    const thread = this.thread(conversationId);
    for (const message of messages) thread.put(message);
    thread.hasOlder = older;
    thread.loaded = true;
    this.noteLastMessage(conversationId, messages[messages.length - 1]);
    this.changed("messages", conversationId);
  }

  // A message that arrived live or through sync. Returns true when it is news to this tab: newer than the
  // conversation's last seq as this tab knew it (older ones are already in the server's unread counts).
  addMessage(message) {
    const conversation = this.conversations.get(message.conversation_id);
    const thread = this.thread(message.conversation_id);
    const isFirstCopy = !thread.bySeq.has(message.seq);
    const isNew = isFirstCopy && message.seq > (conversation?.last_seq || 0);
    thread.put(message);
    if (message.thread_root_id) this.noteThreadReply(message, { isFirstCopy });
    if (message.sender.id === this.me.id) this.outbox.delete(message.client_id);
    if (this.typing.get(message.conversation_id)?.delete(message.sender.id)) this.changed("typing", message.conversation_id);
    if (conversation && isNew) this.countIncoming(conversation, message);
    this.noteLastMessage(message.conversation_id, message);
    this.changed("messages", message.conversation_id);
    return isNew;
  }

  countIncoming(conversation, message) {
    conversation.last_seq = Math.max(conversation.last_seq || 0, message.seq);
    if (message.sender.id === this.me.id) {
      // The server marks what you send as read by you.
      conversation.last_read_seq = Math.max(conversation.last_read_seq, message.seq);
    } else if (message.seq > conversation.last_read_seq && !message.deleted) {
      if (mentionsUser(message.body, this.me.username, { isRoom: conversation.kind === "room" })) conversation.unread_mentions += 1;
    }
    conversation.unread = Math.max(0, conversation.last_seq - conversation.last_read_seq);
    this.changed("conversations", conversation.id);
  }

  noteLastMessage(conversationId, message) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation || !message) return;
    if (!conversation.last_message || conversation.last_message.seq <= message.seq) {
      conversation.last_message = message;
      this.changed("conversations", conversationId);
    }
  }

  // An edit or delete: replace the stored copy and refresh quotes of it.
  updateMessage(message) {
    const thread = this.thread(message.conversation_id);
    if (thread.bySeq.has(message.seq)) thread.put(message); // one not loaded here comes with its page later
    for (const other of thread.bySeq.values()) {
      if (other.reply_to?.id === message.id) {
        other.reply_to = {
          ...other.reply_to,
          excerpt: message.deleted ? null : (message.body || "").slice(0, 140),
          deleted: message.deleted,
        };
      }
    }
    const conversation = this.conversations.get(message.conversation_id);
    if (conversation?.last_message?.id === message.id) conversation.last_message = message;
    this.updateInOpenThread(message.id, () => message);
    this.changed("messages", message.conversation_id);
    this.changed("conversations", message.conversation_id);
  }

  // Retention removed messages for good: they leave the screen and never come back with a sync.
  dropMessages(conversationId, messageIds) {
    const thread = this.threads.get(conversationId);
    const gone = new Set(messageIds);
    if (thread) for (const id of gone) thread.drop(id);
    const open = this.openThread;
    if (open?.conversationId === conversationId) {
      for (const [seq, reply] of open.replies) if (gone.has(reply.id)) open.replies.delete(seq);
      this.changed("thread", conversationId);
    }
    const conversation = this.conversations.get(conversationId);
    if (gone.has(conversation?.last_message?.id)) conversation.last_message = null;
    this.changed("messages", conversationId);
    this.changed("conversations", conversationId);
  }

  setReactions(conversationId, messageId, reactions) {
    this.updateInOpenThread(messageId, (known) => ({ ...known, reactions }));
    const message = this.threads.get(conversationId)?.byId(messageId);
    if (!message) return;
    message.reactions = reactions;
    this.changed("messages", conversationId);
  }

  // ---- threads: reply counts on their first messages, and the thread open in the side pane -----------------

  // A reply arrived live or through sync. Its first message, when this tab holds it, counts it once per seq (a
  // second copy of a reply is not a new reply; history pages count nothing), and only when the server had not
  // counted it yet in the copy of the first message the tab holds: one that came in the same sync.result, after
  // a reconnect, already does. The server stamps a message's time while it holds the conversation's seq lock,
  // so times grow with seq and "counted" is "not later than its last_reply_at" (same ISO format: as strings).
  // The open thread shows the reply.
  noteThreadReply(reply, { isFirstCopy }) {
    const root = isFirstCopy ? this.messageById(reply.conversation_id, reply.thread_root_id) : null;
    const countedUpTo = root?.thread?.last_reply_at;
    if (root && !(countedUpTo && reply.created_at <= countedUpTo)) {
      root.thread = { reply_count: (root.thread?.reply_count || 0) + 1, last_reply_at: reply.created_at };
    }
    const open = this.openThread;
    if (open?.rootId === reply.thread_root_id && open.conversationId === reply.conversation_id) {
      const known = open.replies.get(reply.seq);
      if (!known || !isOlderVersion(reply, known)) open.replies.set(reply.seq, reply);
      this.changed("thread", reply.conversation_id);
    }
  }

  // Open a thread in the side pane; its replies come with setThread.
  showThread(conversationId, rootId) {
    if (this.openThread?.rootId === rootId) return;
    // Replies already loaded with the conversation show at once; the rest come with setThread.
    const replies = new Map();
    for (const message of this.threads.get(conversationId)?.bySeq.values() || []) {
      if (message.thread_root_id === rootId) replies.set(message.seq, message);
    }
    this.openThread = { conversationId, rootId, root: this.messageById(conversationId, rootId), replies, loaded: false };
    this.changed("thread", conversationId);
  }

  closeThread() {
    const open = this.openThread;
    if (!open) return;
    this.openThread = null;
    this.changed("thread", open.conversationId);
  }

  // The thread as the server gave it (GET …/threads/{id}): replies that came live meanwhile are kept once.
  setThread(conversationId, { root, replies }) {
    const open = this.openThread;
    if (open?.conversationId !== conversationId || open.rootId !== root.id) return;
    if (!open.root || !isOlderVersion(root, open.root)) open.root = this.messageById(conversationId, root.id) || root;
    for (const reply of replies) {
      const known = open.replies.get(reply.seq);
      if (!known || !isOlderVersion(reply, known)) open.replies.set(reply.seq, reply);
    }
    open.loaded = true;
    this.changed("thread", conversationId);
  }

  // The open thread's first message: the conversation's own copy when loaded (it carries the live count).
  threadRoot() {
    const open = this.openThread;
    if (!open) return null;
    return this.messageById(open.conversationId, open.rootId) || open.root;
  }

  threadReplies() {
    return this.openThread ? [...this.openThread.replies.values()].sort((a, b) => a.seq - b.seq) : [];
  }

  // An edit, delete or new reactions for a message of the open thread.
  updateInOpenThread(messageId, update) {
    const open = this.openThread;
    if (!open) return;
    let touched = false;
    if (open.root?.id === messageId) {
      open.root = update(open.root);
      touched = true;
    }
    for (const [seq, reply] of open.replies) {
      if (reply.id !== messageId) continue;
      open.replies.set(seq, update(reply));
      touched = true;
    }
    if (touched) this.changed("thread", open.conversationId);
  }

  messageById(conversationId, messageId) {
    return this.threads.get(conversationId)?.byId(messageId) || null;
  }

  // ---- the outbox: messages typed here and not yet acknowledged --------------------------------------------

  queue(entry) {
    this.outbox.set(entry.client_id, { ...entry, status: "sending", error: "" });
    this.changed("messages", entry.conversation_id);
  }

  outboxFor(conversationId) {
    return [...this.outbox.values()].filter((entry) => entry.conversation_id === conversationId);
  }

  outboxFailed(clientId, error) {
    const entry = this.outbox.get(clientId);
    if (!entry) return;
    entry.status = "failed";
    entry.error = error;
    this.changed("messages", entry.conversation_id);
  }

  outboxRetrying(clientId) {
    const entry = this.outbox.get(clientId);
    if (!entry) return;
    entry.status = "sending";
    entry.error = "";
    this.changed("messages", entry.conversation_id);
  }

  outboxDiscard(clientId) {
    const entry = this.outbox.get(clientId);
    if (!entry) return;
    this.outbox.delete(clientId);
    this.changed("messages", entry.conversation_id);
  }

  // ---- reading ---------------------------------------------------------------------------------------------

  noteRead(conversationId, userId, seq) {
    let markers = this.reads.get(conversationId);
    if (!markers) {
      markers = new Map();
      this.reads.set(conversationId, markers);
    }
    if ((markers.get(userId) || 0) >= seq) return;
    markers.set(userId, seq);
    if (userId === this.me.id) this.markedRead(conversationId, seq);
    this.changed("reads", conversationId);
  }

  markedRead(conversationId, seq) {
    const conversation = this.conversations.get(conversationId);
    if (!conversation || seq < conversation.last_read_seq) return;
    conversation.last_read_seq = seq;
    conversation.unread = Math.max(0, (conversation.last_seq || 0) - seq);
    if (conversation.unread === 0) conversation.unread_mentions = 0;
    this.changed("conversations", conversationId);
  }

  // Other members whose read marker reached `seq`, for "seen by".
  readersOf(conversationId, seq, { except = [] } = {}) {
    const conversation = this.conversations.get(conversationId);
    const markers = this.reads.get(conversationId);
    if (!markers) return [];
    const readers = [];
    for (const [userId, readSeq] of markers) {
      if (readSeq < seq || userId === this.me.id || except.includes(userId)) continue;
      const member = conversation?.members?.find((person) => person.id === userId);
      readers.push(member || { id: userId, username: `user ${userId}` });
    }
    return readers;
  }

  // ---- typing and presence ---------------------------------------------------------------------------------

  noteTyping(conversationId, user) {
    if (user.id === this.me.id) return;
    let typists = this.typing.get(conversationId);
    if (!typists) {
      typists = new Map();
      this.typing.set(conversationId, typists);
    }
    typists.set(user.id, { user, until: Date.now() + TYPING_SHOWN_MS });
    this.changed("typing", conversationId);
  }

  typists(conversationId, now = Date.now()) {
    const typists = this.typing.get(conversationId);
    if (!typists) return [];
    for (const [userId, entry] of typists) if (entry.until <= now) typists.delete(userId);
    return [...typists.values()].map((entry) => entry.user);
  }

  // Drop expired typing notes; returns whether any conversation's typists changed.
  expireTyping(now = Date.now()) {
    let expired = false;
    for (const [conversationId, typists] of this.typing) {
      for (const [userId, entry] of typists) {
        if (entry.until <= now) {
          typists.delete(userId);
          expired = true;
          this.changed("typing", conversationId);
        }
      }
    }
    return expired;
  }

  setPresence(entry) {
    const known = this.presence.get(entry.user_id);
    if (known && entry.version !== undefined && known.version !== undefined && entry.version < known.version) return;
    this.presence.set(entry.user_id, { ...known, ...entry });
    this.changed("presence", entry.user_id);
  }

  presenceOf(userId) {
    return this.presence.get(userId) || null;
  }

  // ---- people: the user's own profile, the buddy list, profile cards ---------------------------------------

  setMe(profile) {
    Object.assign(this.me, profile);
    this.changed("me");
  }

  setContactGroups(groups) {
    this.contactGroups = groups.map((group) => ({ name: group.name, contacts: group.contacts || [] }));
    for (const group of this.contactGroups) for (const person of group.contacts) this.mergePerson(person);
    this.changed("contacts");
  }

  // The group someone is in on the buddy list, or null.
  contactGroupOf(userId) {
    return this.contactGroups.find((group) => group.contacts.some((person) => person.id === userId))?.name ?? null;
  }

  // Someone changed their profile (a user.updated frame): every copy of them this tab holds takes it, in the
  // buddy list, conversation members and message senders, so names and pictures change everywhere at once.
  updatePerson(person) {
    const { id, display_name, avatar } = person;
    const update = (copy) => {
      if (copy?.id === id) Object.assign(copy, { display_name, avatar });
    };
    if (id === this.me.id) Object.assign(this.me, person);
    else if (this.people.has(id)) this.mergePerson(person);
    for (const group of this.contactGroups) {
      for (const contact of group.contacts) if (contact.id === id) Object.assign(contact, person);
    }
    for (const conversation of this.conversations.values()) conversation.members?.forEach(update);
    for (const thread of this.threads.values()) for (const message of thread.bySeq.values()) update(message.sender);
    const presence = this.presence.get(id);
    if (presence) presence.status_message = person.status_message;
    this.changed("profile", id);
  }

  rememberPerson(person) {
    this.mergePerson(person);
    this.changed("people");
  }

  mergePerson(person) {
    this.people.set(person.id, { ...this.people.get(person.id), ...person });
  }

  // What the tab knows about someone: a profile if one was fetched, else a member of some conversation.
  personOf(userId) {
    if (userId === this.me.id) return this.me;
    const known = this.people.get(userId);
    if (known) return known;
    for (const conversation of this.conversations.values()) {
      const member = conversation.members?.find((person) => person.id === userId);
      if (member) return member;
    }
    return null;
  }

  // The status message as live as it gets: presence frames carry changes, profiles the last one fetched.
  statusMessageOf(userId) {
    return this.presenceOf(userId)?.status_message ?? this.people.get(userId)?.status_message ?? "";
  }

  directWith(userId) {
    for (const conversation of this.conversations.values()) {
      if (conversation.kind === "direct" && this.otherMember(conversation)?.id === userId) return conversation;
    }
    return null;
  }
}
