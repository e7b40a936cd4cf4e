/* The campaign page's live parts: the send's progress and the hold countdown.

   #progress-live holds the steps of the send (campaigns/_send_progress.html). While the
   campaign is under way and the tab is visible, the fragment is fetched again every few seconds
   (data-poll-url, data-poll-seconds) and each step whose data-sig changed is swapped in, so the
   aria-live region announces only what changed. Polling stops at a final state (data-final),
   pauses while the tab is hidden, backs off after errors and ends on a 4xx or anything that is
   not the fragment (signed out, campaign deleted). The countdown ticks every second; its words
   come translated in the region's data-* attributes. Without JavaScript the page shows the
   state it was loaded in, and a reload shows the current one. The fragment also carries the
   figures table (#figures) once the probe is chosen, swapped in the same way. */
(function () {
  "use strict";

  var region = document.getElementById("progress-live");
  if (!region) return;
  var words = region.dataset;
  var every = (parseFloat(words.pollSeconds) || 5) * 1000;
  var initialStatus = root().getAttribute("data-status");
  var timer = null;
  var failures = 0;
  var stopped = false;

  function root() {
    return document.getElementById("send-progress");
  }

  // --- the countdown ---------------------------------------------------------------------------

  function part(value, unit) {
    return value ? value + " " + unit + " " : "";
  }

  function remaining(ms) {
    var seconds = Math.floor(ms / 1000);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var text = part(days, words.unitDays) + part(hours, words.unitHours) +
      part(minutes, words.unitMinutes);
    // Seconds only in the last hour: above that they just flicker.
    if (!days && !hours) text += (seconds % 60) + " " + words.unitSeconds;
    return text.trim();
  }

  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (element) {
      var end = Date.parse(element.getAttribute("data-countdown"));
      if (isNaN(end)) return;
      // The end time is read out from the <time> beside it; a screen reader is not told every second.
      element.setAttribute("aria-hidden", "true");
      var left = end - Date.now();
      var text = left > 0 ? " " + words.textLeft.replace("{time}", remaining(left)) : " " + words.textOver;
      if (element.textContent !== text) element.textContent = text;
      if (left <= 0 && !element.hasAttribute("data-over")) {
        element.setAttribute("data-over", "");
        schedule(1000); // the verdict follows within a minute: ask again soon
      }
    });
  }

  // --- polling ---------------------------------------------------------------------------------

  function isFinal(element) {
    return element.getAttribute("data-final") === "true";
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = null;
    if (!stopped && !document.hidden) timer = window.setTimeout(poll, delay);
  }

  function stop() {
    stopped = true;
    window.clearTimeout(timer);
  }

  function swap(fresh) {
    var current = root();
    var parts = fresh.querySelectorAll("[data-sig][id]");
    var sameSteps = parts.length === current.querySelectorAll("[data-sig][id]").length;
    Array.prototype.forEach.call(parts, function (part) {
      var old = document.getElementById(part.id);
      if (!old || !current.contains(old)) sameSteps = false;
      else if (old.getAttribute("data-sig") !== part.getAttribute("data-sig")) {
        old.replaceWith(document.importNode(part, true));
      }
    });
    if (!sameSteps) {
      current.replaceWith(document.importNode(fresh, true));
    } else {
      ["data-status", "data-status-label", "data-final"].forEach(function (name) {
        current.setAttribute(name, fresh.getAttribute(name));
      });
    }
    var status = fresh.getAttribute("data-status");
    document.querySelectorAll("#campaign-status .badge.status, #summary .badge.status").forEach(
      function (badge) {
        badge.className = "badge status status-" + status;
        badge.textContent = fresh.getAttribute("data-status-label");
      }
    );
    var stale = document.getElementById("progress-stale");
    if (stale && status !== initialStatus) stale.hidden = false;
    tick();
  }

  // The figures table below (campaigns/_figures_table.html) comes with the timeline once the
  // probe is chosen: swapped whole when its data-sig changed, so "Sent" never lags the steps.
  function swapFigures(fresh) {
    var current = document.getElementById("figures");
    if (!fresh || !current) return;
    if (current.getAttribute("data-sig") !== fresh.getAttribute("data-sig")) {
      current.replaceWith(document.importNode(fresh, true));
    }
  }

  function poll() {
    timer = null;
    window.fetch(words.pollUrl, {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "text/html" },
    })
      .then(function (response) {
        if (response.status >= 400 && response.status < 500) return null;
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        var parsed = html && new DOMParser().parseFromString(html, "text/html");
        var fresh = parsed && parsed.getElementById("send-progress");
        if (!fresh) return stop();
        failures = 0;
        swap(fresh);
        swapFigures(parsed.getElementById("figures"));
        if (isFinal(fresh)) stop();
        else schedule(every);
      })
      .catch(function () {
        failures += 1;
        schedule(Math.min(every * Math.pow(2, failures), 60000));
      });
  }

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) {
      window.clearTimeout(timer);
      timer = null;
    } else if (!stopped) {
      poll(); // back on the tab: catch up at once
    }
  });

  tick();
  window.setInterval(tick, 1000);
  if (isFinal(root())) stop();
  else schedule(every);
})();
