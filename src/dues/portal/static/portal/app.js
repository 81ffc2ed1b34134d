// Installable app: register the service worker that keeps the shell for offline use.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.register("/me/sw.js", { scope: "/me/" }).catch(() => {});
}
