// Image Studio: the little behaviour htmx does not cover. Everything here is an enhancement;
// the pages work without it.
(function () {
  "use strict";

  // Enter generates, Shift+Enter adds a line (and never while an IME is composing).
  document.addEventListener("keydown", function (event) {
    const target = event.target;
    if (target.id !== "prompt" || event.key !== "Enter") return;
    if (event.shiftKey || event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    const form = target.form;
    const button = form && form.querySelector(".generate-button");
    if (form && button && !button.disabled) form.requestSubmit(button);
  });

  // A recent prompt fills the prompt box instead of reloading the page.
  document.addEventListener("click", function (event) {
    const chip = event.target.closest("[data-fill-prompt]");
    if (!chip) return;
    const prompt = document.getElementById("prompt");
    if (!prompt) return;
    event.preventDefault();
    prompt.value = chip.dataset.fillPrompt;
    prompt.focus();
    prompt.setSelectionRange(prompt.value.length, prompt.value.length);
  });

  // Seconds elapsed on tiles still being made. The server renders the count when it draws the
  // tile; counting on from when this page received it keeps clocks out of it.
  function tick() {
    const now = Date.now() / 1000;
    document.querySelectorAll(".elapsed[data-elapsed]").forEach(function (el) {
      if (!el.dataset.seen) el.dataset.seen = String(now);
      const elapsed = Number(el.dataset.elapsed) + (now - Number(el.dataset.seen));
      el.textContent = String(Math.max(0, Math.floor(elapsed)));
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", tick);
})();

// Errors from htmx requests become a short toast instead of silently doing nothing.
(function () {
  "use strict";
  // At most this many toasts at once: the oldest goes first.
  const MOST = 3;
  // The toast box is a popover: in the top layer it shows even over the open lightbox (a modal
  // dialog). Showing it again moves it above whatever opened since.
  function raiseToasts() {
    const box = document.getElementById("toasts");
    if (!box || !box.showPopover || !box.hasAttribute("popover")) return;
    if (box.matches(":popover-open")) box.hidePopover();
    if (box.children.length) box.showPopover();
  }
  window.studioRaiseToasts = raiseToasts;
  // Fewer than MOST toasts: the oldest ones go (an Undo toast included: its action is in the
  // Trash too).
  function trimToasts(box) {
    while (box.children.length > MOST) box.firstElementChild.remove();
  }
  window.studioTrimToasts = trimToasts;
  // A toast says something once: the same words again (an action repeated) replace the shown
  // one, so they are announced again and stay their full time. A click dismisses it.
  function toast(message) {
    const box = document.getElementById("toasts");
    if (!box) return;
    Array.prototype.forEach.call(box.querySelectorAll(".toast:not(.toast-undo)"), function (shown) {
      if (shown.textContent === message) shown.remove();
    });
    const item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    item.title = "Click to dismiss";
    item.textContent = message;
    box.appendChild(item);
    trimToasts(box);
    raiseToasts();
    function drop() {
      item.remove();
      raiseToasts();
    }
    item.addEventListener("click", drop);
    setTimeout(drop, 6000);
  }
  window.studioToast = toast;
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    if (event.detail.elt && event.detail.elt.classList.contains("poller")) return;
    const text = (xhr.getResponseHeader("Content-Type") || "").startsWith("text/plain") ? xhr.responseText : "";
    toast(text || "Something went wrong (" + xhr.status + "). Nothing was lost; try again.");
  });
  document.addEventListener("htmx:sendError", function (event) {
    if (event.detail.elt && event.detail.elt.classList.contains("poller")) return;
    toast("Could not reach the studio. Check the connection and try again.");
  });
})();

// Stars, deletions and "Reuse settings": keep every copy of the page in step.
(function () {
  "use strict";

  document.body.addEventListener("toast", function (event) {
    if (window.studioToast && event.detail && event.detail.message) window.studioToast(event.detail.message);
  });

  // A star button appears on the tile and in the lightbox: update both.
  document.body.addEventListener("starChanged", function (event) {
    const id = String(event.detail.id);
    const on = Boolean(event.detail.starred);
    document.querySelectorAll('[data-star-for="' + id + '"]').forEach(function (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.title = on ? "Unstar" : "Star";
      const field = button.form && button.form.querySelector('input[name="starred"]');
      if (field) field.value = on ? "0" : "1";
    });
  });

  // The gallery's filters ask for what is set: the fields left empty stay out of the request,
  // and so out of the address pushed to the history ("?aspect=portrait", not "?q=&who=&…").
  document.body.addEventListener("htmx:configRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("form[data-drop-empty]")) return;
    const data = event.detail.formData;
    const keys = [];
    data.forEach(function (value, key) { if (keys.indexOf(key) < 0) keys.push(key); });
    keys.forEach(function (key) {
      if (data.getAll(key).every(function (value) { return value === ""; })) data.delete(key);
    });
  });

  // A deleted image's tile goes; a run left with no tile is hidden (the gallery no longer lists
  // it; an Undo redraws it in its place). The one rule for one image and for many (select.js).
  function dropTile(id) {
    const tile = document.getElementById("image-" + id);
    if (!tile) return;
    const run = tile.closest("article.run");
    tile.remove();
    if (run && !run.querySelector("figure.tile")) run.hidden = true;
  }
  window.studioDropTile = dropTile;

  // A deleted image leaves the gallery at once; the lightbox moves on to the next one.
  document.body.addEventListener("imageDeleted", function (event) {
    dropTile(event.detail.id);
    const dialog = document.getElementById("lightbox");
    if (dialog && dialog.open) {
      const next = dialog.querySelector(".lightbox-next") || dialog.querySelector(".lightbox-prev");
      if (next) next.click();
      else dialog.close();
    }
  });

  // Undo toasts stay a little longer than plain ones, then go.
  document.body.addEventListener("htmx:oobAfterSwap", function () {
    const box = document.getElementById("toasts");
    if (box && window.studioTrimToasts) window.studioTrimToasts(box);
    document.querySelectorAll(".toast-undo:not([data-timer])").forEach(function (toast) {
      toast.dataset.timer = "1";
      function drop() { toast.remove(); window.studioRaiseToasts(); }
      setTimeout(drop, 10000);
      toast.addEventListener("submit", function () { setTimeout(drop, 300); });
    });
    window.studioRaiseToasts();
  });

  // "Reuse settings" from the lightbox closes it; the prompt box gets focus, scrolled into view.
  document.addEventListener("click", function (event) {
    const link = event.target.closest("[data-close-lightbox]");
    if (!link) return;
    const dialog = document.getElementById("lightbox");
    if (dialog && dialog.open) dialog.close();
  });
  document.body.addEventListener("htmx:afterSettle", function (event) {
    const source = event.detail.requestConfig && event.detail.requestConfig.elt;
    if (!source || !source.hasAttribute || !source.hasAttribute("data-focus-prompt")) return;
    const prompt = document.getElementById("prompt");
    if (prompt) {
      prompt.scrollIntoView({ block: "center" });
      prompt.focus();
    }
  });
})();
