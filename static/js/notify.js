// Telling the user about new messages outside the page: the tab title's unread count, and a desktop
// notification (the browser's Notification API) while the tab is hidden.

import { displayName, messageText, plainExcerpt } from "./format.js";

export function updateTitle(store) {
  const total = store.totalUnread();
  const active = store.active;
  const where = active ? `${store.titleOf(active)} · Parley` : "Parley";
  document.title = total ? `(${total > 99 ? "99+" : total}) ${where}` : where;
}

export function notificationsSupported() {
  return "Notification" in window;
}

export function notificationsUndecided() {
  return notificationsSupported() && Notification.permission === "default";
}

export async function askForNotifications() {
  if (!notificationsSupported()) return "denied";
  return Notification.requestPermission();
}

// Notify about a message from someone else while this tab is hidden, unless the conversation is muted or the
// user chose "busy" (do not disturb). The tag collapses the same message shown by several tabs into one.
export function notifyMessage(store, message, { onOpen }) {
  if (!notificationsSupported() || Notification.permission !== "granted") return;
  if (document.visibilityState !== "hidden") return;
  if (message.sender.id === store.me.id || message.deleted) return;
  const conversation = store.conversations.get(message.conversation_id);
  if (!conversation || conversation.is_muted) return;
  if (store.presenceOf(store.me.id)?.state === "busy") return;
  const title =
    conversation.kind === "room" ? `${displayName(message.sender)} in ${store.titleOf(conversation)}` : displayName(message.sender);
  try {
    const notification = new Notification(title, {
      body: plainExcerpt(messageText(message), 180),
      tag: `parley-message-${message.id}`,
    });
    notification.addEventListener("click", () => {
      window.focus();
      onOpen(message.conversation_id);
      notification.close();
    });
  } catch {
    // Some browsers only allow notifications from a service worker; the title count still tells.
  }
}

// An incoming call while this tab is hidden (static/js/calls.js): the tag keeps one notice however many tabs
// ring, and a click brings the tab forward, where accept and decline wait.
export function notifyIncomingCall({ title, tag, onOpen }) {
  if (!notificationsSupported() || Notification.permission !== "granted") return;
  if (document.visibilityState !== "hidden") return;
  try {
    const notification = new Notification(title, { body: "Open Parley to answer.", tag, requireInteraction: true });
    notification.addEventListener("click", () => {
      window.focus();
      onOpen();
      notification.close();
    });
  } catch {
    // Only a service worker may notify in some browsers; the notice on the page still shows.
  }
}
