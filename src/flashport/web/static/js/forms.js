/* Flashport storefront: the checkout and identity forms.
 *
 * Everything works without this script (plain posts, every field shown). With it: a refused form's
 * summary takes the focus, so it is read out and in view; the new-identity fields show only when
 * "Add someone new" is chosen (and the new address's when "Use a new address" is); and a submitted form
 * cannot be sent twice.
 */
(function () {
  "use strict";

  var problem = document.querySelector("[data-form-problem]");
  if (problem) {
    var folded = problem.closest("details");
    if (folded) folded.open = true;
    problem.focus();
  }

  document.querySelectorAll("[data-checkout-form]").forEach(function (form) {
    var submit = form.querySelector("[data-checkout-submit]");
    var label = form.querySelector("[data-submit-label]");
    var sent = false;

    /* The new identity's fields, and the new address's, show only when "new" is chosen. */
    [["identity_id", "[data-new-identity]", "[data-new-identity-choice]"],
     ["address_id", "[data-new-address]", "[data-new-address-choice]"]].forEach(function (group) {
      var fields = form.querySelector(group[1]);
      var newChoice = form.querySelector(group[2]);
      if (!fields || !newChoice) return;
      fields.querySelectorAll("[data-no-script-note]").forEach(function (note) { note.hidden = true; });
      var show = function () { fields.hidden = !newChoice.checked; };
      form.querySelectorAll('input[name="' + group[0] + '"]').forEach(function (radio) {
        radio.addEventListener("change", function () {
          show();
          if (newChoice.checked) fields.querySelector("input, select").focus();
        });
      });
      show();
    });

    form.addEventListener("submit", function (event) {
      if (sent) {
        event.preventDefault();
        return;
      }
      sent = true;
      if (submit) {
        submit.classList.add("is-busy");
        submit.setAttribute("aria-busy", "true");
        if (label) label.textContent = window.Flashport.t("working_out");
        /* Disabled only after this event: the browser has already taken the form's values. */
        setTimeout(function () { submit.disabled = true; }, 0);
      }
    });
  });
})();
