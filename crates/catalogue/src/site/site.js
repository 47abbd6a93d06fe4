// excite catalogue: the left and right arrow keys follow the page's previous/next links.
document.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.tagName === "INPUT") {
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
