/* "Copy" buttons: copy the text of the element named by data-copy. Hidden without JavaScript,
   where the read-only textarea can still be selected and copied by hand. */
(function () {
  "use strict";

  document.querySelectorAll("button[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    var status = document.getElementById("copy-status");
    if (!source) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = source.value !== undefined ? source.value : source.textContent;
      var done = function () { if (status) status.textContent = "Copied."; };
      var fallback = function () {
        source.focus();
        source.select();
        var copied = document.execCommand && document.execCommand("copy");
        if (status) status.textContent = copied ? "Copied." : "Press Ctrl+C (⌘C) to copy.";
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, fallback);
      } else {
        fallback();
      }
    });
  });
})();
