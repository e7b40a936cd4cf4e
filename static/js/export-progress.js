/* Live progress of an export: job-progress.js polls the export's JSON and moves the bar; this
   adds the row counts and, at the end, the download button or the reason it failed. */
(function () {
  "use strict";

  var section = document.getElementById("export");
  if (!section) return;

  function setText(id, value) {
    var element = document.getElementById(id);
    if (element) element.textContent = value;
  }

  function showCounts(data) {
    setText("count-total", data.rows_total === null ? "…" : String(data.rows_total));
    setText("count-done", String(data.rows_done));
  }

  function finish(data) {
    document.getElementById("export-running-note").hidden = true;
    if (data.status === "failed") {
      var failure = document.getElementById("export-failure");
      failure.textContent = data.failure_reason || section.getAttribute("data-failure");
      failure.hidden = false;
    } else {
      document.getElementById("export-ready").hidden = false;
    }
  }

  window.jobProgress.watch(section, { onData: showCounts, onFinish: finish });
})();
