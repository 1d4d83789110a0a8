// Image Studio: zoom and pan for an image view (a .lightbox-stage holding a .lightbox-image):
// wheel, trackpad and two-finger pinch, double-click or double-tap, drag to pan, and a swipe on a
// touch screen reported to whoever walks between images. lightbox.js makes one zoomer per view
// with Studio.createZoomer(view, { onSwipe }); its zoom buttons and keys call the zoomer's methods.
// compare.js makes one per pane with { onChange } and copies state() into the others with apply().
(function () {
  "use strict";

  const MAX_SCALE = 8;
  const STEP = 1.5;            // one press of + or −
  const SLOP = 6;              // px a press may move and still be a click or a tap
  const DOUBLE_TAP_MS = 320;
  const SWIPE_MIN = 60;        // px of horizontal travel that walks on a touch screen

  let suppressClick = false;   // a drag ended: the click that follows is not a click

  // A view's zoomer, or null when it has no stage and image. options.onSwipe(direction), with
  // "next" or "prev", is told of a swipe on a touch screen while the image is not zoomed.
  function createZoomer(view, options) {
    const stage = view.querySelector(".lightbox-stage");
    const image = stage && stage.querySelector(".lightbox-image");
    if (!stage || !image) return null;
    let scale = 1;
    let x = 0;
    let y = 0;
    let frame = 0;
    let idleTimer = 0;
    let gesture = null;
    let geometry = null;
    let lastTap = null;
    let pointerType = "mouse";
    const pointers = new Map();
    let applying = false;      // taking another zoomer's state: not reported back (compare.js)

    // Layout sizes only (offset*, client*): the transform never changes them, so reading them
    // between transform writes forces no layout.
    function measure() {
      const rect = stage.getBoundingClientRect();
      const w = image.offsetWidth;
      const h = image.offsetHeight;
      return {
        left: rect.left + stage.clientLeft, top: rect.top + stage.clientTop,
        width: stage.clientWidth, height: stage.clientHeight,
        cx: image.offsetLeft + w / 2, cy: image.offsetTop + h / 2, w: w, h: h,
      };
    }
    function limit(next) { return Math.min(MAX_SCALE, Math.max(1, next)); }
    // An image smaller than the stage stays centred; a larger one keeps covering it.
    function axis(offset, centre, size, room) {
      if (size <= room) return 0;
      return Math.min(size / 2 - centre, Math.max(room - centre - size / 2, offset));
    }
    function clamp(g) {
      x = axis(x, g.cx, g.w * scale, g.width);
      y = axis(y, g.cy, g.h * scale, g.height);
    }
    // Zoom keeping the image point under (px, py) (stage coordinates) where it is.
    function zoomAround(next, px, py, g) {
      next = limit(next);
      const k = next / scale;
      x = px - g.cx - k * (px - g.cx - x);
      y = py - g.cy - k * (py - g.cy - y);
      scale = next;
      clamp(g);
    }
    function zoomed() { return scale > 1.001; }
    function render(smooth) {
      if (frame) { cancelAnimationFrame(frame); frame = 0; }
      stage.classList.toggle("is-smooth", Boolean(smooth));
      if (!zoomed()) { scale = 1; x = 0; y = 0; }
      image.style.transform = "translate(" + x.toFixed(2) + "px, " + y.toFixed(2) + "px) scale(" +
        Number(scale.toFixed(4)) + ")";
      stage.classList.toggle("is-zoomed", zoomed());
      const atMin = !zoomed();
      setDisabled(view.querySelector(".zoom-out"), atMin);
      setDisabled(view.querySelector(".zoom-reset"), atMin);
      setDisabled(view.querySelector(".zoom-in"), scale >= MAX_SCALE - 0.001);
      if (options && options.onChange && !applying) options.onChange(smooth);
    }
    function schedule() {
      if (!frame) frame = requestAnimationFrame(function () { frame = 0; render(false); });
    }
    function setDisabled(button, disabled) {
      if (button) button.setAttribute("aria-disabled", disabled ? "true" : "false");
    }
    // will-change only while moving: a layer that stays promoted is rastered at one scale and
    // looks soft once zoomed.
    function moving() {
      stage.classList.add("is-moving");
      clearTimeout(idleTimer);
      idleTimer = setTimeout(function () { stage.classList.remove("is-moving"); }, 250);
    }
    function step(factor) {
      const g = measure();
      zoomAround(scale * factor, g.width / 2, g.height / 2, g);
      render(true);
    }
    function toggleAt(clientX, clientY) {
      const g = measure();
      if (zoomed()) { scale = 1; x = 0; y = 0; } else zoomAround(2, clientX - g.left, clientY - g.top, g);
      render(true);
    }

    function onWheel(event) {
      event.preventDefault();
      let delta = event.deltaY;
      if (event.deltaMode === 1) delta *= 16;
      else if (event.deltaMode === 2) delta *= stage.clientHeight;
      // ctrlKey marks a trackpad pinch: small deltas, so a steeper curve.
      const factor = Math.exp(-delta * (event.ctrlKey ? 0.01 : 0.0015));
      const g = measure();
      moving();
      zoomAround(scale * factor, event.clientX - g.left, event.clientY - g.top, g);
      stage.classList.remove("is-smooth");
      schedule();
    }

    function begin() {
      geometry = measure();
      const points = Array.from(pointers.values());
      if (points.length >= 2) {
        const a = points[0];
        const b = points[1];
        gesture = {
          kind: "pinch", scale: scale, x: x, y: y,
          distance: Math.hypot(b.x - a.x, b.y - a.y) || 1,
          mid: { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 },
        };
      } else {
        gesture = {
          kind: "drag", start: { x: points[0].x, y: points[0].y }, x: x, y: y,
          moved: false, zoomed: zoomed(), afterPinch: Boolean(gesture && gesture.kind === "pinch"),
        };
      }
      stage.classList.remove("is-smooth");
      moving();
    }

    function onPointerDown(event) {
      if (event.pointerType === "mouse" && event.button !== 0) return;
      suppressClick = false;
      pointerType = event.pointerType;
      if (pointers.size >= 2) return;
      pointers.set(event.pointerId, { x: event.clientX, y: event.clientY });
      try { stage.setPointerCapture(event.pointerId); } catch (_) { /* not a live pointer */ }
      begin();
    }

    function onPointerMove(event) {
      const point = pointers.get(event.pointerId);
      if (!point || !gesture) return;
      point.x = event.clientX;
      point.y = event.clientY;
      const g = geometry;
      moving();
      if (gesture.kind === "pinch") {
        const points = Array.from(pointers.values());
        const a = points[0];
        const b = points[1];
        const next = limit(gesture.scale * Math.hypot(b.x - a.x, b.y - a.y) / gesture.distance);
        const k = next / gesture.scale;
        const px = gesture.mid.x - g.left;
        const py = gesture.mid.y - g.top;
        // Zoom about where the fingers started, then follow their midpoint.
        x = px - g.cx - k * (px - g.cx - gesture.x) + ((a.x + b.x) / 2 - gesture.mid.x);
        y = py - g.cy - k * (py - g.cy - gesture.y) + ((a.y + b.y) / 2 - gesture.mid.y);
        scale = next;
        clamp(g);
        schedule();
        return;
      }
      const dx = point.x - gesture.start.x;
      const dy = point.y - gesture.start.y;
      if (!gesture.moved && Math.hypot(dx, dy) > SLOP) {
        gesture.moved = true;
        if (zoomed()) stage.classList.add("is-panning");
      }
      if (gesture.moved && zoomed()) {
        x = gesture.x + dx;
        y = gesture.y + dy;
        clamp(g);
        schedule();
      }
    }

    function onPointerEnd(event) {
      const point = pointers.get(event.pointerId);
      if (!point) return;
      pointers.delete(event.pointerId);
      const ended = gesture;
      if (ended && ended.kind === "drag" && event.type === "pointerup" && !ended.afterPinch) {
        if (ended.moved) {
          suppressClick = true;
          const dx = point.x - ended.start.x;
          const dy = point.y - ended.start.y;
          if (!ended.zoomed && event.pointerType !== "mouse" &&
              Math.abs(dx) > SWIPE_MIN && Math.abs(dx) > 1.5 * Math.abs(dy)) {
            if (options && options.onSwipe) options.onSwipe(dx < 0 ? "next" : "prev");
          }
        } else if (event.pointerType === "touch") {
          const now = performance.now();
          if (lastTap && now - lastTap.time < DOUBLE_TAP_MS &&
              Math.hypot(point.x - lastTap.x, point.y - lastTap.y) < 30) {
            lastTap = null;
            toggleAt(point.x, point.y);
          } else {
            lastTap = { time: now, x: point.x, y: point.y };
          }
        }
      }
      if (ended && ended.kind === "pinch") suppressClick = true;
      if (pointers.size > 0) {
        begin();
      } else {
        gesture = null;
        stage.classList.remove("is-panning");
        if (frame) render(false);
      }
    }

    function onDoubleClick(event) {
      if (pointerType === "touch") return; // double taps are counted above
      event.preventDefault();
      toggleAt(event.clientX, event.clientY);
    }

    function onDragStart(event) { event.preventDefault(); }

    const resize = typeof ResizeObserver === "function" ? new ResizeObserver(function () {
      if (!zoomed()) return;
      clamp(measure());
      render(false);
    }) : null;
    if (resize) resize.observe(stage);

    stage.addEventListener("wheel", onWheel, { passive: false });
    stage.addEventListener("pointerdown", onPointerDown);
    stage.addEventListener("pointermove", onPointerMove);
    stage.addEventListener("pointerup", onPointerEnd);
    stage.addEventListener("pointercancel", onPointerEnd);
    stage.addEventListener("dblclick", onDoubleClick);
    stage.addEventListener("dragstart", onDragStart);

    if (!image.complete) {
      stage.classList.add("is-loading");
      const loaded = function () { stage.classList.remove("is-loading"); };
      image.addEventListener("load", loaded, { once: true });
      image.addEventListener("error", loaded, { once: true });
    }
    render(false);

    return {
      zoomed: zoomed,
      reset: function () { scale = 1; x = 0; y = 0; render(true); },
      zoomIn: function () { step(STEP); },
      // The zoom and pan as fractions of the image's laid-out size, so a view of another size
      // shows the same part of its image: { scale, fx, fy }.
      state: function () {
        const g = measure();
        return { scale: scale, fx: g.w ? x / g.w : 0, fy: g.h ? y / g.h : 0 };
      },
      // Take a state from state() (another view's), without telling options.onChange.
      apply: function (next, smooth) {
        const g = measure();
        scale = limit(next.scale);
        x = next.fx * g.w;
        y = next.fy * g.h;
        clamp(g);
        applying = true;
        try { render(Boolean(smooth)); } finally { applying = false; }
      },
      zoomOut: function () { step(1 / STEP); },
      destroy: function () {
        if (resize) resize.disconnect();
        if (frame) cancelAnimationFrame(frame);
        clearTimeout(idleTimer);
      },
    };
  }

  // The click that ends a drag or a pinch is not a click: nothing else (a backdrop that closes,
  // a link under the finger) may see it.
  document.addEventListener("click", function (event) {
    if (!suppressClick) return;
    suppressClick = false;
    event.preventDefault();
    event.stopImmediatePropagation();
  }, true);

  window.Studio = window.Studio || {};
  window.Studio.createZoomer = createZoomer;
})();
