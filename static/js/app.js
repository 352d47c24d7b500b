// Parley's browser client: wires the socket and the HTTP API to the store, and the store to the page.
// socket.js and store.js hold the connection and the state; frames.js says what each server frame does,
// outbox.js sends what the user types, sync.js catches up and repairs gaps, history.js pages through
// history, presence.js reports the user's presence; render.js, composer.js and dialogs.js draw the page, and
// thread-pane.js the thread open beside the conversation.
// docs/client.md lists every module.

import { api } from "./api.js";
import { Calls } from "./calls.js";
import { Composer, MENTION_OPTIONS } from "./composer.js";
import { Dialogs } from "./dialogs.js";
import { EmojiPicker } from "./emoji-picker.js";
import { EVERYONE_MENTIONS, displayName, mentionsEveryone } from "./format.js";
import { dispatchFrame, frameHandlers } from "./frames.js";
import { Games } from "./games.js";
import { MessageHistory } from "./history.js";
import { askForNotifications, notificationsUndecided, notifyMessage, updateTitle } from "./notify.js";
import { Outbox } from "./outbox.js";
import { PresenceReporter } from "./presence.js";
import { pushStart } from "./push.js";
import { BuddyList, ChatView, ReactionPicker, renderMe, renderSidebar } from "./render.js";
import { Connection } from "./socket.js";
import { Store, isInTimeline } from "./store.js";
import { Sync } from "./sync.js";
import { ThreadPane } from "./thread-pane.js";
import { Uploads } from "./uploads.js";

const root = document.getElementById("app");
const store = new Store({
  id: Number(root.dataset.userId),
  username: root.dataset.username,
  display_name: root.dataset.displayName,
});
const meCard = {
  avatarNode: document.getElementById("me-avatar"),
  nameNode: document.getElementById("me-name"),
  detailNode: document.getElementById("me-detail"),
};
renderMe(store, meCard);
const connection = new Connection(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws/`);

const sidebar = {
  directList: document.getElementById("direct-list"),
  roomList: document.getElementById("room-list"),
  filter: document.getElementById("conversation-filter"),
};
const toast = document.getElementById("toast");
const connectionLabel = document.getElementById("connection-state");
const connectionBanner = document.getElementById("connection-banner");
let everConnected = false; // the banner shows only once a connection was lost, not while the first one opens
let reconnects = 0;
const calls = new Calls({ connection, store, say }); // voice calls: listens to the socket's call frames itself

// ---- telling the user --------------------------------------------------------------------------------------------

let toastTimer = null;
function say(text) {
  toast.textContent = text;
  toast.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => {
    toast.hidden = true;
  }, 6000);
}

const CONNECTION_TEXT = { connecting: "Connecting…", open: "Online", closed: "Offline" };
connection.addEventListener("state", (event) => {
  const state = event.detail;
  connectionLabel.dataset.state = state;
  connectionLabel.textContent = CONNECTION_TEXT[state];
  connectionBanner.hidden = state === "open" || !everConnected;
  if (state === "closed" && connection.attempt >= 2) {
    api.me().catch(() => {}); // a 401 here means the session ended: api.js goes to the login page
  }
});

connection.addEventListener("signedout", () => {
  location.assign("/accounts/login/");
});

// ---- rendering, batched: many store changes in one task give one render ------------------------------------------

const dirty = { sidebar: false, header: false, messages: false, typing: false, buddies: false, me: false, person: false, thread: false };
let flushQueued = false;

store.addEventListener("change", (event) => {
  const { what, conversationId } = event.detail;
  const isActive = conversationId === null || conversationId === store.activeId;
  if (what === "conversations" || what === "presence" || what === "active") dirty.sidebar = true;
  if ((what === "conversations" && isActive) || what === "presence") dirty.header = true;
  if ((what === "messages" || what === "reads") && conversationId === store.activeId) dirty.messages = true;
  if (what === "conversations" && isActive) dirty.messages = true; // members' names, for "seen by" and reactions
  if (what === "typing" && conversationId === store.activeId) dirty.typing = true;
  if (what === "presence" || what === "contacts" || what === "people") dirty.buddies = dirty.person = true;
  if (what === "people") dirty.header = true; // a fetched profile may bring a newer status message
  if (what === "me") dirty.me = true;
  // The thread pane: its own changes, and its conversation's (names, reactions, the room's name, outbox).
  if (what === "thread" || what === "profile" || (conversationId === threadPane.conversationId && conversationId !== null)) dirty.thread = true;
  if (what === "profile") {
    Object.assign(dirty, { sidebar: true, header: true, messages: true, buddies: true, person: true });
    if (conversationId === store.me.id) dirty.me = true;
  }
  if (!flushQueued) {
    flushQueued = true;
    queueMicrotask(flush);
  }
});

function flush() {
  flushQueued = false;
  if (dirty.sidebar) renderSidebar(store, { ...sidebar, filter: sidebar.filter.value });
  if (dirty.buddies) buddies.render(sidebar.filter.value);
  if (dirty.me) renderMe(store, meCard);
  if (dirty.person) dialogs.person.changed();
  if (store.activeId !== null && view.conversationId === store.activeId) {
    if (dirty.header) view.renderHeader();
    if (dirty.messages) view.render();
    if (dirty.typing) view.renderTyping();
  }
  if (dirty.thread) threadPane.render();
  for (const key of Object.keys(dirty)) dirty[key] = false;
  updateTitle(store);
}

// ---- the chat pane and the composer ---------------------------------------------------------------------------

const readInFlight = new Map(); // conversation id -> seq being sent

const view = new ChatView(store, {
  loadOlder: (conversationId) => messageHistory.loadOlder(conversationId),
  seen: (conversationId, seq) => markRead(conversationId, seq),
  jumpTo: (conversationId, seq) => messageHistory.jumpTo(conversationId, seq),
  react: (message, emoji, add) => react(message, emoji, add),
  pickReaction: (message, button) => picker.open(message, button),
  reply: (message) => composer.startReply(message),
  openThread: (conversationId, rootId) => threadPane.open(conversationId, rootId),
  edit: (message) => composer.startEdit(message),
  remove: (message) => removeMessage(message),
  retry: (clientId) => outbox.retry(clientId),
  discard: (clientId) => outbox.discard(clientId),
  invite: (conversationId) => dialogs.invite.open(conversationId),
  leave: (conversationId) => leaveRoom(conversationId),
  roomSettings: (conversationId) => dialogs.roomSettings.open(conversationId),
  mute: (conversationId, isMuted) => mute(conversationId, isMuted),
  back: () => goTo(null),
  focusComposer: () => composer.focus(),
  showPerson: (userId) => dialogs.person.open(userId),
  // No Game button where games are switched off for this user (the page says so; the server refuses anyway).
  challenge: root.dataset.gamesEnabled === "true" ? (conversationId) => games.open(conversationId) : null,
});

// Toggle the user's reaction: a second pick of the same emoji takes it back.
function toggleReaction(message, emoji) {
  const reaction = message.reactions?.find((entry) => entry.emoji === emoji);
  react(message, emoji, !reaction?.user_ids.includes(store.me.id));
}

const emojiPicker = new EmojiPicker();
const picker = new ReactionPicker(toggleReaction, {
  openAll: (message, opener) => emojiPicker.open(opener, (emoji) => toggleReaction(message, emoji), { label: "Pick a reaction" }),
});

const colleaguesToMention = async (query) => (await api.users(query)).filter((person) => person.username !== store.me.username);

const composer = new Composer({
  submit: ({ text, mode, message }) => submit(text, mode, message),
  members: (query) => mentionableMembers(query),
  colleagues: colleaguesToMention,
  pickEmoji: (button) => emojiPicker.open(button, (emoji) => composer.insert(emoji), { label: "Insert an emoji" }),
  typing: () => {
    if (store.activeId !== null) connection.notify({ type: "typing", conversation_id: store.activeId });
  },
  editLast: () => {
    const thread = store.threads.get(store.activeId);
    const mine = thread
      ?.ordered()
      .reverse()
      .find((message) => message.sender.id === store.me.id && !message.deleted && isInTimeline(message));
    if (!mine) return false;
    composer.startEdit(mine);
    return true;
  },
});

// The thread beside the conversation: its box sends through the same outbox, so a reply typed offline goes once.
const threadPane = new ThreadPane({
  store,
  view,
  handlers: {
    send: ({ conversationId, rootId, body, replyTo, alsoInRoom }) =>
      outbox.add({ conversationId, body, replyTo, threadRootId: rootId, alsoInRoom }),
    edit: (message, text) => submit(text, "edit", message),
    react: (message, emoji, add) => react(message, emoji, add),
    pickReaction: (message, button) => picker.open(message, button),
    remove: (message) => removeMessage(message),
    retry: (clientId) => outbox.retry(clientId),
    discard: (clientId) => outbox.discard(clientId),
    jumpTo: (conversationId, seq) => messageHistory.jumpTo(conversationId, seq),
    closed: () => composer.focus(),
    members: (query) => mentionableMembers(query),
    colleagues: colleaguesToMention,
  },
});

const dialogs = new Dialogs({
  store,
  openConversation: (id) => goTo(id),
  expectConversation: (id) => expected.add(id),
  openDirectWith: (person) => openDirectWith(person),
  statusChanged: (text) => presence.statusChanged(text),
  showMessage: (conversationId, seq) => showFound(conversationId, seq),
});
const expected = new Set(); // conversations to open as soon as their `conversation` frame arrives

// Games played in the conversation: cards above the messages, and the "Challenge to a game" dialog.
const games = new Games({
  store,
  connection,
  say,
  root: document.getElementById("games"),
  dialog: document.getElementById("dialog-game"),
});

const buddies = new BuddyList(store, {
  root: document.getElementById("buddy-list"),
  storageKey: `parley.collapsed-groups.${store.me.id}`,
  handlers: {
    openDirect: (person) => openDirectWith(person),
    showPerson: (userId) => dialogs.person.open(userId),
  },
});

// ---- files: the attach button, dropping on the conversation, pasting a picture -------------------------------

const uploads = new Uploads(document.getElementById("uploads"), {
  share: async (conversationId, entry, onProgress) => {
    const message = await api.shareFile(conversationId, entry, onProgress);
    receive(message, { live: true }); // also arrives over the socket; the store keeps it once
  },
});
const fileInput = document.getElementById("composer-file");

function shareFiles(files) {
  if (store.activeId === null || !files?.length) return;
  uploads.add(store.activeId, files, composer.takeText());
  view.scrollToBottom();
}

document.getElementById("attach-button").addEventListener("click", () => fileInput.click());
fileInput.addEventListener("change", () => {
  shareFiles([...fileInput.files]);
  fileInput.value = "";
});
document.getElementById("composer-input").addEventListener("paste", (event) => {
  const files = [...(event.clipboardData?.files || [])];
  if (!files.length) return; // plain text pastes as usual
  event.preventDefault();
  shareFiles(files);
});
const conversationPane = document.getElementById("conversation");
conversationPane.addEventListener("dragover", (event) => {
  if (!event.dataTransfer?.types.includes("Files")) return;
  event.preventDefault();
  conversationPane.classList.add("dropping");
});
conversationPane.addEventListener("dragleave", (event) => {
  if (!conversationPane.contains(event.relatedTarget)) conversationPane.classList.remove("dropping");
});
conversationPane.addEventListener("drop", (event) => {
  conversationPane.classList.remove("dropping");
  if (!event.dataTransfer?.files.length) return;
  event.preventDefault();
  shareFiles([...event.dataTransfer.files]);
});

// ---- messages in and out --------------------------------------------------------------------------------------

const outbox = new Outbox({ store, connection, delivered: (message) => receive(message, { live: true }) });
const sync = new Sync({ store, connection, receive });

function receive(message, { live }) {
  const known = store.conversations.has(message.conversation_id);
  const isNew = store.addMessage(message);
  if (!known) refreshConversations();
  if (!isNew || message.sender.id === store.me.id) return;
  notifyMessage(store, message, { onOpen: (id) => goTo(id) });
  if (live && message.conversation_id === store.activeId && document.visibilityState === "visible") view.announce(message);
}

// Members of the active conversation whose username or a word of whose name starts with `query`, by name; then, in
// a room, @here and @channel when they match too. The composer lists colleagues from the directory after them.
function mentionableMembers(query) {
  const conversation = store.conversations.get(store.activeId);
  if (!conversation) return [];
  const term = query.toLowerCase();
  const matches = (person) =>
    person.username.toLowerCase().startsWith(term) || displayName(person).toLowerCase().split(/\s+/).some((word) => word.startsWith(term));
  const size = conversation.members?.length;
  const descriptions = {
    here: "Notify everyone online in this room",
    channel: size ? `Notify all ${size} members of this room` : "Notify every member of this room",
  };
  const everyone =
    conversation.kind === "room"
      ? EVERYONE_MENTIONS.filter((name) => name.startsWith(term)).map((name) => ({ everyone: name, description: descriptions[name] }))
      : [];
  const members = (conversation.members || [])
    .filter((person) => person.id !== store.me.id && matches(person))
    .sort((a, b) => displayName(a).localeCompare(displayName(b)))
    .slice(0, MENTION_OPTIONS - everyone.length);
  return [...members, ...everyone];
}

// Above this many members, a message with @here or @channel asks first: it notifies a crowd (Slack asks from 6 on
// in a channel with members in several time zones, Mattermost from 5; ten keeps small teams unbothered).
const CONFIRM_EVERYONE_ABOVE = 10;

function submit(text, mode, message, { detailsAwaited = false } = {}) {
  const conversationId = store.activeId;
  if (conversationId === null) return false;
  const conversation = store.conversations.get(conversationId);
  const everyone = mode !== "edit" && conversation?.kind === "room" && mentionsEveryone(text);
  if (everyone && !conversation.members && !detailsAwaited) {
    // How many would be told decides whether to ask first: wait for the members (fetched on opening the room).
    return conversationDetails(conversationId).then(() => submit(text, mode, message, { detailsAwaited: true }));
  }
  const size = conversation?.members?.length || 0;
  if (everyone && size > CONFIRM_EVERYONE_ABOVE) {
    return dialogs.confirm
      .ask({
        title: `Notify ${size} people?`,
        text: `@here and @channel notify members of ${store.titleOf(conversation)} who may be busy or in another time zone.`,
        action: "Send anyway",
      })
      .then((sure) => sure && send(conversationId, text, mode, message));
  }
  return send(conversationId, text, mode, message);
}

function send(conversationId, text, mode, message) {
  if (mode === "edit") {
    if (text === message.body) return true;
    connection
      .request({ type: "message.edit", message_id: message.id, body: text })
      .catch((error) => say(`Your edit was not saved: ${error.message}`));
    return true;
  }
  if (store.activeId !== conversationId) return false; // switched away while asked: the draft stays there
  outbox.add({ conversationId, body: text, replyTo: mode === "reply" ? message.id : null });
  view.scrollToBottom();
  return true;
}

async function react(message, emoji, add) {
  try {
    const reply = await connection.request({ type: add ? "reaction.add" : "reaction.remove", message_id: message.id, emoji });
    store.setReactions(message.conversation_id, message.id, reply.reactions);
  } catch (error) {
    say(`The reaction was not saved: ${error.message}`);
  }
}

async function removeMessage(message) {
  const sure = await dialogs.confirm.ask({
    title: "Delete this message?",
    text: "Everyone in the conversation will see that a message was deleted.",
    action: "Delete",
  });
  if (!sure) return;
  try {
    await connection.request({ type: "message.delete", message_id: message.id });
    composer.messageGone(message.id);
    threadPane.messageGone(message.id);
  } catch (error) {
    say(`The message was not deleted: ${error.message}`);
  }
}

function markRead(conversationId, seq) {
  const conversation = store.conversations.get(conversationId);
  if (!conversation || !seq || seq <= conversation.last_read_seq || !connection.isOpen) return;
  if ((readInFlight.get(conversationId) || 0) >= seq) return;
  readInFlight.set(conversationId, seq);
  store.markedRead(conversationId, seq);
  connection
    .request({ type: "read", conversation_id: conversationId, seq })
    .then((reply) => store.noteRead(conversationId, store.me.id, reply.seq))
    .catch(() => {})
    .finally(() => {
      if (readInFlight.get(conversationId) === seq) readInFlight.delete(conversationId);
    });
}

// ---- history ----------------------------------------------------------------------------------------------

const messageHistory = new MessageHistory({ store, view, say, render: () => flush() });

// A search hit: open its conversation (a new history entry, so Back returns), then show the message there.
async function showFound(conversationId, seq) {
  if (store.activeId !== conversationId) {
    history.pushState(null, "", `#/c/${conversationId}`);
    await route();
  }
  if (!store.thread(conversationId).loaded) await messageHistory.loadNewest(conversationId);
  flush();
  await messageHistory.jumpTo(conversationId, seq);
}

// ---- conversations ----------------------------------------------------------------------------------------

let refreshing = null;
function refreshConversations() {
  refreshing ??= api
    .conversations()
    .then((list) => store.setConversations(list))
    .catch((error) => say(`Conversations could not be loaded: ${error.message}`))
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

// The buddy list's click on a person: their direct chat, created on the server the first time.
async function openDirectWith(person) {
  const known = store.directWith(person.id);
  if (known) return goTo(known.id);
  try {
    const conversation = await api.openDirect(person.username);
    store.upsertConversation(conversation);
    goTo(conversation.id);
  } catch (error) {
    say(`The chat with ${person.display_name || person.username} could not be opened: ${error.message}`);
  }
}

let refreshingContacts = null;
function refreshContacts() {
  refreshingContacts ??= api
    .contacts()
    .then((groups) => store.setContactGroups(groups))
    .catch((error) => say(`Your contacts could not be loaded: ${error.message}`))
    .finally(() => {
      refreshingContacts = null;
    });
  return refreshingContacts;
}

async function mute(conversationId, isMuted) {
  try {
    await api.mute(conversationId, isMuted);
    store.upsertConversation({ id: conversationId, is_muted: isMuted }); // other tabs hear it from the server
  } catch (error) {
    say(`That did not work: ${error.message}`);
  }
}

async function leaveRoom(conversationId) {
  const conversation = store.conversations.get(conversationId);
  const sure = await dialogs.confirm.ask({
    title: `Leave ${store.titleOf(conversation)}?`,
    text: conversation.is_public ? "You can join again from the room directory." : "You will need an invitation to come back.",
    action: "Leave room",
  });
  if (!sure) return;
  try {
    await api.leaveRoom(conversationId);
    store.removeConversation(conversationId);
    goTo(null);
  } catch (error) {
    say(`You could not leave the room: ${error.message}`);
  }
}

function goTo(conversationId) {
  const hash = conversationId === null ? "#/" : `#/c/${conversationId}`;
  if (location.hash === hash) route();
  else location.hash = hash;
}

const detailsFetched = new Map(); // conversation id -> the request for its details (members, read markers)

// Members (and their read markers, for "seen by") come with a conversation's details, fetched once per id.
function conversationDetails(id) {
  if (!detailsFetched.has(id)) {
    const request = api
      .conversation(id)
      .then((details) => store.upsertConversation(details))
      .catch(() => detailsFetched.delete(id));
    detailsFetched.set(id, request);
  }
  return detailsFetched.get(id);
}

async function route() {
  const match = location.hash.match(/^#\/c\/(\d+)$/);
  const id = match ? Number(match[1]) : null;
  if (id !== null && !store.conversations.has(id)) {
    try {
      const details = api.conversation(id);
      detailsFetched.set(id, details);
      store.upsertConversation(await details);
    } catch {
      history.replaceState(null, "", "#/");
      return show(null);
    }
  }
  show(id);
}

function show(id) {
  root.classList.toggle("show-chat", id !== null);
  if (threadPane.isOpen && threadPane.conversationId !== id) threadPane.close();
  store.setActive(id);
  view.show(id);
  uploads.show(id);
  games.show(id);
  if (id === null) {
    updateTitle(store);
    return;
  }
  const conversation = store.conversations.get(id);
  const title = store.titleOf(conversation);
  composer.switchTo(id, `Message ${title}`);
  composer.focus();
  if (!store.thread(id).loaded) messageHistory.loadNewest(id);
  conversationDetails(id);
  calls.showConversation(id);
  updateTitle(store);
}

// ---- the socket: every (re)connect catches up, then live frames flow --------------------------------------

connection.addEventListener("hello", async () => {
  everConnected = true;
  connectionBanner.hidden = true;
  try {
    await sync.catchUp();
  } catch {
    return; // the connection dropped during the catch-up; the next hello starts over
  }
  outbox.resendWaiting();
  games.reconnected(); // games are rows: after a reconnect or a server restart they resume where they were
  // After a reconnect, fetch the list again: unread counts, and rooms joined or left meanwhile. The first
  // connect follows the list fetched by start(), and the sync covered the moments in between.
  if (reconnects++ > 0) await Promise.all([refreshConversations(), refreshContacts()]);
  if (store.activeId !== null) {
    if (!store.thread(store.activeId).loaded) messageHistory.loadNewest(store.activeId);
    view.afterScroll();
  }
});

// Both message boxes forget a message deleted elsewhere (a reply to it, an edit of it).
const boxes = { messageGone: (id) => [composer, threadPane].forEach((box) => box.messageGone(id)) };
const handlers = frameHandlers({ store, sync, receive, composer: boxes, view, expected, goTo, games });
connection.addEventListener("frame", (event) => dispatchFrame(handlers, event.detail));

setInterval(() => store.expireTyping(), 1000);

// ---- presence: the user's choice, and whether this tab is being used ----------------------------------------

const presence = new PresenceReporter({
  connection,
  choice: document.getElementById("presence-choice"),
  // After this long without input in any tab the user shows as away (PARLEY_PRESENCE_IDLE_SECONDS).
  idleAfterMs: Number(root.dataset.idleAfterSeconds || 300) * 1000,
});

// ---- page-wide keys and controls ------------------------------------------------------------------------------

const shortcuts = document.getElementById("dialog-shortcuts");
document.getElementById("show-shortcuts").addEventListener("click", () => shortcuts.showModal());

function isTyping(target) {
  return target.closest?.("input, textarea, select, [contenteditable]") !== null;
}

document.addEventListener("keydown", (event) => {
  if (event.key === "?" && !isTyping(event.target) && !document.querySelector("dialog[open]")) {
    event.preventDefault();
    shortcuts.showModal();
  } else if ((event.ctrlKey || event.metaKey) && event.shiftKey && event.key.toLowerCase() === "f") {
    event.preventDefault();
    dialogs.search.open();
  } else if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k") {
    event.preventDefault();
    sidebar.filter.focus();
    sidebar.filter.select();
  } else if (event.altKey && (event.key === "ArrowUp" || event.key === "ArrowDown")) {
    event.preventDefault();
    const ids = [...document.querySelectorAll(".conversation-item:not([hidden])")].map((link) => Number(link.dataset.conversationId));
    if (!ids.length) return;
    const index = ids.indexOf(store.activeId);
    const next = index === -1 ? 0 : (index + (event.key === "ArrowDown" ? 1 : -1) + ids.length) % ids.length;
    goTo(ids[next]);
  } else if (event.key === "Escape" && threadPane.isOpen && !isTyping(event.target) && !document.querySelector("dialog[open]")) {
    threadPane.close(); // from inside the pane, the pane's own handler closes it
  }
});

sidebar.filter.addEventListener("input", () => {
  renderSidebar(store, { ...sidebar, filter: sidebar.filter.value });
  buddies.render(sidebar.filter.value);
});
sidebar.filter.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    document.querySelector(".conversation-item:not([hidden])")?.click();
  } else if (event.key === "Escape") {
    sidebar.filter.value = "";
    renderSidebar(store, { ...sidebar, filter: "" });
    buddies.render("");
  }
});

document.getElementById("search-messages").addEventListener("click", () => dialogs.search.open());
document.getElementById("new-direct").addEventListener("click", () => dialogs.direct.open());
document.getElementById("add-contact").addEventListener("click", () => dialogs.addContact.open());
document.getElementById("edit-profile").addEventListener("click", () => dialogs.profile.open());
document.getElementById("new-room").addEventListener("click", () => dialogs.newRoom.open());
document.getElementById("browse-rooms").addEventListener("click", () => dialogs.directory.open());
document.getElementById("welcome-direct").addEventListener("click", () => dialogs.direct.open());
document.getElementById("welcome-rooms").addEventListener("click", () => dialogs.directory.open());

// The prompt can be put away for good on this browser ("Not now"); the browser's own setting still decides later.
const NOTIFY_DISMISSED = "parley.notifyPromptDismissed";
const notifyPrompt = document.getElementById("notify-prompt");
notifyPrompt.hidden = !notificationsUndecided() || localStorage.getItem(NOTIFY_DISMISSED) === "1";
document.getElementById("notify-enable").addEventListener("click", async () => {
  await askForNotifications();
  notifyPrompt.hidden = true;
  pushStart(root.dataset.pushKey); // with the permission, messages reach this browser with no tab open too
});
pushStart(root.dataset.pushKey);
document.getElementById("notify-dismiss").addEventListener("click", () => {
  localStorage.setItem(NOTIFY_DISMISSED, "1");
  notifyPrompt.hidden = true;
});

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && store.activeId !== null) view.afterScroll();
});

window.addEventListener("hashchange", route);

// ---- start -------------------------------------------------------------------------------------------------

async function start() {
  const me = api
    .me()
    .then((profile) => store.setMe(profile))
    .catch(() => {}); // the page already shows the name; title and picture come with the profile dialog
  const contacts = refreshContacts();
  try {
    store.setConversations(await api.conversations());
  } catch (error) {
    say(`Conversations could not be loaded: ${error.message}`);
  }
  await Promise.all([me, contacts]);
  flush();
  await route();
  connection.start();
  root.dataset.ready = "true";
}

start();

// For debugging in the console: the state, not the page.
window.parley = { store, connection };
