// Image Studio: the compare viewer (/compare/). Every pane is a zoom.js view; zooming or panning
// one moves the others to the same place. ←/→ change the focused pane's image among those
// compared, +/−/0 zoom all; with two images, "Slider" lays one over the other. Without
// JavaScript the page is plain images side by side.
(function () {
  "use strict";

  const grid = document.querySelector(".compare-grid");
  if (!grid || !window.Studio || !window.Studio.createZoomer) return;
  const panes = Array.from(grid.querySelectorAll(".compare-pane"));
  const pool = panes.map(function (pane) {
    return { src: pane.dataset.src, alt: pane.dataset.alt, label: pane.dataset.label, href: pane.dataset.href };
  });
  const zoomers = [];
  let ready = false;
  let lastPane = panes[0];

  function follow(source, smooth) {
    if (!ready) return;
    const state = source.state();
    zoomers.forEach(function (zoomer) { if (zoomer !== source) zoomer.apply(state, smooth); });
  }

  panes.forEach(function (pane) {
    const zoomer = window.Studio.createZoomer(pane, {
      // Not while the zoomers are being made (the first drawing reports too).
      onChange: function (smooth) { if (ready) follow(zoomer, smooth); },
    });
    zoomers.push(zoomer);
    pane.addEventListener("pointerdown", function () { lastPane = pane; });
    pane.addEventListener("focusin", function () { lastPane = pane; });
  });
  ready = true;

  function focusedPane() {
    const active = document.activeElement;
    const pane = active && active.closest ? active.closest(".compare-pane") : null;
    return pane || lastPane;
  }

  // Show the pool's next (step 1) or previous (-1) image in this pane; its zoom stays the others'.
  function cycle(pane, step) {
    const index = (Number(pane.dataset.index) + step + pool.length) % pool.length;
    const next = pool[index];
    pane.dataset.index = String(index);
    const image = pane.querySelector(".lightbox-image");
    image.src = next.src;
    image.alt = next.alt;
    image.removeAttribute("width");
    image.removeAttribute("height");
    pane.querySelector(".lightbox-stage").setAttribute("aria-label", "Image " + (index + 1));
    const label = pane.querySelector(".compare-label");
    label.textContent = next.label;
    label.href = next.href;
    pane.querySelector(".compare-prompt").textContent = next.alt;
    const others = zoomers.filter(function (z, i) { return panes[i] !== pane; });
    const zoomer = zoomers[panes.indexOf(pane)];
    const resync = function () { if (others.length) zoomer.apply(others[0].state(), false); };
    image.addEventListener("load", resync, { once: true });
    resync();
  }

  function zoomAll(action) {
    const zoomer = zoomers[panes.indexOf(focusedPane())] || zoomers[0];
    zoomer[action]();
  }

  const toolbar = document.querySelector(".compare-toolbar");
  if (toolbar) toolbar.hidden = false;

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("button");
    if (!button) return;
    if (button.classList.contains("compare-zoom-in")) zoomAll("zoomIn");
    else if (button.classList.contains("compare-zoom-out")) zoomAll("zoomOut");
    else if (button.classList.contains("compare-zoom-reset")) zoomAll("reset");
    else if (button.classList.contains("compare-mode")) setSlider(button.getAttribute("aria-pressed") !== "true");
  });

  const modeButton = document.querySelector(".compare-mode");
  const sliderLabel = document.querySelector(".compare-slider");
  const slider = sliderLabel && sliderLabel.querySelector("input");

  function setSlider(on) {
    if (!modeButton || !slider) return;
    modeButton.setAttribute("aria-pressed", on ? "true" : "false");
    sliderLabel.hidden = !on;
    grid.classList.toggle("is-slider", on);
    cut();
    // The stages changed size: line the second up with the first again.
    follow(zoomers[0], false);
  }

  function cut() { grid.style.setProperty("--compare-cut", slider.value + "%"); }
  if (slider) slider.addEventListener("input", cut);

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.isComposing) return;
    const target = event.target;
    if (target && target.tagName === "INPUT" || target && target.tagName === "TEXTAREA") return;
    switch (event.key) {
      case "ArrowLeft": cycle(focusedPane(), -1); break;
      case "ArrowRight": cycle(focusedPane(), 1); break;
      case "+": case "=": zoomAll("zoomIn"); break;
      case "-": case "_": case "−": zoomAll("zoomOut"); break;
      case "0": zoomAll("reset"); break;
      default: return;
    }
    event.preventDefault();
  });
})();
