/* A button marked data-print prints the page (the packing slips and labels). */
document.querySelectorAll('[data-print]').forEach(function (b) {
  b.addEventListener('click', function () { window.print(); });
});
