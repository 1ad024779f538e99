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
