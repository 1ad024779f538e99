// Relay: small progressive enhancements on top of htmx.
// Refusals (409) and form errors (422) come back as partials that explain why: swap them in.
document.addEventListener("htmx:beforeSwap", (event) => {
  const status = event.detail.xhr.status;
  if (status === 409 || status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
