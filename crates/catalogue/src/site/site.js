// excite catalogue: the left and right arrow keys follow the page's previous/next links.
document.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, select, textarea")) {
    return;
  }
  var rel = { ArrowLeft: "prev", ArrowRight: "next" }[event.key];
  if (!rel) {
    return;
  }
  var link = document.querySelector('a[rel="' + rel + '"]');
  if (link) {
    window.location.href = link.href;
  }
});

// The search box: "layer:channel" (or "layer channel") opens the unit's page, a layer's name
// alone its page. A layer is found by its exact name, else as the one name containing the text.
function findUnit(text) {
  text = text.trim();
  var byName = function (name) {
    var exact = EXCITE_LAYERS.filter(function (l) { return l[0] === name; });
    if (exact.length) {
      return exact;
    }
    var lower = name.toLowerCase();
    return EXCITE_LAYERS.filter(function (l) { return l[0].toLowerCase().indexOf(lower) >= 0; });
  };
  var whole = EXCITE_LAYERS.filter(function (l) { return l[0] === text; });
  var parts = /^(.*?)[:\s]\s*(\d+)$/.exec(text);
  if (!text) {
    return { error: "type a layer and a channel, e.g. " + (EXCITE_LAYERS.length ? EXCITE_LAYERS[0][0] + ":0" : "conv1:0") };
  }
  if (whole.length || !parts) {
    var layers = whole.length ? whole : byName(text);
    if (layers.length !== 1) {
      return { error: layers.length ? layers.length + " layers match: " + layers.slice(0, 5).map(function (l) { return l[0]; }).join(", ") : "no layer matches \u201c" + text + "\u201d" };
    }
    return { href: "layers/" + encodeURIComponent(layers[0][1]) + ".html" };
  }
  var found = byName(parts[1]);
  if (found.length !== 1) {
    return { error: found.length ? found.length + " layers match: " + found.slice(0, 5).map(function (l) { return l[0]; }).join(", ") : "no layer matches \u201c" + parts[1] + "\u201d" };
  }
  var layer = found[0], channel = parseInt(parts[2], 10);
  if (channel < layer[2][0] || channel >= layer[2][1]) {
    return { error: layer[0] + " has channels " + layer[2][0] + ".." + layer[2][1] };
  }
  var done = (layer[3] || []).some(function (run) { return channel >= run[0] && channel < run[1]; });
  if (!done) {
    return { error: layer[0] + ":" + channel + " is not rendered yet" };
  }
  return { href: "units/" + encodeURIComponent(layer[1]) + "/" + channel + ".html" };
}

document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.search");
  if (!form || typeof EXCITE_LAYERS === "undefined") {
    return;
  }
  var list = form.querySelector("datalist");
  EXCITE_LAYERS.forEach(function (l) {
    var option = document.createElement("option");
    option.value = l[0];
    list.appendChild(option);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var found = findUnit(form.elements.q.value);
    form.querySelector("output").textContent = found.error || "";
    if (found.href) {
      window.location.href = form.getAttribute("data-root") + found.href;
    }
  });
});

// A layer page's "Sort by": the grid's units reordered by a data attribute, plausibility and
// channel ascending, the others descending; units without the value last.
document.addEventListener("DOMContentLoaded", function () {
  var select = document.querySelector("select.sort");
  var grid = document.querySelector(".grid");
  if (!select || !grid) {
    return;
  }
  select.addEventListener("change", function () {
    var key = select.value, ascending = key === "channel" || key === "plausibility";
    var units = Array.prototype.slice.call(grid.children);
    var value = function (unit) {
      var v = parseFloat(unit.getAttribute("data-" + key));
      return isNaN(v) ? null : v;
    };
    units.sort(function (a, b) {
      var va = value(a), vb = value(b);
      if (va === null || vb === null) {
        return (va === null) - (vb === null);
      }
      return ascending ? va - vb : vb - va;
    });
    units.forEach(function (unit) { grid.appendChild(unit); });
  });
});
