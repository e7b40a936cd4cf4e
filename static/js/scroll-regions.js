/* A box that scrolls (a wide table on a phone, a long DNS value) can be reached with the keyboard:
   while its content overflows it takes part in the tab order, so arrow keys scroll it, and it is
   named after its table's caption or the heading before it. Boxes that fit are left alone. */
(function () {
  "use strict";

  var SCROLLERS = ".table-wrap, .copy, pre.mail, #timeline";

  function nameOf(box) {
    var caption = box.querySelector("caption");
    if (caption) return caption.textContent.trim();
    for (var node = box; node && node !== document.body; node = node.parentElement) {
      for (var before = node.previousElementSibling; before; before = before.previousElementSibling) {
        if (/^H[1-6]$/.test(before.tagName)) return before.textContent.trim();
      }
    }
    return "";
  }

  function update() {
    document.querySelectorAll(SCROLLERS).forEach(function (box) {
      var style = window.getComputedStyle(box);
      var scrolls = /(auto|scroll)/.test(style.overflowX + style.overflowY) &&
        (box.scrollWidth > box.clientWidth + 1 || box.scrollHeight > box.clientHeight + 1);
      var ours = box.hasAttribute("data-scroll-focus");
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        var name = nameOf(box);
        var named = Boolean(name) && !box.hasAttribute("role");
        box.setAttribute("data-scroll-focus", named ? "region" : "");
        if (named) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", name);
        }
      } else if (!scrolls && ours) {
        if (box.getAttribute("data-scroll-focus") === "region") {
          box.removeAttribute("role");
          box.removeAttribute("aria-label");
        }
        box.removeAttribute("tabindex");
        box.removeAttribute("data-scroll-focus");
      }
    });
  }

  var pending = 0;
  function later() {
    window.cancelAnimationFrame(pending);
    pending = window.requestAnimationFrame(update);
  }
  update();
  window.addEventListener("resize", later);
  window.addEventListener("load", later);
})();
