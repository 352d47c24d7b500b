// Parley's service worker, served at /sw.js so that it covers the whole site (messenger.views.service_worker).
// It shows Web Push notifications for people with no Parley tab open and opens the conversation when one is
// clicked. It caches nothing: Parley is a live app, and a stale copy would be worse than none.
// What a push says is decided by the server (messenger/push.py): who wrote, and the words only when the
// company allows previews.

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

function pushData(event) {
  try {
    return event.data ? event.data.json() : {};
  } catch {
    return {};
  }
}

self.addEventListener("push", (event) => {
  const data = pushData(event);
  event.waitUntil(
    self.registration.showNotification(data.title || "Parley", {
      body: data.body || "New message",
      tag: data.tag || "parley",
      icon: data.icon || undefined,
      data: { url: data.url || "/" },
    }),
  );
});

// A click focuses an open Parley window (going to the conversation) or opens one.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = new URL(event.notification.data?.url || "/", self.location.origin).href;
  event.waitUntil(
    (async () => {
      const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
      const open = windows.find((client) => new URL(client.url).origin === self.location.origin);
      if (!open) return self.clients.openWindow(url);
      await open.focus();
      if (open.url !== url && "navigate" in open) await open.navigate(url).catch(() => {});
    })(),
  );
});
