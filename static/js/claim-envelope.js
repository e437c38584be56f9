(function () {
  const env = document.getElementById('envelope');
  const panel = document.getElementById('claim-panel');
  const seal = document.getElementById('open-envelope');
  const opened = !seal || localStorage.getItem('opened:' + location.pathname);
  function open(focus) {
    if (!seal) return;
    env.classList.remove('closed'); panel.hidden = false;
    seal.textContent = '礼'; seal.setAttribute('aria-expanded', 'true'); seal.setAttribute('aria-label', seal.dataset.openedLabel);
    seal.tabIndex = -1;
    if (focus) panel.querySelector('input:not([type=hidden]), button, a')?.focus();
  }
  if (opened) { open(false); } else { panel.hidden = true; }
  seal?.addEventListener('click', () => {
    if (!env.classList.contains('closed')) return;
    localStorage.setItem('opened:' + location.pathname, '1');
    open(true);
  });
})();
