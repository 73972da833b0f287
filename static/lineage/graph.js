// Lineage page, progressively enhanced: the page works without this file.
// - the controls redraw as soon as one changes;
// - "+N more" expands in place: the figure is fetched and swapped, the URL follows.
(function () {
  "use strict";

  var controls = document.querySelector("form[data-autosubmit]");
  if (controls) {
    controls.addEventListener("change", function (event) {
      if (event.target.matches("select")) controls.requestSubmit();
    });
  }

  function figure() { return document.getElementById("lineage-figure"); }

  // Wide pictures scroll: bring the node asked about into view.
  function centerRoot(scope) {
    (scope || document).querySelectorAll(".lineage-canvas").forEach(function (canvas) {
      var root = canvas.querySelector(".is-root");
      if (!root || canvas.scrollWidth <= canvas.clientWidth) return;
      var box = root.getBoundingClientRect(), frame = canvas.getBoundingClientRect();
      canvas.scrollLeft += box.left + box.width / 2 - (frame.left + frame.width / 2);
    });
  }
  centerRoot();

  function swap(url, push) {
    var current = figure();
    if (!current) { window.location.assign(url); return; }
    current.classList.add("is-loading");
    var partial = url + (url.indexOf("?") < 0 ? "?" : "&") + "partial=1";
    fetch(partial, { headers: { "X-Requested-With": "fetch" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var holder = document.createElement("div");
        holder.innerHTML = html;
        var next = holder.querySelector("#lineage-figure");
        if (!next) throw new Error("no figure");
        var scroll = current.querySelector(".lineage-canvas").scrollLeft;
        current.replaceWith(next);
        next.querySelector(".lineage-canvas").scrollLeft = scroll;
        if (push) history.pushState({ lineage: url }, "", url);
        syncHiddenExpansions(url);
        var link = next.querySelector("a");
        if (link) link.focus({ preventScroll: true });
      })
      .catch(function () { window.location.assign(url); });
  }

  // The controls form carries the expansions, so a redraw keeps what was expanded.
  function syncHiddenExpansions(url) {
    if (!controls) return;
    controls.querySelectorAll('input[name="expand"]').forEach(function (el) { el.remove(); });
    new URL(url, window.location.href).searchParams.getAll("expand").forEach(function (value) {
      var input = document.createElement("input");
      input.type = "hidden"; input.name = "expand"; input.value = value;
      controls.appendChild(input);
    });
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.expand");
    if (!link || !figure() || event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    swap(link.getAttribute("href"), true);
  });

  window.addEventListener("popstate", function () {
    if (figure()) swap(window.location.href, false);
  });
})();
