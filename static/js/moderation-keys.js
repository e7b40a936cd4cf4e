/* Keyboard shortcuts on the moderators' pages (listed in their "Keyboard shortcuts" box):
   j/k (or the arrows) walk the queue's campaigns, "/" searches, and on a review page a, r, d
   jump to a decision, f and p to the findings and the message, u back to the queue; "?" opens
   the list. Everything also works with the mouse or Tab alone: this only saves moves. */
(function () {
  "use strict";

  function typing(target) {
    var tag = target.tagName;
    return target.isContentEditable || tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT";
  }

  function bring(element) {
    // A decision's form: its first control (the common reasons, or the button).
    if (element && element.tagName === "FORM") {
      element = element.querySelector("input:not([type=hidden]), textarea, select, button");
    }
    if (!element) return false;
    element.scrollIntoView({ block: "center" });
    element.focus({ preventScroll: true });
    return true;
  }

  function stepThroughQueue(step) {
    var links = Array.prototype.slice.call(document.querySelectorAll("#queue a.row-link"));
    if (!links.length) return false;
    var index = links.indexOf(document.activeElement);
    index = index === -1 ? (step > 0 ? 0 : links.length - 1) : index + step;
    return bring(links[Math.max(0, Math.min(links.length - 1, index))]);
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typing(event.target)) return;
    var key = event.key;
    var done = false;
    if (key === "?") {
      var box = document.getElementById("shortcuts");
      if (box) {
        box.open = !box.open;
        done = bring(box.querySelector("summary"));
      }
    } else if (key === "j" || key === "ArrowDown") {
      done = document.getElementById("queue") ? stepThroughQueue(1) : false;
    } else if (key === "k" || key === "ArrowUp") {
      done = document.getElementById("queue") ? stepThroughQueue(-1) : false;
    } else {
      var target = document.querySelector('[data-shortcut="' + key + '"]');
      if (target && target.hasAttribute("data-shortcut-go")) {
        window.location.assign(target.getAttribute("href"));
        done = true;
      } else {
        done = bring(target);
      }
    }
    if (done) event.preventDefault();
  });
})();
