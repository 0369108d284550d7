// Asks before a form with data-confirm="…" is sent (disconnect, purge). The question is read
// from the attribute as text, so an organization's name can never become script.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});
