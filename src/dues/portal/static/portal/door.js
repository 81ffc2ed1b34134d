// The member's door pass: the rotating QR code, computed here in the browser so it works
// with no network (the same code as dues.access.qr: HMAC-SHA256 of the 25 s step, first
// 10 bytes, base32). The credential is kept in localStorage by the page that was last
// loaded online; the server's clock offset corrects a phone whose clock is off.
(function (global) {
  "use strict";
  var STEP = 25;
  var ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  var STORE = "dues-door-pass";

  function hexBytes(hex) {
    var out = new Uint8Array(hex.length / 2);
    for (var i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
    return out;
  }

  function base32(bytes) {
    var bits = 0, value = 0, out = "";
    for (var i = 0; i < bytes.length; i++) {
      value = (value << 8) | bytes[i];
      bits += 8;
      while (bits >= 5) { out += ALPHABET[(value >>> (bits - 5)) & 31]; bits -= 5; }
    }
    if (bits > 0) out += ALPHABET[(value << (5 - bits)) & 31];
    return out;
  }

  function stepBytes(step) {
    var out = new Uint8Array(8);
    for (var i = 7; i >= 0; i--) { out[i] = step % 256; step = Math.floor(step / 256); }
    return out;
  }

  function code(secretHex, step) {
    var subtle = global.crypto.subtle;
    return subtle
      .importKey("raw", hexBytes(secretHex), { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (key) { return subtle.sign("HMAC", key, stepBytes(step)); })
      .then(function (mac) { return base32(new Uint8Array(mac).slice(0, 10)); });
  }

  function payload(pass, nowMs) {
    var step = Math.floor(nowMs / 1000 / STEP);
    return code(pass.secret, step).then(function (c) { return { text: pass.id + "." + c, step: step }; });
  }

  function svg(text) {
    var QR = global.DuesQRCode;
    var qr = new QR.QRCode(-1, QR.QRErrorCorrectLevel.M);
    qr.addData(text);
    qr.make();
    var n = qr.getModuleCount(), q = 4, size = n + 2 * q, path = "";
    for (var r = 0; r < n; r++) {
      for (var c = 0; c < n; c++) if (qr.isDark(r, c)) path += "M" + (c + q) + " " + (r + q) + "h1v1h-1z";
    }
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + size + " " + size +
      '" shape-rendering="crispEdges" role="img" aria-label="QR"><rect width="100%" height="100%" fill="#fff"/>' +
      '<path fill="#000" d="' + path + '"/></svg>';
  }

  function start(root) {
    var pass = null;
    var stored = null;
    try { stored = JSON.parse(global.localStorage.getItem(STORE) || "null"); } catch (e) { stored = null; }
    if (root.dataset.id) {
      // A page served just now tells the server's time; one from the offline cache is old,
      // so the offset measured when it was fresh is kept.
      var drift = Number(root.dataset.serverMs) - Date.now();
      var fresh = Math.abs(drift) < 120000;
      pass = { id: root.dataset.id, secret: root.dataset.secret,
               offset: fresh ? drift : (stored && stored.id === root.dataset.id ? stored.offset : 0) };
      try { global.localStorage.setItem(STORE, JSON.stringify(pass)); } catch (e) { /* private mode */ }
    } else {
      pass = stored;
    }
    var box = root.querySelector("[data-qr]"), left = root.querySelector("[data-left]");
    if (!pass) { box.textContent = root.dataset.missing || ""; return; }
    var shown = -1;
    function tick() {
      var now = Date.now() + (pass.offset || 0);
      var remaining = STEP - Math.floor(now / 1000) % STEP;
      if (left) left.textContent = String(remaining);
      payload(pass, now).then(function (p) {
        if (p.step === shown) return;
        shown = p.step;
        box.innerHTML = svg(p.text);
        box.setAttribute("data-payload", p.text);
      });
    }
    tick();
    global.setInterval(tick, 1000);
  }

  global.DuesDoor = { code: code, base32: base32, payload: payload, svg: svg, start: start };
  if (global.document) {
    var root = global.document.getElementById("door-pass");
    if (root) start(root);
    if (global.navigator && "serviceWorker" in global.navigator && root && root.dataset.sw) {
      global.navigator.serviceWorker.register(root.dataset.sw, { scope: root.dataset.scope });
    }
  }
})(typeof window !== "undefined" ? window : globalThis);
