// The template editor: a placeholder button puts its text where the cursor was, in the subject
// or the body (whichever was used last), then asks for a fresh preview ("insert" event).
(function () {
  let last = document.querySelector("[data-insertable]");
  document.addEventListener("focusin", (event) => {
    if (event.target.matches("[data-insertable]")) last = event.target;
  });
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-insert]");
    if (!button || !last) return;
    const text = button.dataset.insert;
    const start = last.selectionStart ?? last.value.length;
    const end = last.selectionEnd ?? start;
    last.value = last.value.slice(0, start) + text + last.value.slice(end);
    last.focus();
    last.setSelectionRange(start + text.length, start + text.length);
    last.form.dispatchEvent(new Event("insert"));
  });
})();
