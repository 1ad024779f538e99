// Relay: small progressive enhancements on top of htmx.
// Refusals (403 not yours to do, 409 not now, 413 a file too big, 415 a file of a type not
// allowed) and form errors (422) come back as partials that explain why: swap them in.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if ([403, 409, 413, 415, 422].includes(status)) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});

// A button with data-confirm asks first (instead of an inline onclick, which the
// Content-Security-Policy refuses).
document.addEventListener("submit", (event) => {
  const message = event.submitter && event.submitter.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});

// Escape in a task's edit form cancels the edit (its Cancel button fetches the panel back)
// and goes no further: in the drawer it would close the drawer too. Capture phase, so it
// runs before the board's own Escape handler on the document.
document.addEventListener(
  "keydown",
  (event) => {
    if (event.key !== "Escape") return;
    const form = event.target.closest && event.target.closest("form[data-edit-task]");
    if (!form) return;
    event.stopPropagation();
    event.preventDefault();
    form.querySelector("[data-cancel-edit]")?.click();
  },
  true,
);

// An edit form opened: its first field takes the focus, once.
document.addEventListener("htmx:afterSettle", () => {
  const form = document.querySelector("form[data-edit-task]:not([data-focused])");
  if (!form) return;
  form.dataset.focused = "1";
  form.querySelector("input:not([type=hidden]):not(:disabled), textarea")?.focus();
});
