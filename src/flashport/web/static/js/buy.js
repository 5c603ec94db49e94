/* Flashport storefront: the buy button.
 *
 * The form works without scripts (a POST, then a redirect to the orders page). With scripts, it is
 * sent with fetch so the buyer sees progress and a sold-out answer at once. The idempotency key is in
 * the form from the moment the page rendered: a double click, or a retry after a lost answer, sends
 * the same key, and the server gives back the same order instead of a second one.
 */
(function () {
  "use strict";
  var FP = window.Flashport;
  var SLOW_MS = 2500;

  document.querySelectorAll("form[data-buy-form]").forEach(function (form) {
    var button = form.querySelector("[data-buy-button]");
    var label = form.querySelector("[data-buy-label]");
    var status = form.querySelector("[data-buy-status]");
    var quantity = form.querySelector("input[name=quantity]");
    var card = form.closest("[data-item-id]");
    var inFlight = false;

    function busy(on, text) {
      inFlight = on;
      button.disabled = on;
      button.classList.toggle("is-busy", on);
      button.setAttribute("aria-busy", on ? "true" : "false");
      label.textContent = text;
    }

    function answered(response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        return { status: response.status, body: body };
      });
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (inFlight || button.disabled) return;
      if (!form.reportValidity()) return;
      busy(true, FP.t("reserving"));
      status.textContent = FP.t("reserving_units");
      var slow = setTimeout(function () {
        status.textContent = FP.t("still_reserving");
      }, SLOW_MS);
      fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { Accept: "application/json", "X-CSRF-Token": form.elements.csrf_token.value },
        credentials: "same-origin",
      })
        .then(answered)
        .then(function (answer) {
          if (answer.status === 200 || answer.status === 201) {
            label.textContent = FP.t("reserved");
            status.textContent = FP.t("reserved_redirect");
            window.location.assign(answer.body.redirect || "/orders");
            return;
          }
          busy(false, FP.t("buy_now"));
          if (answer.status === 401) {
            window.location.assign("/login?next=" + encodeURIComponent(window.location.pathname));
            return;
          }
          if (answer.body.code === "sold_out" && card) FP.setSoldOut(card, true);
          /* The server says why in the page's language, as a whole sentence. */
          status.textContent = answer.body.message || FP.t("went_wrong");
        })
        .catch(function () {
          /* The answer was lost, not necessarily the purchase: keep the same key and quantity so a
           * retry returns the order if it was made. */
          busy(false, FP.t("try_again"));
          quantity.readOnly = true;
          status.textContent = FP.t("connection");
        })
        .then(function () { clearTimeout(slow); });
    });
  });
})();
