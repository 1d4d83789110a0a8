// Boards: the "Add to board" dialog a tile opens, and dragging boards into a new order. The
// pages work without it (the tile's link opens the picker as a page; Move up / Move down).
(function () {
  "use strict";

  // A dialog filled by htmx (Add to board, Share link): it opens when its body is swapped in.
  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    const dialog = target && target.parentElement;
    if (!dialog || !dialog.matches("dialog[data-fragment-dialog]")) return;
    if (!dialog.open) dialog.showModal();
    const first = target.querySelector("input[type=checkbox], input[type=text], select");
    if (first) first.focus();
  });

  document.addEventListener("click", function (event) {
    if (!event.target.closest) return;
    const copy = event.target.closest(".copy-link");
    if (copy) {
      event.preventDefault();
      const done = function () { if (window.studioToast) window.studioToast("Link copied."); };
      if (navigator.clipboard) navigator.clipboard.writeText(copy.dataset.copy).then(done, function () {});
      return;
    }
    const button = event.target.closest("[data-close-picker]");
    if (!button) return;
    const dialog = button.closest("dialog[data-fragment-dialog]");
    if (dialog) dialog.close();
    else if (button.closest(".share-box, form")) button.closest(".share-box, form").remove();
  });

  // Saved from the tile's dialog: close it (the toast says what happened).
  document.body && document.body.addEventListener("boardsSaved", function () {
    const dialog = document.getElementById("board-picker");
    if (dialog && dialog.open) dialog.close();
  });

  // Focus the Move up / Move down button that was pressed, after the list is redrawn.
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.target || event.detail.target.id !== "boards") return;
    const list = document.getElementById("boards"); // swapped outerHTML: the new element
    const again = list && list.querySelector("[data-autofocus]");
    if (!again) return;
    // At the top (or bottom) the button is disabled: focus the board's own link instead.
    (again.disabled ? again.closest(".board-item").querySelector(".board-link") : again).focus();
  });

  // Drag a board to a new place in the list; the new order is posted as a whole.
  let dragged = null;
  document.addEventListener("dragstart", function (event) {
    const item = event.target.closest && event.target.closest(".board-item");
    if (!item) return;
    dragged = item;
    item.classList.add("is-dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.boardId);
  });
  document.addEventListener("dragover", function (event) {
    const item = dragged && event.target.closest && event.target.closest(".board-item");
    if (!item || item === dragged || item.parentNode !== dragged.parentNode) return;
    event.preventDefault();
    const box = item.getBoundingClientRect();
    const after = event.clientY > box.top + box.height / 2;
    item.parentNode.insertBefore(dragged, after ? item.nextSibling : item);
  });
  document.addEventListener("drop", function (event) {
    if (dragged) event.preventDefault();
  });
  document.addEventListener("dragend", function () {
    if (!dragged) return;
    const list = dragged.parentNode;
    dragged.classList.remove("is-dragging");
    dragged = null;
    const ids = Array.from(list.querySelectorAll(".board-item")).map(function (li) { return li.dataset.boardId; });
    if (window.htmx) {
      window.htmx.ajax("POST", list.dataset.reorderUrl, {
        values: { board: ids.join(",") }, target: "#boards", swap: "outerHTML",
      });
    }
  });
})();
