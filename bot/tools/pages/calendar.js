(function () {
  var panel = document.getElementById("details");
  function show(event) {
    var day = event.target.closest ? event.target.closest(".day") : null;
    if (!day) return;
    var title = day.querySelector("title");
    panel.textContent = title ? title.textContent : "";
  }
  var grid = document.querySelector("svg.calendar");
  grid.addEventListener("mouseover", show);
  grid.addEventListener("focusin", show);
  grid.addEventListener("click", show);
})();
