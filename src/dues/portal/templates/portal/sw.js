// Dues member app: keep the shell for offline use; pages always come from the network
// (money and bookings must never be shown stale), the offline page when there is none.
const CACHE = "dues-shell-v1";
const SHELL = {{ shell|safe }};
const OFFLINE = "{{ offline }}";
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
    return;
  }
  event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
});
