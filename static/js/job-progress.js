/* Live progress of a background job (an import, an export): polls the job's JSON (the section's
   data-status-url) until it is done or failed, and moves the status badge ([data-job-status]),
   the bar ([data-job-bar]) and the percentage ([data-job-percent]) in place. Each page adds
   what is its own through hooks: onData(data) on every answer, onFinish(data) once at the end.
   Without JavaScript the pages refresh themselves (<noscript>). */
(function () {
  "use strict";

  var BADGES = { done: "ok", failed: "error" };
  var FINISHED = { done: true, failed: true };
  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 10000;

  function watch(section, hooks) {
    hooks = hooks || {};
    var url = section.getAttribute("data-status-url");
    var badge = section.querySelector("[data-job-status]");
    var bar = section.querySelector("[data-job-bar]");
    var percentText = section.querySelector("[data-job-percent]");
    // The words come translated from the page (data-label-* attributes).
    function label(status) {
      return section.getAttribute("data-label-" + status) || status;
    }

    function show(data) {
      if (badge) {
        badge.textContent = label(data.status);
        badge.className = "badge " + (BADGES[data.status] || "warning");
      }
      section.setAttribute("data-status", data.status);
      var progress = Math.max(0, Math.min(1, Number(data.progress) || 0));
      var percent = Math.round(progress * 100) + "%";
      if (bar) {
        bar.value = progress;
        bar.textContent = percent;
      }
      if (percentText) percentText.textContent = percent;
    }

    var delay = POLL_MS;

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("HTTP " + response.status);
          return response.json();
        })
        .then(function (data) {
          delay = POLL_MS;
          show(data);
          if (hooks.onData) hooks.onData(data);
          if (FINISHED[data.status]) {
            if (hooks.onFinish) hooks.onFinish(data);
          } else {
            window.setTimeout(poll, delay);
          }
        })
        .catch(function () {
          // A blip (deploy, network): try again, less often, rather than give up.
          delay = Math.min(delay * 2, MAX_BACKOFF_MS);
          window.setTimeout(poll, delay);
        });
    }

    if (!FINISHED[section.getAttribute("data-status")]) poll();
  }

  window.jobProgress = { watch: watch };
})();
