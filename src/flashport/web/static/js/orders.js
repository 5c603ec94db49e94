/* Flashport storefront: the orders page follows its orders.
 *
 * While an order awaits payment, its countdown runs on the server's clock; at zero the pay button (and
 * on the order's page, its checkout form) is disabled at once. The page also asks every 5 s for its
 * orders' statuses (one small query) and reloads when one changed: paid in another tab, expired by
 * the server, or a payment being confirmed settled (accepted or refused).
 */
(function () {
  "use strict";
  var FP = window.Flashport;
  var list = document.querySelector("[data-live-orders]");
  if (!list) return;
  var INTERVAL = 5000;

  document.addEventListener("countdown:zero", function (event) {
    if (event.target.getAttribute("data-on-zero") !== "payment-closed") return;
    var card = event.target.closest("[data-order-no]");
    if (!card) return;
    card.classList.add("is-closing");
    card.querySelectorAll("[data-pay-button]").forEach(function (button) { button.disabled = true; });
    card.querySelectorAll("[data-checkout-link]").forEach(function (link) {
      link.removeAttribute("href");
      link.setAttribute("aria-disabled", "true");
    });
    var label = card.querySelector("[data-status-label]");
    if (label) label.textContent = FP.t("window_closed");
    closeOrderPage(card.getAttribute("data-order-no"));
  });

  /* The order's own page: its checkout form and Pay button close with the window too. */
  function closeOrderPage(orderNo) {
    document.querySelectorAll("[data-order-actions]").forEach(function (section) {
      if (section.getAttribute("data-order-actions") !== orderNo) return;
      section.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
      section.querySelectorAll("[data-pay-locked]").forEach(function (note) { note.hidden = true; });
      section.querySelectorAll("[data-window-closed]").forEach(function (note) { note.hidden = false; });
    });
    document.querySelectorAll("[data-checkout-form] button").forEach(function (button) { button.disabled = true; });
  }

  function pending() {
    return list.querySelector('[data-status="pending_payment"]') !== null;
  }

  function poll() {
    if (!pending()) return;
    if (document.hidden) return setTimeout(poll, INTERVAL);
    var sentAt = Date.now();
    fetch(list.getAttribute("data-live-orders"), { headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("orders " + response.status);
        return response.json();
      })
      .then(function (state) {
        FP.syncClock(state.server_time, sentAt, Date.now());
        var changed = state.orders.some(function (order) {
          var card = list.querySelector('[data-order-no="' + order.order_no + '"]');
          if (!card) return false;
          // A payment being confirmed that the provider's word settled either way (paid, or refused
          // with the order still unpaid) changes the card as much as a new status does.
          var pendingNow = order.payment_pending ? "true" : "false";
          return card.getAttribute("data-status") !== order.status ||
            card.getAttribute("data-payment-pending") !== pendingNow;
        });
        if (changed) window.location.reload();
      })
      .catch(function () { /* retried at the next poll */ })
      .then(function () { setTimeout(poll, INTERVAL); });
  }
  setTimeout(poll, INTERVAL);
})();
