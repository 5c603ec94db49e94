/* Flashport operator console: the live sale board.
 *
 * Polls /operator/board.json every second (the server builds one board a second per process however
 * many screens ask) and updates the figures in place; each item keeps its last two minutes of units a
 * second (the bars) and units left (the line) here in the page, drawn as a small SVG chart. An event
 * that starts or ends, or a pause or resume (the controls change), while the page is open changes
 * what the page shows: it reloads once. A reload never happens while a control is open.
 */
(function () {
  "use strict";
  var root = document.querySelector("[data-board]");
  if (!root) return;
  var url = root.getAttribute("data-board-url");
  var KEEP = 120;
  var history = {};
  var SVG = "http://www.w3.org/2000/svg";

  /* Time to sell out, in the page's units (base.html's #fp-text). */
  function seconds(value) {
    var t = window.Flashport.t;
    if (value === null) return "—";
    if (value < 90) return Math.round(value) + " " + t("unit_seconds");
    if (value < 5400) return Math.round(value / 60) + " " + t("unit_minutes");
    return (value / 3600).toFixed(1) + " " + t("unit_hours");
  }
  /* A UTC ISO moment in China time (UTC+8 all year), written as the page's server writes it. */
  var MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  function chinaTime(iso) {
    var d = new Date(Date.parse(iso) + 8 * 3600 * 1000);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    var clock = pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + ":" + pad(d.getUTCSeconds());
    var day = document.documentElement.lang.indexOf("zh") === 0
      ? d.getUTCFullYear() + "年" + (d.getUTCMonth() + 1) + "月" + d.getUTCDate() + "日 "
      : d.getUTCDate() + " " + MONTHS[d.getUTCMonth()] + " " + d.getUTCFullYear() + ", ";
    return window.Flashport.t("china_time").replace("{time}", day + clock);
  }
  function percent(value) {
    return value === null ? "—" : (value * 100).toFixed(1) + " %";
  }
  var FORMAT = {
    units_per_second: function (v) { return v.toFixed(1); },
    conversion: percent,
    seconds_to_sell_out: seconds
  };

  function shape(board) {
    return board.events.map(function (e) {
      return e.event_id + (e.paused ? "p" : "") + ":" + e.items.map(function (i) {
        return i.item_id + (i.paused ? "p" : "");
      }).join(",");
    }).join(";");
  }
  function shown() {
    return Array.prototype.map.call(root.querySelectorAll("[data-event-id]"), function (section) {
      var ids = Array.prototype.map.call(section.querySelectorAll("[data-item-id]"), function (row) {
        return row.getAttribute("data-item-id") + (row.hasAttribute("data-paused") ? "p" : "");
      });
      return section.getAttribute("data-event-id") + (section.hasAttribute("data-paused") ? "p" : "") + ":" + ids.join(",");
    }).join(";");
  }

  function draw(svg, points, quantity) {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var most = Math.max.apply(null, points.map(function (p) { return p.rate; }).concat([1]));
    var width = 120 / KEEP;
    points.forEach(function (p, n) {
      var h = Math.round((p.rate / most) * 30);
      if (h === 0) return;
      var bar = document.createElementNS(SVG, "rect");
      bar.setAttribute("x", (n * width).toFixed(2));
      bar.setAttribute("y", String(32 - h));
      bar.setAttribute("width", Math.max(width, 0.8).toFixed(2));
      bar.setAttribute("height", String(h));
      bar.setAttribute("class", "board-bar");
      svg.appendChild(bar);
    });
    if (points.length > 1 && quantity > 0) {
      var line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", points.map(function (p, n) {
        return (n * width).toFixed(2) + "," + (31 - (p.left / quantity) * 30).toFixed(2);
      }).join(" "));
      line.setAttribute("class", "board-left");
      svg.appendChild(line);
    }
  }

  function show(board) {
    if (shape(board) !== shown()) {
      if (!root.querySelector("details[open]")) window.location.reload();
      return;
    }
    var stamp = root.parentNode.querySelector("[data-board-stamp] time");
    if (stamp) {
      stamp.setAttribute("datetime", board.at);
      stamp.textContent = chinaTime(board.at);
    }
    board.events.forEach(function (e) {
      e.items.forEach(function (i) {
        var row = root.querySelector('[data-item-id="' + i.item_id + '"]');
        if (!row) return;
        row.querySelectorAll("[data-field]").forEach(function (cell) {
          var name = cell.getAttribute("data-field");
          var format = FORMAT[name];
          cell.textContent = format ? format(i[name]) : String(i[name]);
        });
        var points = (history[i.item_id] = history[i.item_id] || []);
        points.push({ rate: i.units_per_second, left: i.left });
        if (points.length > KEEP) points.shift();
        var svg = row.querySelector("[data-chart]");
        if (svg) draw(svg, points, i.quantity);
      });
    });
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (board) { if (board) show(board); })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { window.setTimeout(poll, 1000); });
  }
  window.setTimeout(poll, 1000);
})();
