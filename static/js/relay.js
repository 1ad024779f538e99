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

// A button with data-toggle="<id>" opens and closes that element (the header's menu on small
// screens, the board's filters): the class is-open shows it, aria-expanded tells assistive tech.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-toggle]");
  if (!button) return;
  const target = document.getElementById(button.dataset.toggle);
  if (!target) return;
  const open = !target.classList.contains("is-open");
  target.classList.toggle("is-open", open);
  button.setAttribute("aria-expanded", String(open));
});

// After any action that went through (a POST, PUT, PATCH or DELETE answered 2xx), the header's
// counts (My work, Awaiting my review, the bell) may be stale: they listen for relay:changed
// and fetch themselves again.
document.addEventListener("htmx:afterRequest", (event) => {
  const detail = event.detail;
  const method = (detail.requestConfig && detail.requestConfig.verb || "get").toLowerCase();
  if (method === "get" || !detail.successful) return;
  document.body.dispatchEvent(new CustomEvent("relay:changed"));
  // The assignment panel refetches itself after actions elsewhere on the page (an unassign,
  // say), not after its own, whose answer is the fresh panel with its notice.
  const elt = detail.elt;
  if (!(elt && elt.closest && elt.closest("#assignment-panel"))) {
    document.body.dispatchEvent(new CustomEvent("relay:task-changed"));
  }
});
