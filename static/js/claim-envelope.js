(function () {
  const env = document.getElementById('envelope');
  const panel = document.getElementById('claim-panel');
  const seal = document.getElementById('open-envelope');
  // Remembered per link on this device, under a hash of its path: the claim link's secret is not kept.
  let h = 0x811c9dc5;
  for (const c of location.pathname) { h = Math.imul(h ^ c.codePointAt(0), 0x01000193) >>> 0; }
  const key = 'opened:' + h.toString(36);
  const opened = !seal || localStorage.getItem(key);
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
    localStorage.setItem(key, '1');
    open(true);
  });
})();
