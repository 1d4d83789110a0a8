// Live pages: what changes is pushed to this page as it happens (Server-Sent Events from
// /events/, see gallery/push), and handed to htmx to swap in. The runs' pollers stay in the page
// as the fallback: they send nothing while the stream is open, and take over whenever it is not
// (a server without streams, a dropped connection), so nothing waits on the stream.
(function () {
  "use strict";
  const marker = document.getElementById("live");
  if (!marker || !window.EventSource || !window.htmx) return;
  const url = marker.dataset.eventsUrl.split("?")[0];
  let last = new URLSearchParams(marker.dataset.eventsUrl.split("?")[1] || "").get("after") || "0";
  let source = null;
  let open = false;
  let failures = 0;
  // When the stream last redrew each run, so an answer to a request sent before then (Retry,
  // Share) cannot put older tiles back over newer ones unnoticed.
  const redrawn = new Map();

  function runId(element) {
    const run = element.closest && element.closest("article.run");
    return run ? run.id : "";
  }

  // Whole runs: the copy on the page is replaced; a run the page does not show yet is put in
  // its place, newest first, if this page is the gallery's first, unfiltered page.
  function placeRun(run) {
    const html = run.outerHTML;
    const existing = document.getElementById(run.id);
    redrawn.set(run.id, performance.now());
    if (existing) return htmx.swap(existing, html, { swapStyle: "outerHTML" });
    const runs = document.querySelector("#runs[data-live-runs]");
    if (!runs) return;
    const id = Number(run.id.slice(4));
    const older = Array.prototype.find.call(runs.querySelectorAll(":scope > article.run"), function (shown) {
      return Number(shown.id.slice(4)) < id;
    });
    const empty = document.getElementById("gallery-empty");
    if (empty) empty.remove();
    if (older) htmx.swap(older, html, { swapStyle: "beforebegin" });
    else if (!document.getElementById("gallery-more")) htmx.swap(runs, html, { swapStyle: "beforeend" });
    // else: it is older than every run shown, and a later page will bring it.
  }

  function apply(html) {
    const template = document.createElement("template");
    template.innerHTML = html;
    const fragment = template.content;
    Array.prototype.slice.call(fragment.children).forEach(function (piece) {
      if (!piece.matches("article.run:not([hx-swap-oob])")) return;
      piece.remove();
      placeRun(piece);
    });
    // Out-of-band pieces (tiles, status lines, pollers, removals) for what this page shows.
    Array.prototype.slice.call(fragment.children).forEach(function (piece) {
      const shown = piece.id && document.getElementById(piece.id);
      if (!shown) return piece.remove();
      const id = runId(shown);
      if (id) redrawn.set(id, performance.now());
    });
    if (fragment.children.length) htmx.swap(document.body, fragment, { swapStyle: "none" });
  }

  function connect() {
    source = new EventSource(url + "?after=" + encodeURIComponent(last));
    source.onopen = function () {
      open = true;
      failures = 0;
    };
    source.onmessage = function (event) {
      if (event.lastEventId) last = event.lastEventId;
      apply(event.data);
    };
    source.addEventListener("reload", function (event) {
      if (event.lastEventId) last = event.lastEventId;
      if (window.studioToast) window.studioToast("The studio changed a lot while this page was away: reload it to see everything.");
    });
    source.onerror = function () {
      // The browser reconnects by itself (sending the last id it had); meanwhile the pollers
      // work. If it gave up (the server said no), connect again later from the last id.
      open = false;
      if (source.readyState !== EventSource.CLOSED) return;
      failures += 1;
      if (failures > 8) return; // for good: the pollers carry on
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, failures)));
    };
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    const poller = event.detail.elt;
    if (!open || !poller.classList || !poller.classList.contains("poller")) return;
    if (poller.dataset.checkOnce) {
      delete poller.dataset.checkOnce;
      return;
    }
    event.preventDefault();
  });
  document.addEventListener("htmx:beforeRequest", function (event) {
    event.detail.requestConfig.sentAt = performance.now();
  });

  // An answer that draws a run the stream has drawn meanwhile (a run just started arrives from
  // the stream too): a new run is drawn once; a changed one has its poller look once more.
  document.addEventListener("htmx:beforeSwap", function (event) {
    const match = /<article id="(run-\d+)"/.exec(event.detail.serverResponse || "");
    if (!match || !event.detail.target || event.detail.target.id !== "runs") return;
    if (!document.getElementById(match[1])) return;
    const template = document.createElement("template");
    template.innerHTML = event.detail.serverResponse;
    template.content.getElementById(match[1]).remove();
    event.detail.serverResponse = template.innerHTML;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const config = event.detail.requestConfig;
    const target = event.detail.target;
    if (!config || !config.sentAt || !target || !target.id || !redrawn.has(target.id)) return;
    if (redrawn.get(target.id) < config.sentAt) return;
    const poller = document.getElementById(target.id + "-poller");
    if (poller) poller.dataset.checkOnce = "1";
  });

  connect();
})();
