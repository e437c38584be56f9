(function () {
  const form = document.getElementById('checkout-form');
  function update() {
    const sku = form.querySelector('input[name=sku_id]:checked');
    const group = form.querySelector('input[name=mode][value=group]').checked;
    document.getElementById('recipients-field').style.display = group ? '' : 'none';
    document.getElementById('named-field').style.display = group ? 'none' : '';
    const qty = parseInt(form.quantity.value || '1', 10) || 1;
    const people = group ? (parseInt(form.recipients.value || '2', 10) || 2) : 1;
    if (!sku) { document.getElementById('total').textContent = document.getElementById('total').dataset.chooseSku; return; }
    const price = parseInt(sku.dataset.price, 10);
    document.getElementById('id_expected_price_fen').value = price;
    const fen = price * qty * people;
    document.getElementById('total').textContent = '¥' + Math.floor(fen / 100).toLocaleString() + '.' + String(fen % 100).padStart(2, '0');
  }
  form.addEventListener('input', update); form.addEventListener('change', update); update();
})();
