// Everything the user sees of the state: the sidebar lists and buddy list, the chat header, the message list
// with its quotes, reactions and "seen by", the typing line. Reads the store, calls back into app.js for every
// action; never talks to the network itself.

import { clear, el, icon } from "./dom.js";
import {
  EVERYONE_MENTIONS,
  MENTION_PATTERN,
  PRESENCE_LABELS,
  dayKey,
  dayLabel,
  displayName,
  firstName,
  fullTimeOf,
  hueOf,
  initials,
  fileSize,
  lastSeenText,
  listOfNames,
  messageText,
  plainExcerpt,
  shortWhen,
  timeOf,
} from "./format.js";
import { isInTimeline } from "./store.js";

// Shown in the chat (the server serves exactly these inline, messenger/files.py); anything else is a download.
const PICTURE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);
const SOUND_TYPES = new Set(["audio/mpeg", "audio/ogg", "audio/wav", "audio/webm", "audio/aac", "audio/flac", "audio/mp4"]);

function buildAttachment(file) {
  if (PICTURE_TYPES.has(file.content_type)) {
    return el(
      "a",
      { class: "attachment picture", href: file.url, target: "_blank", rel: "noopener", title: `${file.name} (${fileSize(file.size)})` },
      el("img", { src: file.url, alt: file.name, loading: "lazy" }),
    );
  }
  if (SOUND_TYPES.has(file.content_type)) {
    return el(
      "div",
      { class: "attachment sound" },
      el("span", { class: "attachment-name" }, file.name),
      el("audio", { controls: true, preload: "metadata", src: file.url }),
    );
  }
  return el(
    "a",
    { class: "attachment file", href: file.url, download: file.name },
    icon("file"),
    el("span", { class: "attachment-name" }, file.name),
    el("span", { class: "attachment-size" }, fileSize(file.size)),
  );
}

export const QUICK_REACTIONS = ["👍", "❤️", "😂", "🎉", "😮", "😢", "🙏", "✅", "👀", "🚀"];
const GROUP_WITHIN_MS = 5 * 60_000;
const NEAR_BOTTOM_PX = 80;
const LOAD_OLDER_WITHIN_PX = 400;

// ---- people ---------------------------------------------------------------------------------------------------

export function avatar(user, { presence = null, size = "" } = {}) {
  const node = el("span", { class: `avatar ${size}`, "aria-hidden": "true" });
  fillAvatar(node, user);
  if (presence) node.append(el("span", { class: `presence-dot ${presence}` }));
  return node;
}

// Initials on the person's colour, and their picture over them when they have one.
export function fillAvatar(node, user) {
  clear(node);
  node.append(initials(user));
  node.style.setProperty("--hue", hueOf(user?.id ?? 0));
  if (user?.avatar) node.append(el("img", { src: user.avatar, alt: "", decoding: "async" }));
}

export function presenceState(store, userId) {
  return store.presenceOf(userId)?.state || "offline";
}

// "Available · In Berlin", "Last seen yesterday at 17:02": someone's presence in a list, a header or a card.
export function presenceText(store, userId) {
  const presence = store.presenceOf(userId);
  const state = presence?.state || "offline";
  const text = state === "offline" ? lastSeenText(presence?.last_seen) : PRESENCE_LABELS[state];
  const status = store.statusMessageOf(userId);
  return status ? `${text} · ${status}` : text;
}

// The sidebar's card for the signed-in user: picture, name, title and status message.
export function renderMe(store, { avatarNode, nameNode, detailNode }) {
  fillAvatar(avatarNode, store.me);
  nameNode.textContent = displayName(store.me);
  detailNode.textContent = [store.me.job_title, store.me.status_message].filter(Boolean).join(" · ");
  detailNode.hidden = !detailNode.textContent;
}

// ---- the sidebar ----------------------------------------------------------------------------------------------

function conversationPreview(store, conversation) {
  const message = conversation.last_message;
  if (!message) return conversation.kind === "room" ? conversation.topic || "" : "";
  if (message.deleted) return "Message deleted";
  const who = message.sender.id === store.me.id ? "You: " : conversation.kind === "room" ? `${firstName(message.sender)}: ` : "";
  return who + plainExcerpt(messageText(message), 80);
}

function conversationItem(store, conversation, { active, filter }) {
  const title = store.titleOf(conversation);
  const other = conversation.kind === "direct" ? store.otherMember(conversation) : null;
  const unread = conversation.unread || 0;
  const mentions = conversation.unread_mentions || 0;
  const badges = el("span", { class: "badges" });
  if (mentions) badges.append(el("span", { class: "badge mention", title: `${mentions} unread mention${mentions === 1 ? "" : "s"}` }, `@${mentions}`));
  if (unread) badges.append(el("span", { class: `badge${conversation.is_muted ? " muted" : ""}` }, unread > 99 ? "99+" : String(unread)));
  const label = [title, unread ? `${unread} unread` : "", mentions ? `${mentions} mentioning you` : "", conversation.is_muted ? "muted" : ""]
    .filter(Boolean)
    .join(", ");
  const link = el(
    "a",
    {
      class: `conversation-item${active ? " active" : ""}${unread ? " unread" : ""}${conversation.is_muted ? " is-muted" : ""}`,
      href: `#/c/${conversation.id}`,
      "aria-current": active ? "page" : null,
      "aria-label": label,
      dataset: { conversationId: conversation.id },
    },
    other
      ? avatar(other, { presence: presenceState(store, other.id), size: "small" })
      : el("span", { class: "room-glyph", "aria-hidden": "true" }, conversation.is_public ? "#" : icon("rooms")),
    el(
      "span",
      { class: "conversation-text" },
      el("span", { class: "conversation-name" }, title),
      el("span", { class: "conversation-preview" }, conversationPreview(store, conversation)),
    ),
    el(
      "span",
      { class: "conversation-side" },
      el("span", { class: "conversation-when" }, shortWhen(conversation.last_message?.created_at)),
      badges,
    ),
  );
  link.hidden = Boolean(filter) && !title.toLowerCase().includes(filter);
  return el("li", {}, link);
}

export function renderSidebar(store, { directList, roomList, filter = "" }) {
  const needle = filter.trim().toLowerCase();
  for (const [kind, list] of [
    ["direct", directList],
    ["room", roomList],
  ]) {
    const focused = list.contains(document.activeElement) ? document.activeElement.dataset.conversationId : null;
    const conversations = store.sortedConversations(kind);
    clear(list);
    for (const conversation of conversations) {
      list.append(conversationItem(store, conversation, { active: conversation.id === store.activeId, filter: needle }));
    }
    if (!conversations.length) {
      list.append(el("li", { class: "list-empty" }, kind === "direct" ? "No direct chats yet" : "No rooms yet"));
    }
    if (focused) list.querySelector(`[data-conversation-id="${CSS.escape(focused)}"]`)?.focus();
  }
}

// ---- the buddy list: the user's contact groups in order, each person with their presence ------------------------

export class BuddyList {
  constructor(store, { root, storageKey, handlers }) {
    this.store = store;
    this.root = root;
    this.handlers = handlers; // openDirect(person), showPerson(userId)
    this.storageKey = storageKey;
    this.collapsed = new Set(readJson(storageKey, [])); // group names, remembered per user in this browser
    this.filter = "";
    root.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-action]");
      if (!button || !root.contains(button)) return;
      const userId = Number(button.dataset.userId);
      if (button.dataset.action === "toggle-group") this.toggle(button.dataset.group);
      else if (button.dataset.action === "open-direct") this.handlers.openDirect(this.store.personOf(userId));
      else if (button.dataset.action === "show-person") this.handlers.showPerson(userId);
    });
  }

  toggle(name) {
    if (!this.collapsed.delete(name)) this.collapsed.add(name);
    try {
      localStorage.setItem(this.storageKey, JSON.stringify([...this.collapsed]));
    } catch {
      // storage full or off: the groups stay as they are for this page only
    }
    this.render();
  }

  // Rebuilt whole on every change: a buddy list is tens of people, and app.js batches renders per task.
  render(filter = this.filter) {
    this.filter = filter;
    const needle = filter.trim().toLowerCase();
    const focused = this.root.contains(document.activeElement) ? document.activeElement : null;
    const refocus = focused?.dataset.action ? focusSelector(focused) : null;
    clear(this.root);
    if (!this.store.contactGroups.length) {
      this.root.append(el("p", { class: "list-empty" }, "No contacts yet"));
      return;
    }
    for (const group of this.store.contactGroups) {
      const collapsed = this.collapsed.has(group.name);
      const online = group.contacts.filter((person) => presenceState(this.store, person.id) !== "offline").length;
      const list = el("ul", { class: "contact-list", hidden: collapsed });
      for (const person of group.contacts) list.append(this.item(this.store.personOf(person.id) || person, needle));
      if (!group.contacts.length) list.append(el("li", { class: "list-empty" }, "Nobody in this group"));
      this.root.append(
        el(
          "section",
          { class: "contact-group" },
          el(
            "h3",
            { class: "group-heading" },
            el(
              "button",
              { type: "button", class: "group-toggle", "aria-expanded": collapsed ? "false" : "true", dataset: { action: "toggle-group", group: group.name } },
              icon("chevron"),
              el("span", { class: "group-name" }, group.name),
              el("span", { class: "group-count", title: `${online} of ${group.contacts.length} online` }, `${online}/${group.contacts.length}`),
            ),
          ),
          list,
        ),
      );
    }
    if (refocus) this.root.querySelector(refocus)?.focus();
  }

  item(person, needle) {
    const state = presenceState(this.store, person.id);
    const name = displayName(person);
    const line = presenceText(this.store, person.id);
    const row = el(
      "li",
      { class: `contact-row ${state}`, dataset: { userId: person.id } },
      el(
        "button",
        { type: "button", class: "contact-item", title: `Chat with ${name}`, "aria-label": `${name}, ${line}`, dataset: { action: "open-direct", userId: person.id } },
        avatar(person, { presence: state, size: "small" }),
        el("span", { class: "contact-text" }, el("span", { class: "contact-name" }, name), el("span", { class: "contact-status" }, line)),
      ),
      el(
        "button",
        { type: "button", class: "ghost icon-button contact-more", title: "Profile, move or remove", "aria-label": `About ${name}`, dataset: { action: "show-person", userId: person.id } },
        icon("info"),
      ),
    );
    row.hidden = Boolean(needle) && !`${name} ${person.username}`.toLowerCase().includes(needle);
    return row;
  }
}

function focusSelector(element) {
  const { action, userId, group } = element.dataset;
  if (action === "toggle-group") return `[data-action="toggle-group"][data-group="${CSS.escape(group)}"]`;
  return `[data-action="${action}"][data-user-id="${CSS.escape(userId)}"]`;
}

function readJson(key, fallback) {
  try {
    return JSON.parse(localStorage.getItem(key)) ?? fallback;
  } catch {
    return fallback;
  }
}

// ---- mentions inside rendered message html -------------------------------------------------------------------

// Wrap "@name" in text nodes (not inside code or links) so mentions stand out; yours more than others. In a room
// "@here" and "@channel" are yours too; in a direct chat they are text.
function highlightMentions(root, myUsername, { isRoom }) {
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT, {
    acceptNode: (node) =>
      node.parentElement.closest("code, pre, a") || !node.nodeValue.includes("@")
        ? NodeFilter.FILTER_REJECT
        : NodeFilter.FILTER_ACCEPT,
  });
  const nodes = [];
  while (walker.nextNode()) nodes.push(walker.currentNode);
  for (const node of nodes) {
    const text = node.nodeValue;
    const parts = [];
    let last = 0;
    for (const match of text.matchAll(MENTION_PATTERN)) {
      const isEveryone = EVERYONE_MENTIONS.includes(match[1]);
      if (isEveryone && !isRoom) continue;
      parts.push(text.slice(last, match.index));
      const isMe = match[1] === myUsername || isEveryone;
      parts.push(el("span", { class: `mention${isMe ? " to-me" : ""}` }, match[0]));
      last = match.index + match[0].length;
    }
    if (!parts.length) continue;
    parts.push(text.slice(last));
    node.replaceWith(...parts.filter((part) => part !== ""));
  }
}

// Who replied in each thread among the loaded messages: first message id -> distinct senders, latest first.
function repliersByRoot(messages) {
  const repliers = new Map();
  for (const message of [...messages].reverse()) {
    if (!message.thread_root_id) continue;
    const people = repliers.get(message.thread_root_id) || [];
    if (!people.some((person) => person.id === message.sender.id)) people.push(message.sender);
    repliers.set(message.thread_root_id, people);
  }
  return repliers;
}

// ---- the chat pane --------------------------------------------------------------------------------------------

export class ChatView {
  constructor(store, handlers) {
    this.store = store;
    this.handlers = handlers;
    this.root = document.getElementById("conversation");
    this.empty = document.getElementById("empty-state");
    this.header = document.getElementById("chat-header");
    this.scroller = document.getElementById("messages");
    this.list = document.getElementById("message-list");
    this.historyState = document.getElementById("history-state");
    this.typingLine = document.getElementById("typing");
    this.jumpButton = document.getElementById("jump-latest");
    this.announcer = document.getElementById("announcer");
    this.conversationId = null;
    this.unreadFrom = null; // seq after which the "New messages" divider goes, fixed when a chat opens
    this.loadingOlder = false;
    this.missedBelow = 0;
    this.scrollQueued = false;

    this.scroller.addEventListener("scroll", () => {
      if (this.scrollQueued) return;
      this.scrollQueued = true;
      requestAnimationFrame(() => {
        this.scrollQueued = false;
        this.afterScroll();
      });
    });
    this.jumpButton.addEventListener("click", () => {
      this.scrollToBottom();
      this.handlers.focusComposer();
    });
    this.list.addEventListener("click", (event) => this.onListClick(event));
  }

  // ---- showing a conversation

  show(conversationId) {
    const conversation = this.store.conversations.get(conversationId);
    this.conversationId = conversation ? conversationId : null;
    this.empty.hidden = Boolean(conversation);
    this.root.hidden = !conversation;
    clear(this.list);
    this.missedBelow = 0;
    this.renderedNewest = 0;
    this.loadingOlder = false;
    if (!conversation) return;
    this.unreadFrom = conversation.unread ? conversation.last_read_seq : null;
    // Until its newest page arrives, a chat may hold only messages that came in live; when the page lands,
    // place the view as for a fresh open (at the unread divider or the bottom), not where those few left it.
    this.awaitingFirstPage = !this.store.thread(conversationId).loaded;
    this.renderHeader();
    this.render({ initial: true });
    this.renderTyping();
  }

  get conversation() {
    return this.conversationId === null ? null : this.store.conversations.get(this.conversationId);
  }

  renderHeader() {
    const conversation = this.conversation;
    if (!conversation) return;
    const title = this.store.titleOf(conversation);
    const other = conversation.kind === "direct" ? this.store.otherMember(conversation) : null;
    let subtitle = "";
    if (other) {
      subtitle = presenceText(this.store, other.id);
    } else if (conversation.kind === "room") {
      const count = conversation.member_count ?? conversation.members?.length;
      subtitle = [
        conversation.is_archived ? "Archived, read-only" : "",
        conversation.topic,
        count ? `${count} member${count === 1 ? "" : "s"}` : "",
        conversation.is_public ? "Public room" : "Private room",
      ]
        .filter(Boolean)
        .join(" · ");
    }
    const actions = el("div", { class: "chat-actions" });
    // An archived room is read-only: no composer, no invitations.
    const composer = document.getElementById("composer");
    const archivedNote = document.getElementById("archived-note");
    composer.hidden = Boolean(conversation.is_archived);
    archivedNote.hidden = !conversation.is_archived;
    if (other) {
      actions.append(
        el("button", { type: "button", class: "ghost", onclick: () => this.handlers.showPerson(other.id) }, icon("info"), el("span", { class: "label" }, "Profile")),
      );
    }
    const muted = Boolean(conversation.is_muted);
    actions.append(
      el(
        "button",
        { type: "button", class: "ghost", "aria-pressed": String(muted), title: muted ? "Notify me again" : "No notifications; mentions still count", onclick: () => this.handlers.mute(conversation.id, !muted) },
        icon("bell"),
        el("span", { class: "label" }, muted ? "Unmute" : "Mute"),
      ),
    );
    if (!conversation.is_archived && this.handlers.challenge) {
      actions.append(
        el("button", { type: "button", class: "ghost", title: "Challenge to a game", onclick: () => this.handlers.challenge(conversation.id) }, icon("game"), el("span", { class: "label" }, "Game")),
      );
    }
    if (conversation.kind === "room" && !conversation.is_archived) {
      actions.append(
        el("button", { type: "button", class: "ghost", onclick: () => this.handlers.invite(conversation.id) }, icon("personAdd"), el("span", { class: "label" }, "Invite")),
      );
      if (conversation.role === "owner" || conversation.role === "moderator") {
        actions.append(
          el("button", { type: "button", class: "ghost", onclick: () => this.handlers.roomSettings(conversation.id) }, icon("edit"), el("span", { class: "label" }, "Settings")),
        );
      }
    }
    if (conversation.kind === "room") {
      actions.append(
        el("button", { type: "button", class: "ghost", onclick: () => this.handlers.leave(conversation.id) }, icon("leave"), el("span", { class: "label" }, "Leave")),
      );
    }
    clear(this.header);
    this.header.append(
      el("button", { type: "button", class: "ghost back", "aria-label": "Back to conversations", onclick: () => this.handlers.back() }, icon("back")),
      other
        ? avatar(other, { presence: presenceState(this.store, other.id) })
        : el("span", { class: "room-glyph large", "aria-hidden": "true" }, conversation.is_public ? "#" : icon("rooms")),
      el(
        "div",
        { class: "chat-title" },
        el("h1", { id: "chat-title" }, title),
        el("p", { class: "chat-subtitle" }, subtitle),
      ),
      actions,
    );
    this.root.setAttribute("aria-labelledby", "chat-title");
  }

  renderTyping() {
    const conversation = this.conversation;
    if (!conversation) return;
    const typists = this.store.typists(conversation.id);
    clear(this.typingLine);
    if (!typists.length) return;
    const names = listOfNames(typists.map(firstName));
    this.typingLine.append(
      el("span", { class: "typing-dots", "aria-hidden": "true" }, el("span"), el("span"), el("span")),
      `${names} ${typists.length === 1 ? "is" : "are"} typing…`,
    );
  }

  // ---- the message list: keyed by seq, rebuilt per item only when the item changed

  items() {
    const conversation = this.conversation;
    const thread = this.store.thread(conversation.id);
    const all = thread.ordered();
    const messages = all.filter(isInTimeline); // a thread reply shows in its thread, here only if also sent here
    const repliers = repliersByRoot(all);
    const items = [];
    let previous = null;
    let dividerPlaced = false;
    for (const message of messages) {
      const day = dayKey(message.created_at);
      const newDay = !previous || dayKey(previous.created_at) !== day;
      if (newDay) items.push({ key: `day-${day}`, version: dayLabel(message.created_at), build: () => this.buildDay(message) });
      let unreadDivider = false;
      if (!dividerPlaced && this.unreadFrom !== null && message.seq > this.unreadFrom && message.sender.id !== this.store.me.id) {
        items.push({ key: "unread", version: "", build: () => el("li", { class: "unread-divider" }, el("span", {}, "New messages")) });
        dividerPlaced = true;
        unreadDivider = true;
      }
      const continued =
        !newDay &&
        !unreadDivider &&
        previous &&
        !previous.deleted &&
        previous.sender.id === message.sender.id &&
        new Date(message.created_at) - new Date(previous.created_at) < GROUP_WITHIN_MS &&
        !message.reply_to &&
        !message.thread_root_id;
      const version = [
        message.html,
        message.deleted,
        message.edited_at,
        continued,
        JSON.stringify(message.reactions),
        JSON.stringify(message.reply_to),
        displayName(message.sender),
        message.sender.avatar,
        JSON.stringify(message.thread),
        repliers.get(message.id)?.map((person) => person.id),
      ].join("|");
      const options = { continued, repliers: repliers.get(message.id) };
      items.push({ key: `m-${message.seq}`, version, build: () => this.buildMessage(message, options) });
      previous = message;
    }
    const seen = this.seenText(messages[messages.length - 1]);
    if (seen) items.push({ key: "seen", version: seen, build: () => el("li", { class: "seen-by", "aria-label": seen }, seen) });
    for (const entry of this.store.outboxFor(conversation.id).filter(isInTimeline)) {
      items.push({ key: `p-${entry.client_id}`, version: `${entry.status}|${entry.error}`, build: () => this.buildPending(entry) });
    }
    return items;
  }

  seenText(newest) {
    if (!newest) return "";
    const readers = this.store.readersOf(this.conversationId, newest.seq, { except: [newest.sender.id] });
    if (!readers.length) return "";
    const conversation = this.conversation;
    if (conversation.kind === "direct") return `Seen by ${firstName(readers[0])}`;
    const everyone = (conversation.members?.length || 0) - 1;
    if (everyone > 1 && readers.length >= everyone - (newest.sender.id === this.store.me.id ? 0 : 1)) return "Seen by everyone";
    return `Seen by ${listOfNames(readers.map(firstName))}`;
  }

  render({ initial = false } = {}) {
    const conversation = this.conversation;
    if (!conversation) return;
    const thread = this.store.thread(conversation.id);
    if (this.awaitingFirstPage && thread.loaded) {
      this.awaitingFirstPage = false;
      initial = true;
    }
    const wasAtBottom = initial || this.isAtBottom();
    const anchor = wasAtBottom ? null : this.scrollAnchor();
    const newest = thread.newestSeq;
    if (!initial && !wasAtBottom && newest > this.renderedNewest) {
      // new below the fold, as the timeline shows them: a thread reply not sent to the room is not among them
      this.missedBelow += thread.ordered().filter((message) => message.seq > this.renderedNewest && isInTimeline(message)).length;
    }
    this.renderedNewest = newest;

    this.reconcile(this.items());

    this.historyState.textContent = thread.hasOlder
      ? thread.loaded
        ? "Loading earlier messages…"
        : "Loading messages…"
      : conversation.kind === "room"
        ? `This is the start of ${this.store.titleOf(conversation)}.`
        : `This is the start of your conversation with ${this.store.titleOf(conversation)}.`;
    this.historyState.classList.toggle("start", !thread.hasOlder);

    if (initial) {
      const divider = this.list.querySelector(".unread-divider");
      if (divider) this.scroller.scrollTop = divider.offsetTop - this.scroller.clientHeight / 3;
      else this.scrollToBottom();
    } else if (wasAtBottom) {
      this.scrollToBottom();
    } else if (anchor) {
      const node = [...this.list.children].find((child) => child.dataset.key === anchor.key);
      if (node) this.scroller.scrollTop += node.getBoundingClientRect().top - anchor.top;
    }
    this.updateJumpButton();
    this.afterScroll();
  }

  // The first message in view and where it is, to keep it still while older messages are added above it.
  scrollAnchor() {
    const top = this.scroller.getBoundingClientRect().top;
    for (const node of this.list.children) {
      const rect = node.getBoundingClientRect();
      if (rect.bottom > top) return { key: node.dataset.key, top: rect.top };
    }
    return null;
  }

  reconcile(items) {
    reconcileList(this.list, items);
  }

  buildDay(message) {
    return el("li", { class: "day-divider" }, el("span", {}, dayLabel(message.created_at)));
  }

  // `inThread`: drawn in the thread pane (no thread summary, no "Reply in thread"); `repliers`: people who
  // replied in this message's thread, for its summary line.
  buildMessage(message, { continued, inThread = false, repliers = [] }) {
    const own = message.sender.id === this.store.me.id;
    const body = el("div", { class: "message-body" });
    if (message.deleted) {
      body.append(el("em", { class: "deleted-note" }, "This message was deleted."));
    } else {
      // Sanitized on the server (messenger/rendering.py): only p, br, strong, em, code, pre and safe links.
      body.innerHTML = message.html ?? "";
      const isRoom = this.store.conversations.get(message.conversation_id)?.kind === "room";
      highlightMentions(body, this.store.me.username, { isRoom });
    }
    const mentionsMe = !message.deleted && !own && Boolean(body.querySelector(".mention.to-me"));
    const time = el("time", { datetime: message.created_at, title: fullTimeOf(message.created_at) }, timeOf(message.created_at));
    const meta = el(
      "div",
      { class: "message-meta" },
      el("span", { class: "author" }, displayName(message.sender)),
      time,
      message.edited_at && !message.deleted ? el("span", { class: "edited", title: `Edited ${fullTimeOf(message.edited_at)}` }, "(edited)") : null,
    );
    const node = el(
      "li",
      {
        class: ["message", own && "own", continued && "continued", mentionsMe && "mentions-me", message.deleted && "deleted"].filter(Boolean).join(" "),
        id: inThread ? null : `message-${message.conversation_id}-${message.seq}`,
        tabindex: "-1",
        dataset: { seq: message.seq, id: message.id },
      },
      continued ? el("span", { class: "gutter-time", "aria-hidden": "true" }, timeOf(message.created_at)) : avatar(message.sender),
      el(
        "div",
        { class: "message-main" },
        continued ? el("span", { class: "visually-hidden" }, `${displayName(message.sender)}, ${timeOf(message.created_at)}`) : meta,
        message.thread_root_id && !inThread ? this.buildThreadLink(message) : null,
        message.reply_to ? this.buildQuote(message.reply_to) : null,
        body,
        message.attachment && !message.deleted ? buildAttachment(message.attachment) : null,
        continued && message.edited_at && !message.deleted ? el("span", { class: "edited" }, "(edited)") : null,
        this.buildReactions(message),
        inThread ? null : this.buildThreadSummary(message, repliers),
      ),
    );
    if (!message.deleted) node.append(this.buildActions(message, own, { inThread }));
    return node;
  }

  // Under a thread's first message: "2 replies · last reply 14:02" with the repliers' pictures; opens the thread.
  buildThreadSummary(message, repliers) {
    const count = message.thread?.reply_count;
    if (!count) return null;
    const last = message.thread.last_reply_at;
    return el(
      "button",
      { type: "button", class: "thread-summary", dataset: { action: "open-thread", rootId: message.id } },
      el("span", { class: "thread-repliers" }, repliers.slice(0, 3).map((person) => avatar(person, { size: "tiny" }))),
      el("span", { class: "thread-count" }, `${count} ${count === 1 ? "reply" : "replies"}`),
      last ? el("span", { class: "thread-when" }, `· last reply ${shortWhen(last)}`) : null,
    );
  }

  // On a thread reply also sent to the conversation: where it was said, opening the thread.
  buildThreadLink(message) {
    const root = this.store.messageById(message.conversation_id, message.thread_root_id);
    const excerpt = root && !root.deleted ? plainExcerpt(messageText(root), 80) : "";
    return el(
      "button",
      { type: "button", class: "thread-link", dataset: { action: "open-thread", rootId: message.thread_root_id } },
      icon("thread"),
      el("span", {}, "replied to a thread"),
      excerpt ? el("span", { class: "thread-link-excerpt" }, excerpt) : null,
    );
  }

  buildQuote(quoted) {
    const text = quoted.deleted ? "Original message was deleted" : plainExcerpt(quoted.excerpt, 140);
    return el(
      "button",
      {
        type: "button",
        class: "quote",
        dataset: { action: "jump", seq: quoted.seq, id: quoted.id },
        "aria-label": `Reply to ${displayName(quoted.sender)}: ${text}. Show the original message.`,
      },
      el("span", { class: "quote-author" }, displayName(quoted.sender)),
      el("span", { class: `quote-text${quoted.deleted ? " deleted-note" : ""}` }, text),
    );
  }

  buildReactions(message) {
    if (!message.reactions?.length) return null;
    const conversation = this.conversation;
    const nameOf = (userId) => {
      if (userId === this.store.me.id) return "You";
      const member = conversation?.members?.find((person) => person.id === userId);
      return member ? firstName(member) : "Someone";
    };
    return el(
      "div",
      { class: "reactions" },
      message.reactions.map((reaction) => {
        const mine = reaction.user_ids.includes(this.store.me.id);
        const who = listOfNames(reaction.user_ids.map(nameOf), 6);
        return el(
          "button",
          {
            type: "button",
            class: `reaction${mine ? " mine" : ""}`,
            "aria-pressed": mine ? "true" : "false",
            title: `${who} reacted with ${reaction.emoji}`,
            "aria-label": `${reaction.emoji} ${reaction.count}: ${who}. ${mine ? "Remove your reaction" : "React too"}`,
            dataset: { action: "toggle-reaction", emoji: reaction.emoji },
          },
          el("span", { class: "emoji" }, reaction.emoji),
          el("span", { class: "count" }, String(reaction.count)),
        );
      }),
      el("button", { type: "button", class: "reaction add", "aria-label": "Add a reaction", title: "Add a reaction", dataset: { action: "react" } }, icon("smile")),
    );
  }

  buildActions(message, own, { inThread = false } = {}) {
    const button = (action, iconName, label) =>
      el("button", { type: "button", class: "ghost", title: label, "aria-label": label, dataset: { action } }, icon(iconName));
    return el(
      "div",
      { class: "message-actions", role: "toolbar", "aria-label": "Message actions" },
      button("react", "smile", "Add a reaction"),
      button("reply", "reply", "Reply"),
      inThread ? null : button("thread", "thread", "Reply in thread"),
      own ? button("edit", "edit", "Edit") : null,
      own ? button("delete", "delete", "Delete") : null,
    );
  }

  buildPending(entry) {
    const failed = entry.status === "failed";
    const body = el("div", { class: "message-body pending-body" });
    body.textContent = entry.body; // not sent yet, so not rendered yet: shown as the plain text it is
    return el(
      "li",
      { class: `message own pending${failed ? " failed" : ""}`, dataset: { clientId: entry.client_id } },
      avatar(this.store.me),
      el(
        "div",
        { class: "message-main" },
        el("div", { class: "message-meta" }, el("span", { class: "author" }, displayName(this.store.me)), el("span", { class: "status" }, failed ? "Not sent" : "Sending…")),
        body,
        failed
          ? el(
              "div",
              { class: "pending-actions", role: "alert" },
              el("span", { class: "error-text" }, entry.error || "Not sent."),
              el("button", { type: "button", class: "link", dataset: { action: "retry" } }, "Retry"),
              el("button", { type: "button", class: "link", dataset: { action: "discard" } }, "Discard"),
            )
          : null,
      ),
    );
  }

  onListClick(event) {
    const button = event.target.closest("button[data-action]");
    if (!button || !this.list.contains(button)) return;
    const action = button.dataset.action;
    const item = button.closest("li");
    if (action === "retry" || action === "discard") {
      this.handlers[action](item.dataset.clientId);
      return;
    }
    const message = this.store.thread(this.conversationId).bySeq.get(Number(item.dataset.seq));
    if (!message) return;
    if (action === "jump") this.handlers.jumpTo(this.conversationId, Number(button.dataset.seq));
    else if (action === "toggle-reaction") {
      const reaction = message.reactions.find((entry) => entry.emoji === button.dataset.emoji);
      const mine = reaction?.user_ids.includes(this.store.me.id);
      this.handlers.react(message, button.dataset.emoji, !mine);
    } else if (action === "react") this.handlers.pickReaction(message, button);
    else if (action === "reply") this.handlers.reply(message);
    else if (action === "thread") this.handlers.openThread(this.conversationId, message.thread_root_id || message.id);
    else if (action === "open-thread") this.handlers.openThread(this.conversationId, Number(button.dataset.rootId));
    else if (action === "edit") this.handlers.edit(message);
    else if (action === "delete") this.handlers.remove(message);
  }

  // ---- scrolling

  isAtBottom() {
    const { scrollTop, scrollHeight, clientHeight } = this.scroller;
    return scrollHeight - scrollTop - clientHeight < NEAR_BOTTOM_PX;
  }

  scrollToBottom() {
    this.scroller.scrollTop = this.scroller.scrollHeight;
    this.missedBelow = 0;
    this.updateJumpButton();
  }

  updateJumpButton() {
    const away = !this.isAtBottom();
    this.jumpButton.hidden = !away;
    const label = this.jumpButton.querySelector(".label");
    if (label) label.textContent = this.missedBelow ? `${this.missedBelow} new message${this.missedBelow === 1 ? "" : "s"}` : "Jump to latest";
  }

  afterScroll() {
    const conversation = this.conversation;
    if (!conversation) return;
    if (this.isAtBottom()) this.missedBelow = 0;
    this.updateJumpButton();
    const thread = this.store.thread(conversation.id);
    if (thread.hasOlder && thread.loaded && !this.loadingOlder && this.scroller.scrollTop < LOAD_OLDER_WITHIN_PX) {
      this.loadingOlder = true;
      this.handlers.loadOlder(conversation.id).finally(() => {
        this.loadingOlder = false;
      });
    }
    if (this.isAtBottom() && document.visibilityState === "visible") {
      this.handlers.seen(conversation.id, thread.newestSeq);
    }
  }

  // Scroll to a message and flash it; returns false when it is not loaded.
  reveal(seq) {
    const node = document.getElementById(`message-${this.conversationId}-${seq}`);
    if (!node) return false;
    node.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    node.classList.remove("flash");
    void node.offsetWidth; // restart the animation
    node.classList.add("flash");
    node.focus({ preventScroll: true });
    return true;
  }

  // Tell screen readers about a new message from someone else, once.
  announce(message) {
    const where = this.store.titleOf(this.store.conversations.get(message.conversation_id));
    this.announcer.textContent = `${displayName(message.sender)} in ${where}: ${plainExcerpt(messageText(message), 200)}`;
  }
}

// Put `items` ({key, version, build}) in `list` in order, building only the ones new or changed since last time;
// the chat and the thread pane both draw their messages so.
export function reconcileList(list, items) {
  const existing = new Map();
  for (const node of list.children) existing.set(node.dataset.key, node);
  const wanted = [];
  for (const item of items) {
    let node = existing.get(item.key);
    existing.delete(item.key);
    if (!node || node.dataset.version !== item.version) {
      const fresh = item.build();
      fresh.dataset.key = item.key;
      fresh.dataset.version = item.version;
      if (node) {
        const refocus = node.contains(document.activeElement) ? focusPath(document.activeElement) : null;
        node.replaceWith(fresh);
        if (refocus) (fresh.querySelector(refocus) || fresh).focus({ preventScroll: true });
      }
      node = fresh;
    }
    wanted.push(node);
  }
  for (const node of existing.values()) node.remove();
  let cursor = list.firstChild;
  for (const node of wanted) {
    if (node === cursor) cursor = cursor.nextSibling;
    else list.insertBefore(node, cursor);
  }
}

// A selector that finds the focused control again in a rebuilt message (same action, same emoji).
function focusPath(element) {
  const action = element.dataset?.action;
  if (!action) return null;
  const emoji = element.dataset.emoji;
  return emoji ? `[data-action="${action}"][data-emoji="${CSS.escape(emoji)}"]` : `[data-action="${action}"]`;
}

// ---- the reaction picker: one popover, moved to the message it is opened for ----------------------------------

// The quick ten, and "More" for the whole set (`openAll(message, opener)`, the emoji picker).
export class ReactionPicker {
  constructor(onPick, { openAll }) {
    this.onPick = onPick;
    this.opener = null;
    this.node = el(
      "div",
      { class: "reaction-picker", role: "menu", "aria-label": "Pick a reaction", hidden: true },
      QUICK_REACTIONS.map((emoji) =>
        el("button", { type: "button", role: "menuitem", "aria-label": `React with ${emoji}`, dataset: { emoji } }, emoji),
      ),
      el("button", { type: "button", role: "menuitem", class: "more", "aria-label": "More emoji", title: "More emoji", dataset: { action: "more" } }, icon("plus")),
    );
    document.body.append(this.node);
    this.node.addEventListener("click", (event) => {
      const button = event.target.closest("button[data-emoji], button[data-action=more]");
      if (!button) return;
      const { message, opener } = this;
      this.close();
      if (button.dataset.action === "more") openAll(message, opener);
      else this.onPick(message, button.dataset.emoji);
    });
    this.node.addEventListener("keydown", (event) => {
      const buttons = [...this.node.querySelectorAll("button")];
      const index = buttons.indexOf(document.activeElement);
      if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        this.close();
      } else if (event.key === "ArrowRight" || event.key === "ArrowDown") {
        event.preventDefault();
        buttons[(index + 1) % buttons.length].focus();
      } else if (event.key === "ArrowLeft" || event.key === "ArrowUp") {
        event.preventDefault();
        buttons[(index - 1 + buttons.length) % buttons.length].focus();
      } else if (event.key === "Tab") {
        this.close();
      }
    });
    document.addEventListener("pointerdown", (event) => {
      if (!this.node.hidden && !this.node.contains(event.target) && event.target !== this.opener) this.close();
    });
  }

  open(message, opener) {
    this.message = message;
    this.opener = opener;
    this.node.hidden = false;
    const rect = opener.getBoundingClientRect();
    const width = this.node.offsetWidth;
    const height = this.node.offsetHeight;
    const left = Math.max(8, Math.min(rect.right - width, window.innerWidth - width - 8));
    const top = rect.top - height - 6 > 8 ? rect.top - height - 6 : rect.bottom + 6;
    this.node.style.left = `${left}px`;
    this.node.style.top = `${top}px`;
    this.node.querySelector("button").focus();
  }

  close() {
    if (this.node.hidden) return;
    this.node.hidden = true;
    if (this.opener?.isConnected) this.opener.focus({ preventScroll: true });
    this.opener = null;
  }
}
