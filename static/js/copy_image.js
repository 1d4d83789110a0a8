// Image Studio: Copy image. The lightbox's "Copy image" and a tile's "Copy" (any button with
// class "copy-image" and data-src, the original's URL) put the original on the clipboard as a
// PNG, where the browser can write images to the clipboard; elsewhere they stay hidden. Also the
// copy buttons' shared feedback (the button says "Copied" for a moment; a status region reads
// it out), which the lightbox's "Copy prompt" uses too.
(function () {
  "use strict";

  // Images on the clipboard need ClipboardItem and clipboard.write (not every browser has them).
  const canCopyImage = typeof window.ClipboardItem === "function" &&
    Boolean(navigator.clipboard && typeof navigator.clipboard.write === "function");
  // Tiles' Copy buttons are shown by this class (they come and go with htmx swaps).
  if (canCopyImage) document.documentElement.classList.add("can-copy-image");

  // The original as a PNG blob: a PNG as it is, a WebP or JPEG redrawn in a canvas.
  function pngOf(src) {
    return fetch(src, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) throw new Error("the studio answered " + response.status);
      return response.blob();
    }).then(function (blob) {
      if (blob.type === "image/png") return blob;
      return createImageBitmap(blob).then(function (bitmap) {
        const canvas = document.createElement("canvas");
        canvas.width = bitmap.width;
        canvas.height = bitmap.height;
        canvas.getContext("2d").drawImage(bitmap, 0, 0);
        bitmap.close();
        return new Promise(function (resolve, reject) {
          canvas.toBlob(function (png) {
            if (png) resolve(png); else reject(new Error("the picture could not be converted"));
          }, "image/png");
        });
      });
    });
  }

  function copyImage(button) {
    let item;
    try {
      // Made now, inside the click, with the blob still to come: browsers allow the write only
      // while the click is recent.
      item = new ClipboardItem({ "image/png": pngOf(button.dataset.src) });
    } catch (_) {
      feedback(button, "Copy failed", "This browser cannot copy images.");
      return;
    }
    navigator.clipboard.write([item]).then(
      function () { feedback(button, "Copied", "Image copied."); },
      function (error) {
        const why = error && error.name === "NotAllowedError"
          ? "the browser did not allow it" : (error && error.message) || "it could not be read";
        feedback(button, "Copy failed", "The image could not be copied: " + why + ".");
      },
    );
  }

  const labelTimers = new WeakMap();
  const labels = new WeakMap();

  // The button says `message` for a moment; `spoken` (or `message`) is read out.
  function feedback(button, message, spoken) {
    if (!labels.has(button)) labels.set(button, Array.from(button.childNodes));
    button.textContent = message;
    announce(button, spoken || message);
    clearTimeout(labelTimers.get(button));
    labelTimers.set(button, setTimeout(function () {
      button.replaceChildren.apply(button, labels.get(button));
      labels.delete(button);
    }, 1500));
  }

  // A button's changed text is not read out (nor is it its name when it has an aria-label); a
  // status region is. Inside an open modal dialog, the region must be too.
  function announce(near, message) {
    const host = near.closest("dialog") || document.body;
    let region = host.querySelector(":scope > .copy-live");
    if (!region) {
      region = document.createElement("span");
      region.className = "copy-live visually-hidden";
      region.setAttribute("role", "status");
      host.appendChild(region);
    }
    region.textContent = "";
    setTimeout(function () { region.textContent = message; }, 60);
  }

  document.addEventListener("click", function (event) {
    if (event.defaultPrevented || event.button !== 0 || !event.target.closest) return;
    const button = event.target.closest(".copy-image");
    if (!button || !canCopyImage) return;
    event.preventDefault();
    copyImage(button);
  });

  window.Studio = window.Studio || {};
  window.Studio.canCopyImage = canCopyImage;
  window.Studio.copyFeedback = feedback;
})();
