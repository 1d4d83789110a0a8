// Boards: the "Add to board" dialog a tile opens, and dragging boards into a new order. The
// pages work without it (the tile's link opens the picker as a page; Move up / Move down).
(function () {
  "use strict";

  function pickerDialog() { return document.getElementById("board-picker"); }

  document.addEventListener("htmx:afterSwap", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "board-picker-body") return;
    const dialog = pickerDialog();
    if (dialog && !dialog.open) dialog.showModal();
    const first = target.querySelector("input[type=checkbox], input[type=text]");
    if (first) first.focus();
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-close-picker]");
    if (!button) return;
    const dialog = button.closest("dialog#board-picker");
    if (dialog) dialog.close();
    else if (button.closest("form")) button.closest("form").remove();
  });

  // Saved from the tile's dialog: close it (the toast says what happened).
  document.body && document.body.addEventListener("boardsSaved", function () {
    const dialog = pickerDialog();
    if (dialog && dialog.open) dialog.close();
  });

  // Focus the Move up / Move down button that was pressed, after the list is redrawn.
  document.addEventListener("htmx:afterSettle", function (event) {
    const target = event.detail.target;
    if (!target || target.id !== "boards") return;
    const again = target.querySelector("[data-autofocus]");
    if (again) (again.disabled ? target.querySelector(".board-link") : again).focus();
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
