// The schedule form: when the campaign has no time zone yet, offer the browser's own.
(function () {
  "use strict";
  function guess() {
    var select = document.querySelector("select[data-guess-zone]");
    if (!select) return;
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (e) {
      return;
    }
    for (var i = 0; i < select.options.length; i++) {
      if (select.options[i].value === zone) {
        select.value = zone;
        return;
      }
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", guess);
  } else {
    guess();
  }
})();
