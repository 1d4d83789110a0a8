// Image Studio: the lightbox. A tile link opens its image in the page's <dialog> (the server's
// fragment, loaded with htmx), the arrows walk, the image zooms and pans (zoom.js, loaded first).
// Without JavaScript the same links open the permalink page, which this also enhances (zoom, pan,
// arrow keys, copy; Copy image is copy_image.js, loaded first).
(function () {
  "use strict";

  // Where focus was before a swap, found again in the new fragment (its nodes are all new).
  const FOCUS_KEYS = [".lightbox-prev", ".lightbox-next", ".zoom-in", ".zoom-out", ".zoom-reset",
    ".copy-prompt", ".copy-image", ".lightbox-close"];

  const dialog = document.getElementById("lightbox");
  const body = document.getElementById("lightbox-body");
  const canOpen = Boolean(dialog && body && typeof dialog.showModal === "function" && window.htmx);

  let opener = null;           // the tile link that opened the lightbox
  let openerHref = "";
  let currentView = null;      // the .lightbox-view in the dialog
  let requested = "";          // the fragment being loaded; "" when idle
  let lastLoaded = "";
  let ownsEntry = false;       // the current history entry is the lightbox's own
  let returnUrl = location.href;
  let returnState = history.state;
  let focusKey = null;
  let session = false;         // open, and not yet cleaned up after
  let downOnBackdrop = false;
  const zoomers = new WeakMap();
  const preloaded = new Map();

  function isOpen() { return canOpen && dialog.open; }

  // The view the keys act on: the dialog's when it is open, else the permalink page's.
  function activeView() {
    if (dialog && dialog.open) return canOpen ? currentView : null;
    return document.querySelector(".lightbox-page .lightbox-view");
  }

  function navLink(view, direction) {
    return view.querySelector("a[data-lightbox-nav].lightbox-" + direction) ||
      view.querySelector("a[data-lightbox-nav][rel~='" + direction + "']");
  }

  function findTile(url) {
    const links = document.querySelectorAll("a[data-lightbox]");
    for (const link of links) if (link.href === url) return link;
    return null;
  }

  function isTextField(el) {
    if (!el || !el.tagName) return false;
    if (el.isContentEditable || el.tagName === "TEXTAREA" || el.tagName === "SELECT") return true;
    if (el.tagName !== "INPUT") return false;
    return !/^(button|submit|reset|checkbox|radio|range|color|file|image)$/i.test(el.type);
  }

  // --- opening, walking, closing ------------------------------------------------------------

  function load(url) {
    requested = url;
    body.setAttribute("aria-busy", "true");
    window.htmx.ajax("GET", url, { source: body, target: body, swap: "innerHTML" });
  }

  function show(url) {
    currentView = null;
    body.replaceChildren();
    load(url);
    if (!dialog.open) dialog.showModal();
    session = true;
  }

  function open(link) {
    opener = link;
    openerHref = link.href;
    if (!ownsEntry) {
      returnUrl = location.href;
      returnState = history.state;
      history.pushState({ lightbox: link.href }, "", link.href);
      ownsEntry = true;
    }
    show(link.href);
  }

  function walk(view, direction) {
    const link = navLink(view, direction);
    if (!link) return false;
    if (isOpen() && view === currentView) {
      if (!requested) load(link.href); // the links on show are stale while one loads
    } else {
      location.assign(link.href);
    }
    return true;
  }

  function close() {
    if (!dialog || !dialog.open) return;
    dialog.close();
    finish();
  }

  // The dialog closed, however it happened (Esc, backdrop, ×, Back, someone's dialog.close()).
  // The close event comes a task later, maybe after a quick Forward has opened it again: the
  // session flag makes the cleanup happen once, and never to a lightbox that is open.
  function finish() {
    if (!session || dialog.open) return;
    session = false;
    requested = ""; // a late answer is dropped in htmx:beforeSwap
    body.removeAttribute("aria-busy");
    const detail = {
      imageId: currentView ? currentView.dataset.imageId || null : null,
      permalink: currentView ? currentView.dataset.permalink || null : null,
    };
    const zoomer = currentView && zoomers.get(currentView);
    if (zoomer) zoomer.destroy();
    currentView = null;
    body.replaceChildren();
    if (ownsEntry) {
      ownsEntry = false;
      if (history.state && history.state.lightbox) {
        // Back removes the lightbox's entry; htmx would re-fetch an entry of its own, so that
        // one only gets its address back.
        if (returnState && returnState.htmx) history.replaceState(returnState, "", returnUrl);
        else history.back();
      }
    }
    let target = opener && opener.isConnected ? opener : null;
    if (!target && openerHref) target = findTile(openerHref);
    if (!target && detail.permalink) target = findTile(new URL(detail.permalink, location.href).href);
    if (target) target.focus();
    opener = null;
    document.dispatchEvent(new CustomEvent("lightbox:closed", { detail: detail }));
  }

  // A new fragment is in: zoom, preloads, address, focus.
  function syncView() {
    const view = body.querySelector(".lightbox-view");
    if (view === currentView) return;
    if (currentView) {
      const old = zoomers.get(currentView);
      if (old) old.destroy();
    }
    currentView = view;
    if (!view) return;
    body.removeAttribute("aria-busy");
    enhance(view);
    if (!isOpen()) return;
    if (ownsEntry) {
      const url = new URL(view.dataset.permalink || lastLoaded || location.href, location.href).href;
      history.replaceState({ lightbox: url }, "", url);
    }
    let target = focusKey ? view.querySelector(focusKey) : null;
    if (!target && (focusKey === ".lightbox-prev" || focusKey === ".lightbox-next")) {
      target = view.querySelector("a[data-lightbox-nav]");
    }
    focusKey = null;
    (target || view.querySelector(".lightbox-stage") || view).focus({ preventScroll: true });
  }

  function notice(message, url) {
    const old = body.querySelector(".lightbox-notice");
    if (old) old.remove();
    const box = document.createElement("div");
    box.className = "lightbox-notice";
    box.setAttribute("role", "alert");
    const text = document.createElement("p");
    text.textContent = message;
    box.appendChild(text);
    if (url) {
      const link = document.createElement("a");
      link.href = url;
      link.textContent = "Open the image page";
      box.appendChild(link);
    }
    body.appendChild(box);
    if (currentView) {
      setTimeout(function () { box.remove(); }, 5000);
    } else {
      box.tabIndex = -1;
      (box.querySelector("a") || box).focus();
    }
  }

  function loadFailed(url, xhr) {
    const status = xhr ? xhr.status : 0;
    const message = status === 404 ? "This image is no longer here."
      : status === 0 ? "Could not reach the studio. Check the connection and try again."
        : "This image could not be loaded (" + status + ").";
    notice(message, currentView || status === 404 ? null : url);
  }

  function enhance(view) {
    zoomerFor(view);
    const copyImageButton = view.querySelector(".copy-image");
    if (copyImageButton) copyImageButton.hidden = !window.Studio.canCopyImage; // copy_image.js
    view.querySelectorAll("a[data-lightbox-nav][data-preload]").forEach(function (link) {
      const src = link.dataset.preload;
      if (!src || preloaded.has(src)) return;
      const image = new Image();
      image.decoding = "async";
      image.src = src;
      preloaded.set(src, image);
      if (preloaded.size > 8) preloaded.delete(preloaded.keys().next().value);
    });
  }

  // --- zoom and pan (zoom.js) ---------------------------------------------------------------

  // One zoomer per view, made on first use; a swipe on it walks from that view.
  function zoomerFor(view) {
    if (!view) return null;
    if (!zoomers.has(view)) {
      const zoomer = window.Studio.createZoomer(view, {
        onSwipe: function (direction) { walk(view, direction); },
      });
      if (!zoomer) return null;
      zoomers.set(view, zoomer);
    }
    return zoomers.get(view);
  }

  // --- copying the prompt -------------------------------------------------------------------

  function copyPrompt(button) {
    const text = button.dataset.copy || "";
    const done = function (ok) { window.Studio.copyFeedback(button, ok ? "Copied" : "Copy failed"); };
    if (navigator.clipboard && typeof navigator.clipboard.writeText === "function") {
      navigator.clipboard.writeText(text).then(
        function () { done(true); },
        function () { done(legacyCopy(text, button)); },
      );
    } else {
      done(legacyCopy(text, button));
    }
  }

  function legacyCopy(text, button) {
    const area = document.createElement("textarea");
    area.value = text;
    area.readOnly = true;
    area.tabIndex = -1;
    area.setAttribute("aria-hidden", "true");
    area.style.position = "fixed";
    area.style.top = "0";
    area.style.left = "-9999px";
    area.style.opacity = "0";
    // Next to the button: outside an open modal dialog the page is inert and cannot be selected.
    (button.parentNode || document.body).appendChild(area);
    area.focus({ preventScroll: true });
    area.select();
    area.setSelectionRange(0, text.length);
    let ok = false;
    try { ok = document.execCommand("copy"); } catch (_) { ok = false; }
    area.remove();
    button.focus({ preventScroll: true });
    return ok;
  }

  // --- events -------------------------------------------------------------------------------

  function isBackdrop(el, event) {
    if (!el || !isOpen() || !dialog.contains(el)) return false;
    if (el === dialog || el === body) return true;
    if (el.matches(".lightbox-view, .lightbox-nav")) return true;
    // A touch tap beside the image may be the first half of a double tap.
    return el.matches(".lightbox-stage") && !el.classList.contains("is-zoomed") &&
      event.pointerType !== "touch";
  }

  document.addEventListener("pointerdown", function (event) {
    downOnBackdrop = isBackdrop(event.target, event);
  }, true);

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0) return;
    const target = event.target;
    if (!target || !target.closest) return;
    const modified = event.metaKey || event.ctrlKey || event.shiftKey || event.altKey;

    const tile = target.closest("a[data-lightbox]");
    if (tile) {
      if (!canOpen || modified || dialog.open) return;
      event.preventDefault();
      open(tile);
      return;
    }

    const inDialog = isOpen() && dialog.contains(target);
    const nav = target.closest("a[data-lightbox-nav]");
    if (nav && inDialog) {
      if (modified) return;
      event.preventDefault();
      if (!requested) load(nav.href);
      return;
    }
    if (target.closest(".lightbox-close") && inDialog) {
      event.preventDefault();
      close();
      return;
    }
    const zoomButton = target.closest(".zoom-in, .zoom-out, .zoom-reset");
    if (zoomButton) {
      const zoomer = zoomerFor(zoomButton.closest(".lightbox-view"));
      if (!zoomer) return;
      if (zoomButton.classList.contains("zoom-reset")) zoomer.reset();
      else if (zoomButton.classList.contains("zoom-in")) zoomer.zoomIn();
      else zoomer.zoomOut();
      return;
    }
    if (target.closest(".copy-image")) return; // copy_image.js
    const copy = target.closest(".copy-prompt");
    if (copy) {
      event.preventDefault();
      copyPrompt(copy);
      return;
    }
    if (downOnBackdrop && isBackdrop(target, event)) close();
  });

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    if (isTextField(event.target)) return;
    const view = activeView();
    if (!view) return;
    const zoomer = zoomerFor(view);
    switch (event.key) {
      case "ArrowLeft":
        walk(view, "prev");
        break;
      case "ArrowRight":
        walk(view, "next");
        break;
      case "+":
      case "=":
        if (zoomer) zoomer.zoomIn();
        break;
      case "-":
      case "_":
      case "−":
        if (zoomer) zoomer.zoomOut();
        break;
      case "0":
        if (zoomer) zoomer.reset();
        break;
      default:
        return;
    }
    event.preventDefault();
  });

  window.addEventListener("popstate", function (event) {
    if (!canOpen) return;
    const state = event.state;
    if (state && state.lightbox) {
      ownsEntry = true;
      if (!dialog.open) {
        opener = findTile(state.lightbox);
        openerHref = state.lightbox;
        show(state.lightbox);
      } else {
        const shown = currentView && currentView.dataset.permalink;
        if (!shown || new URL(shown, location.href).href !== state.lightbox) load(state.lightbox);
      }
      return;
    }
    returnUrl = location.href;
    returnState = state;
    if (dialog.open) {
      ownsEntry = false; // the browser already left the lightbox's entry
      close();
    }
  });

  if (canOpen) {
    new MutationObserver(syncView).observe(body, { childList: true });
    dialog.addEventListener("close", finish);
    // Esc closes natively; the cleanup is the close event's.
    dialog.addEventListener("cancel", function () { downOnBackdrop = false; });

    document.addEventListener("htmx:beforeSwap", function (event) {
      if (event.target === body) {
        const path = event.detail.pathInfo && event.detail.pathInfo.requestPath;
        // A late answer for an image no longer wanted, or for a lightbox already closed.
        if (!dialog.open || (requested && path !== requested)) {
          event.detail.shouldSwap = false;
          return;
        }
      }
      if (!dialog.open || !dialog.contains(event.detail.target || event.target)) return;
      const active = document.activeElement;
      focusKey = null;
      if (active && body.contains(active)) {
        focusKey = FOCUS_KEYS.find(function (key) { return active.matches(key); }) ||
          (active.id ? "#" + CSS.escape(active.id) : null);
      }
    });

    document.addEventListener("htmx:afterRequest", function (event) {
      if (event.target !== body) return;
      const path = event.detail.pathInfo && event.detail.pathInfo.requestPath;
      if (!requested || path !== requested) return;
      requested = "";
      lastLoaded = path;
      body.removeAttribute("aria-busy");
      if (event.detail.successful !== true && dialog.open) loadFailed(path, event.detail.xhr);
    });
  }

  const pageView = document.querySelector(".lightbox-page .lightbox-view");
  if (pageView) enhance(pageView);
})();
