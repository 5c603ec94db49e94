// The sale calendar's forms check themselves while they are typed: a pause in typing asks the form's
// data-check URL for what the save would refuse (event length, price band, free stock) and what it
// would warn about (overlaps on the channel, the brand on sale elsewhere), and shows both beside the
// fields. The save checks everything again; without scripts the form still works, checked on submit.
(function () {
  "use strict";

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
    if (factSlot && facts.band_low) {
      factSlot.textContent = facts.brand + ": original ¥" + facts.original + ", sale price ¥" + facts.band_low +
        " to ¥" + facts.band_high + "; " + facts.free + " units free in this warehouse.";
    }
    var lengthSlot = form.querySelector("[data-length]");
    if (lengthSlot && facts.min_days) {
      lengthSlot.textContent = "An event lasts " + facts.min_days + " to " + facts.max_days + " days.";
    }
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
