// Attaching images to edit: the file picker, paste, drag-and-drop and links. Each image is sent
// to /uploads/ on its own, checked there, and comes back as a chip in the prompt box (a link's
// chip first says "fetching…" while the worker fetches it). Without JavaScript the same file
// input and link field are sent with the form instead.
(function () {
  "use strict";

  function form() { return document.getElementById("generate-form"); }
  function csrf() {
    const headers = document.body.getAttribute("hx-headers");
    try { return JSON.parse(headers)["X-CSRFToken"]; } catch (e) { return ""; }
  }
  function toast(message) { if (window.studioToast) window.studioToast(message); }
  function changed() {
    // The flag rides with the next redraw of the controls, even if that redraw is a later one
    // (a newer redraw aborts an older one), and the redrawn controls reset it.
    const flag = document.querySelector("[data-attachments-changed]");
    if (flag) flag.value = "1";
    document.body.dispatchEvent(new Event("attachmentsChanged"));
  }

  let pending = 0;
  function busy(delta) {
    pending += delta;
    const f = form();
    if (f) f.classList.toggle("is-uploading", pending > 0);
    const button = f && f.querySelector(".generate-button");
    if (button) button.disabled = pending > 0;
  }

  function send(body) {
    const f = form();
    if (!f) return Promise.resolve();
    busy(1);
    return fetch(f.dataset.uploadUrl, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
      credentials: "same-origin",
    }).then(function (response) {
      return response.text().then(function (text) {
        if (!response.ok) throw new Error(text || "That image could not be attached.");
        const box = document.getElementById("attachments");
        const anchor = box.querySelector(".attach-button");
        const holder = document.createElement("div");
        holder.innerHTML = text;
        Array.from(holder.children).forEach(function (chip) {
          box.insertBefore(chip, anchor);
          // A link's chip says "fetching…" and polls until the worker has the image.
          if (window.htmx) window.htmx.process(chip);
        });
        changed();
      });
    }).catch(function (error) {
      toast(error.message || "That image could not be attached.");
    }).finally(function () { busy(-1); });
  }

  function attachFiles(files) {
    Array.from(files).forEach(function (file) {
      if (file.type && !file.type.startsWith("image/")) {
        toast("“" + file.name + "” is not an image.");
        return;
      }
      const body = new FormData();
      body.append("image", file, file.name || "pasted-image.png");
      send(body);
    });
  }

  function attachLink(url) {
    const body = new FormData();
    body.append("url", url);
    return send(body);
  }

  document.addEventListener("change", function (event) {
    if (event.target.id !== "attach-files") return;
    attachFiles(event.target.files);
    event.target.value = "";  // sent already: not again with the form
  });

  document.addEventListener("click", function (event) {
    const remove = event.target.closest(".attachment-remove");
    if (remove) {
      event.preventDefault();
      const chip = remove.closest(".attachment");
      const next = chip.nextElementSibling;
      chip.remove();
      if (next && next.focus) next.focus();
      changed();
      return;
    }
    if (event.target.closest(".attach-link-button")) {
      event.preventDefault();
      const input = document.getElementById("image-link");
      const url = input.value.trim();
      if (!url) { input.focus(); return; }
      attachLink(url).then(function () { input.value = ""; });
    }
  });

  // Enter in the link field attaches it rather than generating.
  document.addEventListener("keydown", function (event) {
    if (event.target.id === "image-link" && event.key === "Enter") {
      event.preventDefault();
      const button = document.querySelector(".attach-link-button");
      if (button) button.click();
    }
  });

  // Paste an image anywhere on the studio page (a copied picture or screenshot).
  document.addEventListener("paste", function (event) {
    if (!form() || !event.clipboardData) return;
    const files = Array.from(event.clipboardData.files || []).filter(function (f) {
      return f.type.startsWith("image/");
    });
    if (files.length) {
      event.preventDefault();
      attachFiles(files);
    }
  });

  // Drag and drop onto the prompt box: files, or an image dragged from another page (a link).
  document.addEventListener("dragover", function (event) {
    const f = event.target.closest && event.target.closest("#generate-form");
    if (!f) return;
    event.preventDefault();
    f.classList.add("is-dropping");
  });
  document.addEventListener("dragleave", function (event) {
    const f = form();
    if (f && (!event.relatedTarget || !f.contains(event.relatedTarget))) f.classList.remove("is-dropping");
  });
  document.addEventListener("drop", function (event) {
    const f = event.target.closest && event.target.closest("#generate-form");
    if (!f) return;
    event.preventDefault();
    f.classList.remove("is-dropping");
    const data = event.dataTransfer;
    if (data.files && data.files.length) {
      attachFiles(data.files);
      return;
    }
    const url = (data.getData("text/uri-list") || data.getData("text/plain") || "").trim().split("\n")[0];
    if (url.startsWith("https://")) attachLink(url);
    else if (url) toast("Only https image links can be attached.");
  });
})();
