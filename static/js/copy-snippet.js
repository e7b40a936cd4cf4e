/* "Copy" buttons: copy the text of the element named by data-copy. Hidden without JavaScript,
   where the read-only textarea can still be selected and copied by hand. The status words come
   translated from the page (data-copied, data-copy-by-hand on #copy-status). */
(function () {
  "use strict";

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.value !== undefined ? source.value : source.textContent;
      var say = function (name, fallback) {
        if (status) status.textContent = status.getAttribute("data-" + name) || fallback;
      };
      var done = function () { say("copied", "Copied."); };
      var fallback = function () {
        source.focus();
        source.select();
        var copied = document.execCommand && document.execCommand("copy");
        if (copied) say("copied", "Copied.");
        else say("copy-by-hand", "Press Ctrl+C (⌘C) to copy.");
      };
      if (navigator.clipboard && window.isSecureContext) {
        // A browser may leave writeText pending (no focus, a permission prompt nobody answers):
        // after a second the selection fallback answers instead, so the button never says nothing.
        var settled = false;
        var once = function (answer) {
          return function () { if (!settled) { settled = true; answer(); } };
        };
        var timer = window.setTimeout(once(fallback), 1000);
        navigator.clipboard.writeText(text).then(
          function () { window.clearTimeout(timer); once(done)(); },
          function () { window.clearTimeout(timer); once(fallback)(); }
        );
      } else {
        fallback();
      }
    });
  });
})();
