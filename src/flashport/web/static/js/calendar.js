// The sale calendar's forms check themselves while they are typed: a pause in typing asks the form's
// data-check URL for what the save would refuse (event length, price band, free stock) and what it
// would warn about (overlaps on the channel, the brand on sale elsewhere), and shows both beside the
// fields. The save checks everything again; without scripts the form still works, checked on submit.
(function () {
  "use strict";

  /* A sentence of the page's language (base.html's #fp-text) with the answer's facts in its {slots}. */
  function said(key, facts) {
    return window.Flashport.t(key).replace(/\{(\w+)\}/g, function (slot, name) {
      return name in facts ? String(facts[name]) : slot;
    });
  }

  function show(form, answer) {
    form.querySelectorAll("[data-problem-for]").forEach(function (slot) {
      slot.textContent = (answer.problems || {})[slot.getAttribute("data-problem-for")] || "";
    });
    var warnings = form.querySelector("[data-warnings]");
    if (warnings) {
      warnings.replaceChildren.apply(warnings, (answer.warnings || []).map(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        return item;
      }));
    }
    var facts = answer.facts || {};
    var factSlot = form.querySelector("[data-facts]");
    if (factSlot && facts.band_low) factSlot.textContent = said("item_facts", facts);
    var lengthSlot = form.querySelector("[data-length]");
    if (lengthSlot && facts.min_days) lengthSlot.textContent = said("event_length", facts);
  }

  function query(form) {
    var url = new URL(form.getAttribute("data-check"), window.location.href);
    new FormData(form).forEach(function (value, name) {
      if (name !== "csrf_token" && typeof value === "string") url.searchParams.set(name, value);
    });
    return url;
  }

  function watch(form) {
    var timer = null;
    var asked = 0;
    function check() {
      var mine = ++asked;
      fetch(query(form), { headers: { accept: "application/json" }, credentials: "same-origin" })
        .then(function (answer) { return answer.ok ? answer.json() : null; })
        .then(function (answer) { if (answer && mine === asked) show(form, answer); })
        .catch(function () { /* the save checks again */ });
    }
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(check, 250);
    });
    check();
  }

  document.querySelectorAll("form[data-check]").forEach(watch);
})();
