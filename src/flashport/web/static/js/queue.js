/* Flashport storefront: the waiting room.
 *
 * Polls the small JSON status at the interval the server asks for, with If-None-Match so an unchanged
 * answer is an empty 304. When the join looked automated, the server put a proof-of-work challenge:
 * this script finds a number whose SHA-256 with the challenge starts with enough zero bits, then sends
 * the join form. Texts come translated in the page's data attributes.
 */
(function () {
  "use strict";
  var box = document.querySelector("[data-queue]");
  if (!box) return;

  function zeroBits(bytes) {
    var bits = 0;
    for (var i = 0; i < bytes.length; i++) {
      if (bytes[i] === 0) { bits += 8; continue; }
      return bits + Math.clz32(bytes[i]) - 24;
    }
    return bits;
  }

  function solve(form) {
    var challenge = form.getAttribute("data-challenge");
    var difficulty = parseInt(challenge.split(".")[3], 10);
    var encoder = new TextEncoder();
    var n = 0;
    function step() {
      var batch = [];
      for (var k = 0; k < 256; k++, n++) {
        batch.push(crypto.subtle.digest("SHA-256", encoder.encode(challenge + ":" + n)));
      }
      var first = n - 256;
      return Promise.all(batch).then(function (digests) {
        for (var j = 0; j < digests.length; j++) {
          if (zeroBits(new Uint8Array(digests[j])) >= difficulty) return String(first + j);
        }
        return step();
      });
    }
    step().then(function (solution) {
      form.querySelector("[data-solution]").value = solution;
      form.submit();
    });
  }

  var join = document.querySelector("form[data-queue-join][data-challenge]");
  if (join) { solve(join); return; }

  var text = box.querySelector("[data-queue-text]");
  var etag = null;

  function fill(template, values) {
    return template.replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }

  function show(status) {
    var state = status.state;
    box.setAttribute("data-state", state);
    box.querySelector("[data-queue-buy]").hidden = state !== "admitted";
    box.querySelector("[data-queue-waitlist]").hidden = state !== "sold_out";
    if (state === "waiting") {
      var minutes = Math.max(1, Math.ceil((status.estimated_wait_seconds || 60) / 60));
      var template = status.estimated_wait_seconds !== null && status.estimated_wait_seconds < 60
        ? box.dataset.textSoon : box.dataset.textWaiting;
      text.textContent = fill(template, { position: status.position, minutes: minutes });
    } else if (state === "admitted") {
      text.textContent = box.dataset.textAdmitted;
      box.querySelector("[data-queue-buy-link]").href =
        box.dataset.itemUrl + "?admission=" + encodeURIComponent(status.admission_token);
    } else if (state === "sold_out") {
      text.textContent = box.dataset.textSoldOut;
    } else if (state === "pre_queue") {
      text.textContent = box.dataset.textPreQueue;
    }
  }

  function poll(seconds) {
    setTimeout(function () {
      var headers = { Accept: "application/json" };
      if (etag) headers["If-None-Match"] = etag;
      fetch(box.dataset.statusUrl, { headers: headers, credentials: "same-origin" })
        .then(function (response) {
          if (response.status === 304) return null;
          if (!response.ok) throw new Error("status " + response.status);
          etag = response.headers.get("ETag");
          return response.json();
        })
        .then(function (status) {
          if (status) show(status);
          var next = status ? status.poll_seconds : seconds;
          if (!status || (status.state !== "sold_out")) poll(next);
        })
        .catch(function () { poll(Math.min(30, seconds * 2)); });
    }, seconds * 1000);
  }

  var state = box.getAttribute("data-state");
  if (state === "waiting" || state === "pre_queue" || state === "admitted") {
    poll(parseFloat(box.getAttribute("data-poll")) || 2);
  }
})();
