/* Flashport storefront: units left and sold-out states, kept current without a reload.
 *
 * The page polls a small JSON answer (/live/events/<id>) every ~2 s, with jitter so that pages opened
 * together do not poll together, and not at all while the tab is hidden. The server answers from a
 * half-second snapshot, so a thousand open pages cost it about two stock reads a second.
 */
(function () {
  "use strict";
  var FP = window.Flashport;
  var root = document.querySelector("[data-live-url]");
  var INTERVAL = 2000;

  FP.setSoldOut = function (card, soldOut) {
    var state = card.getAttribute("data-sale-state");
    var goingOut = soldOut && state === "live";
    var comingBack = !soldOut && state === "sold_out" && root && root.getAttribute("data-event-status") === "live";
    if (!goingOut && !comingBack) return;
    card.setAttribute("data-sale-state", soldOut ? "sold_out" : "live");
    card.classList.toggle("is-sold-out", soldOut);
    card.querySelectorAll("[data-buy-form] input[name=quantity]").forEach(function (input) {
      input.disabled = soldOut;
    });
    card.querySelectorAll("[data-buy-button]").forEach(function (button) {
      button.disabled = soldOut;
      var label = button.querySelector("[data-buy-label]");
      if (label) label.textContent = soldOut ? FP.t("all_reserved") : label.getAttribute("data-live-label");
    });
    var title = card.querySelector(".item-title, .product-title");
    FP.announce((title ? title.textContent + ": " : "") + (soldOut ? FP.t("all_reserved") : FP.t("back_on_sale")));
  };

  if (!root) return;
  var url = root.getAttribute("data-live-url");
  var timer = null;

  function apply(state) {
    state.items.forEach(function (item) {
      var card = document.querySelector('[data-item-id="' + item.id + '"]');
      if (!card) return;
      card.querySelectorAll("[data-remaining]").forEach(function (el) {
        el.textContent = item.remaining.toLocaleString("en");
      });
      card.querySelectorAll("progress").forEach(function (bar) {
        bar.value = item.remaining;
      });
      FP.setSoldOut(card, item.sold_out);
    });
    if (root.getAttribute("data-event-status") === "scheduled" && state.status === "live") {
      window.location.reload();
    }
  }

  function poll() {
    if (document.hidden) return schedule();
    var sentAt = Date.now();
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (response.status === 404) return null; /* the sale was withdrawn: nothing more to follow */
        if (!response.ok) throw new Error("live " + response.status);
        return response.json().then(function (state) {
          FP.syncClock(state.server_time, sentAt, Date.now());
          apply(state);
          return state;
        });
      })
      .catch(function () { return true; /* a missed poll is simply retried at the next one */ })
      .then(function (carryOn) { if (carryOn) schedule(); });
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(poll, INTERVAL * (0.8 + Math.random() * 0.4));
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) poll();
  });
  schedule();
})();
