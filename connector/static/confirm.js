// Asks before a form with data-confirm="…" is sent (disconnect, purge, remove, cancel, approve
// all). The question is read from the attribute as text, so an organization's name can never
// become script. Only an accepted question sets the form's "confirmed" field; the server acts
// on nothing else, and asks on a page of its own when a form comes without it (scripts off, or
// a click before this file ran): see connector/confirm.py.
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (!form) return;
  const field = confirmedField(form);
  field.value = "";
  if (window.confirm(form.dataset.confirm)) field.value = "yes";
  else event.preventDefault();
});

function confirmedField(form) {
  let field = form.querySelector('input[name="confirmed"]');
  if (!field) {
    field = document.createElement("input");
    field.type = "hidden";
    field.name = "confirmed";
    form.append(field);
  }
  return field;
}
