// Suggest the browser's time zone for every <select data-suggest-zone> (no inline script,
// so a strict Content-Security-Policy can forbid inline code). On sign-up forms
// (<form data-zone-auto>) the zone is picked for the person, who can still change it;
// elsewhere a button offers it.
(function () {
  "use strict";
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }
  function suggest(select) {
    var zone = browserZone();
    if (!zone || select.value === zone) return;
    var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
    if (!known) return;
    if (select.form && select.form.hasAttribute("data-zone-auto") && !select.dataset.touched) {
      select.value = zone;
      return;
    }
    var button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.textContent = "Use my device's zone (" + zone.replace(/_/g, " ") + ")";
    button.addEventListener("click", function () { select.value = zone; button.remove(); });
    select.insertAdjacentElement("afterend", button);
  }
  function init() {
    document.querySelectorAll("select[data-suggest-zone]").forEach(function (select) {
      select.addEventListener("change", function () { select.dataset.touched = "1"; });
      suggest(select);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
