document.getElementById('copy-link')?.addEventListener('click', async () => {
  const input = document.getElementById('claim-link'); input.select();
  try { await navigator.clipboard.writeText(input.value); } catch (err) { document.execCommand('copy'); }
  const status = document.getElementById('copy-status');
  status.textContent = status.dataset.copied;
});
