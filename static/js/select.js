// Select many (gallery/selection_views.py): "Select" turns the gallery's finished tiles into
// checkboxes. Click or Space toggles one, Shift+click selects the range from the last one
// (across runs), "Select all" takes everything the filters show (counted by the server, not
// just the tiles loaded), Esc or Done leaves. The bar's actions post the picked ids, or the
// filters for "all", in one request. Compare opens the compare viewer with two to four picked
// tiles, in the order picked.
(function () {
  "use strict";
  const tools = document.querySelector("[data-select-tools]");
  const bar = document.getElementById("select-bar");
  const toggle = document.getElementById("select-toggle");
  if (!tools || !bar || !toggle) return;
  tools.hidden = false;
  const count = document.getElementById("select-count");
  // Every filter of the gallery's filter form (GalleryFilterForm but its page cursor): "Select
  // all" must take what the page shows, no more.
  const FILTERS = ["q", "who", "model", "starred", "via_api", "date_from", "date_to", "board", "aspect", "edited", "failed"];
  let selecting = false;
  let picked = new Set();
  let all = null; // {count, params} after "Select all"
  let anchor = null;

  function tiles() {
    return Array.from(document.querySelectorAll("#runs figure.tile.is-succeeded"));
  }
  function idOf(tile) {
    return tile.id.replace("image-", "");
  }
  function isPicked(tile) {
    return all !== null || picked.has(idOf(tile));
  }

  function draw() {
    tiles().forEach(function (tile) {
      const link = tile.querySelector("a.tile-link");
      if (!link) return;
      if (selecting) {
        link.setAttribute("role", "checkbox");
        link.setAttribute("aria-checked", isPicked(tile) ? "true" : "false");
      } else {
        link.removeAttribute("role");
        link.removeAttribute("aria-checked");
      }
      tile.classList.toggle("is-selected", selecting && isPicked(tile));
    });
    const n = all !== null ? all.count : picked.size;
    count.textContent = n.toLocaleString() + " selected" + (all !== null ? " (everything the filters show)" : "");
    bar.querySelectorAll("[data-select-action]").forEach(function (button) {
      button.disabled = n === 0;
    });
    const comparable = all === null && picked.size >= 2 && picked.size <= 4;
    bar.querySelectorAll("[data-compare]").forEach(function (button) { button.disabled = !comparable; });
    bar.querySelectorAll("[data-compare-ids]").forEach(function (input) {
      input.value = comparable ? Array.from(picked).join(",") : "";
    });
    bar.querySelectorAll("[data-select-fields]").forEach(function (holder) {
      holder.replaceChildren();
      function field(name, value) {
        const input = document.createElement("input");
        input.type = "hidden";
        input.name = name;
        input.value = value;
        holder.appendChild(input);
      }
      if (all !== null) {
        field("all", "1");
        all.params.forEach(function (value, name) { field(name, value); });
      } else {
        field("ids", Array.from(picked).join(","));
      }
    });
  }

  function enter() {
    selecting = true;
    document.body.classList.add("is-selecting");
    toggle.setAttribute("aria-pressed", "true");
    bar.hidden = false;
    draw();
  }
  function leave() {
    selecting = false;
    picked = new Set();
    all = null;
    anchor = null;
    document.body.classList.remove("is-selecting");
    toggle.setAttribute("aria-pressed", "false");
    bar.hidden = true;
    draw();
  }

  function fromAll() {
    // Picking one tile after "Select all": go on from the tiles loaded.
    if (all === null) return;
    all = null;
    picked = new Set(tiles().map(idOf));
  }
  function flip(tile, range) {
    fromAll();
    const list = tiles();
    if (range && anchor && list.indexOf(anchor) !== -1) {
      const from = list.indexOf(anchor);
      const to = list.indexOf(tile);
      const [start, end] = from < to ? [from, to] : [to, from];
      list.slice(start, end + 1).forEach(function (t) { picked.add(idOf(t)); });
    } else {
      const id = idOf(tile);
      if (picked.has(id)) picked.delete(id);
      else picked.add(id);
    }
    anchor = tile;
    draw();
  }

  toggle.addEventListener("click", function () {
    if (selecting) leave();
    else enter();
  });
  bar.querySelector("[data-select-done]").addEventListener("click", function () {
    leave();
    toggle.focus();
  });
  bar.querySelector("[data-select-all]").addEventListener("click", function () {
    const params = new URLSearchParams();
    new URLSearchParams(window.location.search).forEach(function (value, name) {
      if (FILTERS.indexOf(name) !== -1 && value) params.append(name, value);
    });
    fetch(bar.dataset.countUrl + "?" + params.toString(), { headers: { "HX-Request": "true" } })
      .then(function (response) {
        if (!response.ok) throw new Error("count");
        return response.json();
      })
      .then(function (answer) {
        all = { count: answer.count, params: params };
        draw();
      })
      .catch(function () {
        if (window.studioToast) window.studioToast("Could not count the images; try again.");
      });
  });

  // Capture phase: before the lightbox opens the tile.
  document.addEventListener("click", function (event) {
    if (!selecting || event.button !== 0) return;
    const link = event.target.closest && event.target.closest("#runs figure.tile.is-succeeded a.tile-link");
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    flip(link.closest("figure"), event.shiftKey);
  }, true);

  document.addEventListener("keydown", function (event) {
    if (!selecting) return;
    if (event.key === "Escape") {
      const dialog = document.getElementById("lightbox");
      if (dialog && dialog.open) return;
      event.preventDefault();
      leave();
      toggle.focus();
      return;
    }
    if (event.key === " " || event.key === "Enter") {
      const link = event.target.closest && event.target.closest("#runs figure.tile.is-succeeded a.tile-link");
      if (!link) return;
      event.preventDefault();
      flip(link.closest("figure"), event.shiftKey);
    }
  }, true);

  // Tiles that arrive (older pages, live updates) follow the mode; deleted ones leave.
  document.body.addEventListener("htmx:afterSettle", function () {
    if (selecting) draw();
  });
  document.body.addEventListener("imagesDeleted", function (event) {
    (event.detail.ids || []).forEach(function (id) { window.studioDropTile(id); });
    leave();
    toggle.focus();
  });
  document.body.addEventListener("starsChanged", function (event) {
    const on = Boolean(event.detail.starred);
    (event.detail.ids || []).forEach(function (id) {
      document.body.dispatchEvent(new CustomEvent("starChanged", { detail: { id: id, starred: on } }));
    });
  });
})();

// The "Add to board" choice (the gallery's bar and a permalink page's form): the name field only
// for "New board…"; a board made from the bar joins the list and stays chosen. A permalink page's
// plain form (gallery/pick_form.html) counts its ticks and offers Compare for two to four.
(function () {
  "use strict";
  function showName(select) {
    const name = select.form && select.form.querySelector("[data-new-board]");
    if (!name) return;
    name.hidden = select.value !== "new";
    if (!name.hidden) name.querySelector("input").focus();
  }
  document.querySelectorAll("[data-board-choice]").forEach(function (select) {
    const name = select.form && select.form.querySelector("[data-new-board]");
    if (name) name.hidden = select.value !== "new";
    select.addEventListener("change", function () { showName(select); });
  });
  document.body.addEventListener("addedToBoard", function (event) {
    const board = String(event.detail.board);
    document.querySelectorAll("[data-board-choice]").forEach(function (select) {
      if (!select.querySelector('option[value="' + board + '"]')) {
        const option = new Option(event.detail.name, board);
        select.insertBefore(option, select.querySelector('option[value="new"]'));
      }
      select.value = board;
      const name = select.form && select.form.querySelector("[data-new-board]");
      if (name) {
        name.hidden = true;
        name.querySelector("input").value = "";
      }
    });
  });

  const form = document.querySelector("[data-pick-form]");
  if (!form) return;
  const count = form.querySelector("[data-pick-count]");
  const compare = form.querySelector("[data-compare]");
  function boxes() {
    return Array.from(document.querySelectorAll('input[type="checkbox"][form="' + form.id + '"]:checked'));
  }
  function draw() {
    const n = boxes().length;
    count.textContent = n.toLocaleString() + " selected";
    form.querySelectorAll('button[name="action"]').forEach(function (button) { button.disabled = n === 0; });
    compare.disabled = n < 2 || n > 4;
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches('input[type="checkbox"][form="' + form.id + '"]')) draw();
  });
  draw();
})();
