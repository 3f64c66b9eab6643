/* Auto Doctor pages: the few behaviours that need JavaScript. No inline scripts or
 * handlers anywhere (a strict Content-Security-Policy is planned); every page works
 * without this file, which only makes it nicer:
 *  - the phone menu button;
 *  - form errors next to the field they name (htmx 4xx answers, and plain posts that
 *    were refused and redirected back), keeping what was typed;
 *  - hold countdowns; auto-submitting selects; the hours editor's closed days;
 *  - swipe between days; the admin's drag-and-drop reschedule on the hour grid.
 */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  /* ------------------------------------------------------------ menu */
  function setupMenu() {
    var button = document.querySelector(".menu-toggle");
    var menu = document.getElementById("site-menu");
    if (!button || !menu) { return; }
    button.addEventListener("click", function () {
      var open = button.getAttribute("aria-expanded") !== "true";
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    });
  }

  /* ------------------------------------------------------------ form errors */
  function fieldIn(form, name) {
    if (!name) { return null; }
    return form.querySelector('[name="' + name + '"]') || form.querySelector('[name$="-' + name + '"]');
  }

  function clearErrors(form) {
    form.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (el) {
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
  }

  var errorCount = 0;
  function showFieldError(form, name, message) {
    clearErrors(form);
    var note = document.createElement("p");
    errorCount += 1;
    note.id = "field-error-" + errorCount;
    note.className = "field-error";
    note.setAttribute("role", "alert");
    note.textContent = message;
    var input = fieldIn(form, name);
    if (input) {
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", note.id);
      var label = input.closest("label");
      var anchor = label && form.contains(label) ? label : input;
      anchor.insertAdjacentElement("afterend", note);
      input.focus({ preventScroll: true });
      note.scrollIntoView({ block: "nearest" });
    } else {
      form.insertAdjacentElement("afterbegin", note);
    }
  }

  function showFlash(html) {
    var flash = document.getElementById("flash");
    if (flash) { flash.innerHTML = html; }
  }

  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest ? event.detail.elt.closest("form") : null;
    if (form) { clearErrors(form); }
  });

  document.addEventListener("htmx:responseError", function (event) {
    var xhr = event.detail.xhr;
    var doc = new DOMParser().parseFromString(xhr.responseText || "", "text/html");
    var fragment = doc.querySelector("[data-error-field]");
    var message = fragment ? fragment.textContent.trim() : "Something went wrong (" + xhr.status + "). Please try again.";
    var elt = event.detail.elt;
    var form = elt && elt.closest ? elt.closest("form") : null;
    if (form && fragment) {
      showFieldError(form, fragment.getAttribute("data-error-field"), message);
    } else {
      showFlash('<div class="flash flash-error" role="alert"></div>');
      document.querySelector("#flash .flash").textContent = message;
    }
  });

  document.addEventListener("htmx:sendError", function () {
    showFlash('<div class="flash flash-error" role="alert">We could not reach the server. Check your connection and try again.</div>');
  });

  function restoreRefusedForm() {
    var data = document.getElementById("form-error");
    if (!data) { return; }
    var error;
    try { error = JSON.parse(data.textContent); } catch (e) { return; }
    var form = null;
    document.querySelectorAll("form").forEach(function (candidate) {
      var action = candidate.getAttribute("action") || candidate.getAttribute("hx-post") || "";
      if (!form && new URL(action || window.location.href, window.location.href).pathname === error.action) {
        form = candidate;
      }
    });
    if (!form) { return; }
    Object.keys(error.values || {}).forEach(function (name) {
      var values = error.values[name];
      form.querySelectorAll('[name="' + name + '"]').forEach(function (input) {
        if (input.type === "hidden" || input.type === "file") { return; }
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = values.indexOf(input.value) !== -1;
        } else {
          input.value = values[0];
        }
      });
    });
    showFieldError(form, error.field, error.message);
  }

  /* ------------------------------------------------------------ countdowns */
  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    document.querySelectorAll("[data-expires]").forEach(function (el) {
      var left = Math.max(0, Math.floor((Date.parse(el.dataset.expires) - Date.now()) / 1000));
      var out = el.querySelector(".left");
      if (!out) { return; }
      out.textContent = left > 0 ? pad(Math.floor(left / 60)) + ":" + pad(left % 60) + " left · " : "Expired · ";
      el.classList.toggle("expired", left === 0);
    });
    document.querySelectorAll("[data-seconds]").forEach(function (el) {
      if (!el.dataset.until) { el.dataset.until = String(Date.now() + parseInt(el.dataset.seconds, 10) * 1000); }
      var left = Math.max(0, Math.floor((parseInt(el.dataset.until, 10) - Date.now()) / 1000));
      el.textContent = left > 0 ? Math.floor(left / 60) + ":" + pad(left % 60) : "0:00 — expired";
    });
  }

  /* ------------------------------------------------------------ small helpers */
  function setupWithin(root) {
    root.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      if (select.dataset.bound) { return; }
      select.dataset.bound = "1";
      select.addEventListener("change", function () { select.form.submit(); });
    });
    // Hours editor: a closed day takes no times.
    root.querySelectorAll("tr[data-day-row]").forEach(function (row) {
      var open = row.querySelector('input[type=checkbox][name$="is_open"]');
      if (!open || open.dataset.bound) { return; }
      open.dataset.bound = "1";
      function sync() {
        row.querySelectorAll("input[type=text]").forEach(function (input) {
          input.disabled = !open.checked;
          if (!open.checked) { input.value = ""; }
        });
        row.classList.toggle("closed", !open.checked);
      }
      open.addEventListener("change", sync);
      sync();
    });
    // Swipe left/right between days (the arrows do the same).
    root.querySelectorAll("[data-swipe]").forEach(function (area) {
      if (area.dataset.bound) { return; }
      area.dataset.bound = "1";
      var startX = null, startY = null;
      area.addEventListener("touchstart", function (e) {
        startX = e.touches[0].clientX; startY = e.touches[0].clientY;
      }, { passive: true });
      area.addEventListener("touchend", function (e) {
        if (startX === null) { return; }
        var dx = e.changedTouches[0].clientX - startX, dy = e.changedTouches[0].clientY - startY;
        startX = null;
        if (Math.abs(dx) < 60 || Math.abs(dy) > Math.abs(dx)) { return; }
        var link = area.querySelector(dx < 0 ? "[data-swipe-next]" : "[data-swipe-prev]");
        if (link) { link.click(); }
      });
    });
    root.querySelectorAll("[data-scroll-to]").forEach(function (box) {
      if (box.dataset.bound) { return; }
      box.dataset.bound = "1";
      box.scrollTop = parseInt(box.dataset.scrollTo, 10) || 0;
    });
    root.querySelectorAll("[data-select-on-click]").forEach(function (input) {
      input.addEventListener("click", function () { input.select(); });
    });
    root.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var source = document.querySelector(button.dataset.copy);
        if (source && navigator.clipboard) {
          navigator.clipboard.writeText(source.value).then(function () { button.textContent = "Copied"; });
        }
      });
    });
    setupDragAndDrop(root);
  }

  /* ------------------------------------------------------------ drag-and-drop reschedule */
  // Admins drag a session block to another time on the hour grid; the drop posts the
  // day and minute to the same reschedule service the reschedule page uses. Keyboard and
  // no-JS users use each block's "Move…" link (the reschedule page).
  function setupDragAndDrop(root) {
    root.querySelectorAll(".hour-grid[data-move-url]").forEach(function (grid) {
      if (grid.dataset.dndBound) { return; }
      grid.dataset.dndBound = "1";
      var minutesPerPx = parseFloat(grid.dataset.minutesPerPx || "1.5");
      var snap = parseInt(grid.dataset.snap || "15", 10);
      var dragged = null, grabOffset = 0;
      grid.querySelectorAll("[data-session-id][draggable=true]").forEach(function (block) {
        block.addEventListener("dragstart", function (e) {
          dragged = block;
          grabOffset = e.clientY - block.getBoundingClientRect().top;
          e.dataTransfer.effectAllowed = "move";
          e.dataTransfer.setData("text/plain", block.dataset.sessionId);
          block.classList.add("dragging");
        });
        block.addEventListener("dragend", function () { block.classList.remove("dragging"); });
      });
      grid.querySelectorAll(".hour-col[data-day]").forEach(function (col) {
        col.addEventListener("dragover", function (e) { if (dragged) { e.preventDefault(); col.classList.add("drop-target"); } });
        col.addEventListener("dragleave", function () { col.classList.remove("drop-target"); });
        col.addEventListener("drop", function (e) {
          e.preventDefault();
          col.classList.remove("drop-target");
          if (!dragged) { return; }
          var body = col.querySelector(".hour-body") || col;
          var y = e.clientY - body.getBoundingClientRect().top - grabOffset;
          var minute = Math.max(0, Math.round((y * minutesPerPx) / snap) * snap);
          var form = document.getElementById("move-form");
          form.querySelector("[name=session]").value = dragged.dataset.sessionId;
          form.querySelector("[name=day]").value = col.dataset.day;
          form.querySelector("[name=minute]").value = String(minute);
          dragged = null;
          form.requestSubmit();
        });
      });
    });
  }

  ready(function () {
    setupMenu();
    restoreRefusedForm();
    setupWithin(document);
    tick();
    setInterval(tick, 1000);
    if (window.htmx) { window.htmx.onLoad(function (el) { if (el.querySelectorAll) { setupWithin(el); } }); }
  });
})();
