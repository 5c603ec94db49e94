/* Flashport storefront: the server's clock, local times and countdowns.
 *
 * Countdowns never trust the browser's clock: the page carries the server's time (body
 * data-server-time) and every live poll refreshes it, so a buyer whose computer is minutes off
 * still sees the sale open and the payment window close at the right moment.
 */
(function () {
  "use strict";
  var FP = (window.Flashport = window.Flashport || {});
  var loaded = Date.parse(document.body.getAttribute("data-server-time") || "");
  var offset = isNaN(loaded) ? 0 : loaded - Date.now();
  var bestRoundTrip = Infinity;

  /* The page's sentences for scripts, in its language (base.html's #fp-text data block). */
  var texts = {};
  try {
    texts = JSON.parse((document.getElementById("fp-text") || {}).textContent || "{}");
  } catch (e) { texts = {}; }
  FP.t = function (key) {
    return Object.prototype.hasOwnProperty.call(texts, key) ? texts[key] : key;
  };
  var dayUnit = document.body.getAttribute("data-day-unit") || "d";

  FP.now = function () {
    return Date.now() + offset;
  };

  /* A poll's answer: the server's time was read somewhere between sentAt and receivedAt. The
   * fastest round trip gives the tightest estimate, so only a faster (or much later) one replaces it. */
  FP.syncClock = function (serverIso, sentAt, receivedAt) {
    var server = Date.parse(serverIso);
    var roundTrip = receivedAt - sentAt;
    if (isNaN(server) || roundTrip > bestRoundTrip * 2 + 250) return;
    bestRoundTrip = Math.min(bestRoundTrip, roundTrip);
    offset = server - (sentAt + receivedAt) / 2;
  };

  FP.announce = function (text) {
    var region = document.querySelector("[data-live-announcer]");
    if (region) region.textContent = text;
  };

  function pad(n) {
    return n < 10 ? "0" + n : String(n);
  }

  FP.formatDuration = function (ms) {
    var total = Math.max(0, Math.floor(ms / 1000));
    var days = Math.floor(total / 86400);
    var clock = pad(Math.floor((total % 86400) / 3600)) + ":" + pad(Math.floor((total % 3600) / 60)) + ":" + pad(total % 60);
    return days ? days + dayUnit + " " + clock : clock;
  };

  /* <time> elements are written by the server in China time and the page's language; they stay so. */

  function tick() {
    var now = FP.now();
    document.querySelectorAll("[data-countdown-to]").forEach(function (el) {
      var left = Date.parse(el.getAttribute("data-countdown-to")) - now;
      el.textContent = FP.formatDuration(left);
      if (left > 0) {
        el.setAttribute("data-ticking", "1");
      } else if (el.getAttribute("data-ticking") === "1") {
        /* Only a countdown seen running reaches zero here: a page rendered at zero never loops. */
        el.setAttribute("data-ticking", "0");
        el.dispatchEvent(new CustomEvent("countdown:zero", { bubbles: true }));
      }
    });
    setTimeout(tick, 1000 - (FP.now() % 1000) + 5);
  }
  tick();

  document.addEventListener("countdown:zero", function (event) {
    if (event.target.getAttribute("data-on-zero") === "reload") {
      /* A moment after the boundary, so the server agrees that the sale has opened or ended. */
      setTimeout(function () { window.location.reload(); }, 1200);
    }
  });

  /* A page restored from the back/forward cache carries an old clock and old counts. */
  window.addEventListener("pageshow", function (event) {
    if (event.persisted) window.location.reload();
  });

  /* A product image that fails to load is replaced by the neutral placeholder, once. */
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img.tagName === "IMG" && !img.hasAttribute("data-fallback")) {
      img.setAttribute("data-fallback", "1");
      img.src = "/static/demo/product.svg";
    }
  }, true);
})();
