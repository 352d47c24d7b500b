// "My exports" (archive/export_views.py): while an export is queued or running, ask for its status every second
// and move its progress bar; when it is done or failed, reload once to show the download or the reason.
// A static file because the content security policy forbids inline script.
(function () {
  "use strict";
  const POLL_MS = 1000;

  function show(row, status) {
    row.dataset.state = status.state;
    row.querySelector(".state").textContent = status.state;
    const bar = row.querySelector("progress");
    const count = row.querySelector(".count");
    if (status.total !== null) {
      bar.max = Math.max(status.total, 1);
      count.textContent = status.done + " of " + status.total + " entries";
    } else {
      count.textContent = status.done + " entries";
    }
    bar.value = status.done;
  }

  async function poll() {
    const rows = Array.from(document.querySelectorAll("#my-exports tr[data-status-url]"));
    let finished = false;
    for (const row of rows) {
      try {
        const response = await fetch(row.dataset.statusUrl, { headers: { Accept: "application/json" } });
        if (!response.ok) continue;
        const status = await response.json();
        show(row, status);
        if (status.state !== "queued" && status.state !== "running") finished = true;
      } catch (error) {
        // The server is restarting or the network blinked: the next poll tries again.
      }
    }
    if (finished) {
      window.location.reload();
    } else if (rows.length > 0) {
      window.setTimeout(poll, POLL_MS);
    }
  }

  document.addEventListener("DOMContentLoaded", poll);
})();
