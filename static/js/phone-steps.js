(function () {
  // Progressive enhancement of the phone step: its forms post in the background and the step is
  // swapped in place (the card never reloads); signed in, the page follows the redirect. Without
  // JavaScript the same forms post normally and the server renders the next step.
  function wire(box) {
    const sent = box.querySelector('.code-sent'), sending = box.querySelector('.code-sending');
    const resend = box.querySelector('button.resend'), countdown = box.querySelector('.countdown');
    if (box.dataset.statusUrl && resend) {
      let left = parseInt(box.dataset.retryAfter || '0', 10);
      const tick = () => {
        if (!box.isConnected) return;
        if (left > 0) { left -= 1; resend.disabled = true; countdown.textContent = '（' + left + 's）'; }
        if (left <= 0) { resend.disabled = false; countdown.textContent = ''; return; }
        setTimeout(tick, 1000);
      };
      if (left > 0) setTimeout(tick, 1000);
      let tries = 0;
      const poll = () => {
        if (!box.isConnected || !sending || sending.hidden || tries++ > 30) return;
        fetch(box.dataset.statusUrl, {credentials: 'same-origin'}).then(r => r.json()).then(d => {
          if (d.sent) { sending.hidden = true; sent.hidden = false; } else { setTimeout(poll, 1000); }
        }).catch(() => setTimeout(poll, 2000));
      };
      poll();
    }
    box.querySelectorAll('form:not(.wechat-login)').forEach(form => form.addEventListener('submit', event => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      if (button) button.disabled = true;
      fetch(location.pathname + location.search, {method: 'POST', body: new FormData(form), credentials: 'same-origin'})
        .then(r => {
          if (r.redirected) { location.href = r.url; return null; }
          return r.text();
        })
        .then(html => {
          if (html === null) return;
          const next = new DOMParser().parseFromString(html, 'text/html').querySelector('.phone-steps');
          if (!next) { document.open(); document.write(html); document.close(); return; }
          box.replaceWith(next);
          wire(next);
          (next.querySelector('input[name=code]') || next.querySelector('input[name=phone]'))?.focus();
        })
        .catch(() => form.submit());
    }));
  }
  document.querySelectorAll('.phone-steps').forEach(wire);
})();
