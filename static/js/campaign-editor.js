/* Campaign pages: HTML/Text tabs for the message preview, and the editor's live preview.

   The editor posts the form (unsaved, with its CSRF token) to its preview URL 600 ms after the
   last edit and draws the JSON it gets back: subject, From/To, the HTML in the sandboxed iframe
   (srcdoc; no scripts, no access to this page) and the text. Without JavaScript, the "Update
   preview" button posts the form and the server draws the same preview; nothing is saved. */
(function () {
  "use strict";

  var DEBOUNCE_MS = 600;

  function byId(id) { return document.getElementById(id); }

  // --- tabs ------------------------------------------------------------------------------------

  function initTabs() {
    var tablist = document.querySelector(".tabs[role=tablist]");
    if (!tablist) return;
    var tabs = Array.prototype.slice.call(tablist.querySelectorAll("[role=tab]"));

    function select(tab, moveFocus) {
      tabs.forEach(function (other) {
        var selected = other === tab;
        other.setAttribute("aria-selected", selected ? "true" : "false");
        other.tabIndex = selected ? 0 : -1;
        byId(other.getAttribute("aria-controls")).hidden = !selected;
      });
      if (moveFocus) tab.focus();
    }

    tabs.forEach(function (tab, index) {
      var panel = byId(tab.getAttribute("aria-controls"));
      panel.setAttribute("role", "tabpanel");
      panel.setAttribute("aria-labelledby", tab.id);
      var heading = panel.querySelector(".panel-heading");
      if (heading) heading.hidden = true;
      tab.addEventListener("click", function () { select(tab, false); });
      tab.addEventListener("keydown", function (event) {
        var next = null;
        if (event.key === "ArrowRight") next = tabs[(index + 1) % tabs.length];
        else if (event.key === "ArrowLeft") next = tabs[(index - 1 + tabs.length) % tabs.length];
        else if (event.key === "Home") next = tabs[0];
        else if (event.key === "End") next = tabs[tabs.length - 1];
        if (next) {
          event.preventDefault();
          select(next, true);
        }
      });
    });
    tablist.hidden = false;
    select(tabs[0], false);
  }

  // --- the From address's suggestions ----------------------------------------------------------

  /* The datalist holds "@domain" for each verified domain; as the address is typed it offers
     "what-you-typed@domain" instead. */
  function initFromSuggestions() {
    var input = byId("id_from_email");
    var list = byId("from-domains");
    if (!input || !list) return;
    var domains = Array.prototype.map.call(list.options, function (option) {
      return option.value.replace(/^@/, "");
    });
    if (!domains.length) return;
    input.addEventListener("input", function () {
      var local = input.value.split("@")[0].trim();
      list.textContent = "";
      domains.forEach(function (domain) {
        var option = document.createElement("option");
        option.value = local + "@" + domain;
        list.appendChild(option);
      });
    });
  }

  // --- the live preview ------------------------------------------------------------------------

  function initLivePreview() {
    var form = byId("campaign-form");
    if (!form || !window.fetch || !window.FormData) return;
    var url = form.getAttribute("data-preview-url");
    var section = byId("preview");
    var state = byId("preview-state");
    var chooser = byId("id_subscriber_id");
    var timer = null;
    var sequence = 0;
    var controller = null;

    // The page's words, translated, from the form's data-text-* attributes (English without them).
    function word(name, english) { return form.getAttribute("data-text-" + name) || english; }

    function setState(text) { if (state) state.textContent = text; }

    function csrfToken() {
      var field = form.querySelector("input[name=csrfmiddlewaretoken]");
      return field ? field.value : "";
    }

    function fieldLabel(name) {
      if (name === "subscriber_id") return word("preview-as", "Preview as");
      var legend = name === "lists" && form.querySelector("#field-lists legend");
      if (legend) return legend.textContent.trim();
      var label = form.querySelector("label[for='id_" + name + "']");
      return label ? label.firstChild.textContent.trim() : word("content", "Content");
    }

    function clearLiveErrors() {
      form.querySelectorAll("[data-live-error]").forEach(function (element) { element.remove(); });
      form.querySelectorAll("[data-live-invalid]").forEach(function (element) {
        element.removeAttribute("aria-invalid");
        element.removeAttribute("data-live-invalid");
      });
    }

    function showErrors(errors) {
      clearLiveErrors();
      var box = byId("preview-errors");
      box.textContent = "";
      var names = Object.keys(errors || {});
      if (!names.length) return false;
      var list = document.createElement("ul");
      list.className = "errorlist nonfield";
      names.forEach(function (name) {
        errors[name].forEach(function (message) {
          var item = document.createElement("li");
          var label = document.createElement("strong");
          label.textContent = fieldLabel(name) + ":";
          item.appendChild(label);
          item.appendChild(document.createTextNode(" " + message));
          list.appendChild(item);
        });
        // The same message under the field itself, which is marked invalid.
        var input = byId("id_" + name);
        if (input && input.form === form && !input.hasAttribute("aria-invalid")) {
          var inline = document.createElement("ul");
          inline.className = "errorlist";
          inline.id = "id_" + name + "_live_errors";
          inline.setAttribute("data-live-error", "");
          errors[name].forEach(function (message) {
            var item = document.createElement("li");
            item.textContent = message;
            inline.appendChild(item);
          });
          input.parentNode.appendChild(inline);
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("data-live-invalid", "");
        }
      });
      box.appendChild(list);
      return true;
    }

    function updateChooser(recipients) {
      if (!chooser) return false;
      var current = chooser.value;
      var wanted = (recipients || []).map(function (r) { return String(r.id); });
      var shown = Array.prototype.slice.call(chooser.options, 1).map(function (o) { return o.value; });
      if (wanted.join(",") === shown.join(",")) return false;
      while (chooser.options.length > 1) chooser.remove(1);
      recipients.forEach(function (recipient) {
        chooser.add(new Option(recipient.label, String(recipient.id)));
      });
      if (current && wanted.indexOf(current) === -1) {
        chooser.value = "";
        return true; // the chosen subscriber left with its list: preview again without it
      }
      chooser.value = current;
      return false;
    }

    function show(data) {
      var broken = showErrors(data.errors);
      var chooserChanged = updateChooser(data.recipients);
      var sample = byId("preview-sample");
      if (broken && !data.html) {
        section.classList.add("stale");
        setState(word("last-good", "Showing the last preview that worked"));
      } else {
        section.classList.remove("stale");
        byId("preview-subject").textContent = data.subject || "—";
        byId("preview-from").textContent = data.from || "—";
        byId("preview-to").textContent = data.to || "—";
        byId("preview-html").srcdoc = data.html;
        byId("preview-text").textContent = data.text;
        if (sample) sample.hidden = !data.is_sample;
        setState(word("up-to-date", "Up to date"));
      }
      if (chooserChanged) refresh();
    }

    function refresh() {
      window.clearTimeout(timer);
      var mine = ++sequence;
      if (controller) controller.abort();
      controller = window.AbortController ? new AbortController() : null;
      setState(word("updating", "Updating…"));
      fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
        signal: controller ? controller.signal : undefined
      })
        .then(function (response) {
          var type = response.headers.get("Content-Type") || "";
          // A login page after the session expired is HTML, not the preview.
          if (!response.ok || type.indexOf("application/json") !== 0) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (data) {
          if (mine === sequence) show(data);
        })
        .catch(function (error) {
          if (error.name === "AbortError" || mine !== sequence) return;
          section.classList.add("stale");
          setState(word("unavailable", "Preview unavailable: reload the page if this persists"));
        });
    }

    function schedule() {
      window.clearTimeout(timer);
      setState(word("editing", "Editing…"));
      timer = window.setTimeout(refresh, DEBOUNCE_MS);
    }

    form.addEventListener("input", schedule);
    form.addEventListener("change", function (event) {
      // Text fields have had their "input"; a browser that sends no "input" for a checkbox
      // still sends "change".
      if (event.target.type === "checkbox") schedule();
    });
    if (chooser) chooser.addEventListener("change", refresh);
    var button = byId("preview-button");
    if (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        refresh();
      });
    }
  }

  initTabs();
  initFromSuggestions();
  initLivePreview();
})();
