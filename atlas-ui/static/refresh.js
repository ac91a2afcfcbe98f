// Atlas dashboard: reloads the sections marked data-refresh (running work)
// every 5 seconds while the page is visible. Everything is readable
// without it.
(function () {
  "use strict";
  var sections = document.querySelectorAll("[data-refresh][id]");
  if (!sections.length || !window.fetch || !window.DOMParser) { return; }
  function reload() {
    if (document.hidden) { return; }
    fetch(window.location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        sections.forEach(function (old) {
          var next = fresh.getElementById(old.id);
          if (next) { old.innerHTML = next.innerHTML; }
        });
      })
      .catch(function () {});
  }
  window.setInterval(reload, 5000);
})();
