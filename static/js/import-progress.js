/* Live progress of an import: job-progress.js polls the import's JSON and moves the bar; this
   adds the import's counts and, at the end, the rows to look at. Without JavaScript the page
   refreshes itself (<noscript>). */
(function () {
  "use strict";

  var section = document.getElementById("import");
  if (!section) return;
  // The words come translated from the page (data-* attributes), English when missing.
  function text(name, fallback) {
    return section.getAttribute("data-" + name) || fallback;
  }
  function byId(id) { return document.getElementById(id); }

  function setText(id, value) {
    var element = byId(id);
    if (element) element.textContent = value;
  }

  // The badge, bar and percentage are job-progress.js's; the counts are the import's own.
  function showCounts(data) {
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

  window.jobProgress.watch(section, { onData: showCounts, onFinish: finish });
})();
