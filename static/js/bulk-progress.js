(function () {
  const box = document.getElementById('progress');
  const phase = box.dataset.phase;
  if (phase !== 'validating' && phase !== 'sending') return;
  const bar = document.getElementById('progress-bar');
  async function poll() {
    try {
      const r = await fetch(box.dataset.url, {headers: {Accept: 'application/json'}, credentials: 'same-origin'});
      if (r.ok) {
        const p = await r.json();
        bar.value = p.percent; bar.textContent = p.percent + '%';
        document.getElementById('progress-count').textContent = p.done + ' / ' + p.total;
        document.getElementById('valid-rows').textContent = p.valid_rows;
        document.getElementById('invalid-rows').textContent = p.invalid_rows;
        if (p.phase !== phase || p.stage === 'sent') { location.reload(); return; }
      }
    } catch (e) { /* keep polling */ }
    setTimeout(poll, 1000);
  }
  setTimeout(poll, 500);
})();
