/* Flashport storefront: the linked province → city → district lists of an address form.
 *
 * Without this script the form still works: the server fills each list for the one chosen above it
 * when the form comes back. With it, choosing a province fills its cities at once (and a city its
 * districts) from /divisions/<code>; a list below a changed one is emptied, so a district can never
 * belong to another city than the one shown.
 */
(function () {
  "use strict";
  var FP = window.Flashport;
  var cache = {};

  function fill(select, places, placeholder) {
    select.innerHTML = "";
    var first = document.createElement("option");
    first.value = "";
    first.textContent = placeholder;
    select.appendChild(first);
    places.forEach(function (place) {
      var option = document.createElement("option");
      option.value = place.code;
      option.textContent = place.name;
      select.appendChild(option);
    });
  }

  function children(code) {
    if (!code) return Promise.resolve([]);
    if (cache[code]) return Promise.resolve(cache[code]);
    return fetch("/divisions/" + encodeURIComponent(code), { headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : { children: [] }; })
      .then(function (body) { cache[code] = body.children || []; return cache[code]; });
  }

  document.querySelectorAll("[data-division-lists]").forEach(function (lists) {
    var province = lists.querySelector("[data-division-list=consignee_province]");
    var city = lists.querySelector("[data-division-list=consignee_city]");
    var district = lists.querySelector("[data-division-list=consignee_district]");
    if (!province || !city || !district) return;

    province.addEventListener("change", function () {
      fill(city, [], FP.t("choose_city"));
      fill(district, [], FP.t("choose_city_first"));
      children(province.value).then(function (places) {
        fill(city, places, province.value ? FP.t("choose_city") : FP.t("choose_province_first"));
      });
    });
    city.addEventListener("change", function () {
      fill(district, [], FP.t("choose_district"));
      children(city.value).then(function (places) {
        fill(district, places, city.value ? FP.t("choose_district") : FP.t("choose_city_first"));
        /* A city without districts (东莞市) is its own district: choose it at once. */
        if (places.length === 1) district.value = places[0].code;
      });
    });
  });
})();
