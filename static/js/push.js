// Web Push: once the user allowed notifications, this browser subscribes with the push service and tells the
// server (/api/v1/me/push-subscriptions), so a direct message or a mention reaches them with no Parley tab
// open; the service worker (/sw.js) shows it. Nothing happens without the permission or without a server key.

import { api } from "./api.js";

export function pushSupported() {
  return "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;
}

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/") + "=".repeat((4 - (base64url.length % 4)) % 4);
  return Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
}

function sameBytes(buffer, bytes) {
  const other = new Uint8Array(buffer || []);
  return other.length === bytes.length && other.every((value, index) => value === bytes[index]);
}

// Register the service worker; subscribe (or renew the subscription) when notifications are allowed.
// `serverKey` is the VAPID public key the page carries (empty: Web Push is off on this server).
export async function pushStart(serverKey) {
  if (!pushSupported() || !serverKey) return null;
  try {
    await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    if (Notification.permission !== "granted") return null;
    const ready = await navigator.serviceWorker.ready;
    const key = keyBytes(serverKey);
    let subscription = await ready.pushManager.getSubscription();
    if (subscription && !sameBytes(subscription.options.applicationServerKey, key)) {
      await subscription.unsubscribe(); // made with the server's previous key: its pushes would be refused
      subscription = null;
    }
    subscription ||= await ready.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    await api.pushSubscribe(subscription.toJSON());
    return subscription;
  } catch {
    // No push service in this browser (some private windows, headless browsers), or the server refused the
    // endpoint: tabs still notify while open, and the e-mail digest covers the rest.
    return null;
  }
}
