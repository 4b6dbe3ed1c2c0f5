// badclients dashboard: served at /ui/app.js, compiled into the binary. Optional: the
// pages work without it. It only adds the "refresh every minute" toggle (remembered in
// localStorage).
(function () {
  "use strict";
  var box = document.getElementById("autorefresh");
  if (!box) {
    return;
  }
  var wrap = box.closest(".js-only");
  if (wrap) {
    wrap.hidden = false;
  }
  var key = "badclients.autorefresh";
  var timer = null;
  function schedule(on) {
    if (timer) {
      clearTimeout(timer);
      timer = null;
    }
    if (on) {
      timer = setTimeout(function () {
        location.reload();
      }, 60000);
    }
  }
  try {
    box.checked = localStorage.getItem(key) === "1";
  } catch (e) {
    box.checked = false;
  }
  schedule(box.checked);
  box.addEventListener("change", function () {
    try {
      localStorage.setItem(key, box.checked ? "1" : "0");
    } catch (e) {
      // Storage may be off; the toggle still works for this page.
    }
    schedule(box.checked);
  });
})();
