/* The campaign page's hold countdown: "(4 h 12 min 5 s left)" after the hold's end time, updated
   every second. Without JavaScript the page shows the end time and how long was left when it
   was loaded. */
(function () {
  "use strict";

  function part(value, unit) {
    return value ? value + " " + unit + " " : "";
  }

  function remaining(ms) {
    var seconds = Math.floor(ms / 1000);
    var days = Math.floor(seconds / 86400);
    var hours = Math.floor((seconds % 86400) / 3600);
    var minutes = Math.floor((seconds % 3600) / 60);
    var text = part(days, "d") + part(hours, "h") + part(minutes, "min");
    // Seconds only in the last hour: above that they just flicker.
    if (!days && !hours) text += (seconds % 60) + " s ";
    return text.trim();
  }

  document.querySelectorAll("[data-countdown]").forEach(function (element) {
    var end = Date.parse(element.getAttribute("data-countdown"));
    if (isNaN(end)) return;
    var timer = null;
    function tick() {
      var left = end - Date.now();
      if (left <= 0) {
        element.textContent = " (the hold is over: the probe is being judged; reload for the verdict)";
        if (timer) window.clearInterval(timer);
        return;
      }
      element.textContent = " (" + remaining(left) + " left)";
    }
    tick();
    timer = window.setInterval(tick, 1000);
  });
})();
