(function () {
  var all = document.getElementById("select-all");
  if (!all) return;
  var boxes = Array.prototype.slice.call(document.querySelectorAll('input[name="ids"][form="batch"]:not([disabled])'));
  var label = document.getElementById("selected-count");
  function update() {
    var n = boxes.filter(function (b) { return b.checked; }).length;
    label.textContent = n ? label.dataset.some.replace("N", n) : label.dataset.none;
    all.checked = n > 0 && n === boxes.length;
    all.indeterminate = n > 0 && n < boxes.length;
  }
  all.addEventListener("change", function () { boxes.forEach(function (b) { b.checked = all.checked; }); update(); });
  boxes.forEach(function (b) { b.addEventListener("change", update); });
  update();
})();
