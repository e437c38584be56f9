(function () {
  /* Province, city and district as cascading selects fed by /api/v1/regions/; saved-address chips fill the form. */
  const form = document.getElementById('accept-form');
  if (!form) return;
  const [prov, city, dist] = ['province', 'city', 'district'].map(n => form.elements[n]);
  function fill(select, names, value) {
    select.length = 1;
    names.forEach(n => select.add(new Option(n, n, false, n === value)));
  }
  fetch(form.dataset.regionsUrl).then(r => r.json()).then(tree => {
    function onProv() { fill(city, Object.keys(tree[prov.value] || {}), city.dataset.value); city.dataset.value = ''; onCity(); }
    function onCity() {
      const d = (tree[prov.value] || {})[city.value] || [];
      fill(dist, d, dist.dataset.value); dist.dataset.value = '';
      dist.required = d.length > 0; dist.disabled = d.length === 0;
    }
    fill(prov, Object.keys(tree), prov.dataset.value); prov.dataset.value = '';
    prov.addEventListener('change', onProv); city.addEventListener('change', onCity); onProv();
    document.querySelectorAll('[data-fill]').forEach(b => b.addEventListener('click', () => {
      const a = JSON.parse(b.dataset.fill);
      form.elements.name.value = a.name; form.elements.phone.value = a.phone; form.elements.detail.value = a.detail;
      prov.value = a.province; city.dataset.value = a.city; dist.dataset.value = a.district; onProv();
    }));
  });
})();
