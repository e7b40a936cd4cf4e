/* Live progress of an import: polls the import's JSON once a second until it is done or failed,
   and updates the page in place. Without JavaScript the page refreshes itself (<noscript>). */
(function () {
  "use strict";

  var section = document.getElementById("import");
  if (!section) return;
  var url = section.getAttribute("data-status-url");
  // The words come translated from the page (data-* attributes), English when missing.
  function text(name, fallback) {
    return section.getAttribute("data-" + name) || fallback;
  }
  var LABELS = {
    pending: text("label-pending", "Waiting for column mapping"),
    queued: text("label-queued", "Queued"),
    running: text("label-running", "Running"),
    done: text("label-done", "Done"),
    failed: text("label-failed", "Failed")
  };
  var BADGES = { done: "ok", failed: "error" };
  var FINISHED = { done: true, failed: true };
  var POLL_MS = 1000;
  var MAX_BACKOFF_MS = 10000;

  function byId(id) { return document.getElementById(id); }

  function setText(id, value) {
    var element = byId(id);
    if (element) element.textContent = value;
  }

  function showStatus(status) {
    var badge = byId("import-status");
    badge.textContent = LABELS[status] || status;
    badge.className = "badge " + (BADGES[status] || "warning");
    section.setAttribute("data-status", status);
  }

  function showProgress(data) {
    var progress = Math.max(0, Math.min(1, Number(data.progress) || 0));
    var bar = byId("import-progress");
    bar.value = progress;
    var percent = Math.round(progress * 100) + "%";
    bar.textContent = percent;
    setText("import-percent", percent);
    // While the file is being read the total is an estimate from its size: shown as such.
    setText("count-total", data.total_rows === null ? text("counting", "counting…")
      : (data.total_rows_estimated ? "≈" : "") + String(data.total_rows));
    setText("count-processed", String(data.processed));
    setText("count-imported", String(data.imported));
    setText("count-updated", String(data.updated));
    setText("count-skipped", String(data.skipped));
    setText("count-suppressed", String(data.suppressed || 0));
  }

  function cell(row, text, className) {
    var td = document.createElement("td");
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function showIssues(data) {
    var shown = Number(byId("issues-more").getAttribute("data-shown")) || 20;
    var all = data.errors || [];
    var issues = all.slice(0, shown);
    byId("issues-more").hidden = all.length <= shown;
    var body = document.querySelector("#import-issues tbody");
    body.textContent = "";
    issues.forEach(function (issue) {
      var row = document.createElement("tr");
      cell(row, String(issue.row), "num");
      cell(row, issue.email || "—");
      var reason = cell(row, issue.reason);
      if (!issue.skipped || issue.suppressed) {
        var badge = document.createElement("span");
        badge.className = issue.skipped ? "badge warning" : "badge";
        badge.textContent = issue.skipped
          ? text("suppressed", "suppressed")
          : text("imported", "imported");
        reason.appendChild(document.createTextNode(" "));
        reason.appendChild(badge);
      }
      body.appendChild(row);
    });
    byId("issues-wrap").hidden = issues.length === 0;
    byId("issues-none").hidden = issues.length !== 0;
    if (data.error_report_url) byId("error-report").setAttribute("href", data.error_report_url);
    byId("import-result").hidden = false;
  }

  function finish(data) {
    byId("import-running-note").hidden = true;
    if (data.status === "failed") {
      var failure = byId("import-failure");
      failure.textContent = data.failure_reason || text("failure", "The import failed.");
      failure.hidden = false;
    }
    showIssues(data);
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
        showStatus(data.status);
        showProgress(data);
        if (FINISHED[data.status]) {
          finish(data);
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
})();
