// Relay: the header's quick-open box (templates/search/partials/quick_open.html).
// "/" focuses it (unless you are typing somewhere); htmx fills the results as you type;
// ArrowDown/ArrowUp move through them, Enter opens the chosen one (or the results page when
// none is chosen), Escape closes them. Static file only: the Content-Security-Policy allows no
// inline script.
(() => {
  const typingIn = (element) =>
    element &&
    (element.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(element.tagName));

  const parts = () => {
    const form = document.querySelector("[data-quick-open]");
    if (!form) return null;
    return { form, input: form.querySelector("input[name=q]"), list: form.querySelector("[role=listbox]") };
  };

  const options = (list) => Array.from(list.querySelectorAll("[role=option]"));

  const show = ({ input, list }, open) => {
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open) input.removeAttribute("aria-activedescendant");
  };

  const choose = ({ input, list }, index) => {
    const all = options(list);
    all.forEach((option, i) => option.setAttribute("aria-selected", i === index ? "true" : "false"));
    if (all[index]) {
      input.setAttribute("aria-activedescendant", all[index].id);
      all[index].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  // "/" anywhere but in a field focuses the box.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const box = parts();
    if (!box || typingIn(document.activeElement)) return;
    event.preventDefault();
    box.input.focus();
    box.input.select();
  });

  // In the box: arrows, Enter, Escape. Handled on the form, before the page's own keys (the
  // board's Escape closes its drawer) hear of them.
  const wire = () => {
    const box = parts();
    if (!box) return;
    box.form.addEventListener("keydown", (event) => {
      if (event.target !== box.input) return;
      const all = options(box.list);
      const current = all.findIndex((option) => option.getAttribute("aria-selected") === "true");
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (!all.length) return;
        event.preventDefault();
        show(box, true);
        const step = event.key === "ArrowDown" ? 1 : -1;
        choose(box, current < 0 && step < 0 ? all.length - 1 : (current + step + all.length) % all.length);
      } else if (event.key === "Enter" && current >= 0 && !box.list.hidden) {
        // Nothing chosen: the form goes to the results page.
        event.preventDefault();
        window.location.assign(all[current].href);
      } else if (event.key === "Escape") {
        event.preventDefault();
        event.stopPropagation();
        show(box, false);
        box.input.blur();
      }
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();

  // New results: show them (or hide an empty answer), nothing chosen yet.
  document.addEventListener("htmx:afterSwap", (event) => {
    const box = parts();
    if (!box || event.detail.target !== box.list) return;
    show(box, box.list.children.length > 0 && box.input.value.trim() !== "");
    choose(box, -1);
  });

  // Clicking elsewhere closes the results; coming back to the box shows them again.
  document.addEventListener("click", (event) => {
    const box = parts();
    if (box && !box.form.contains(event.target)) show(box, false);
  });
  document.addEventListener("focusin", (event) => {
    const box = parts();
    if (box && event.target === box.input && box.list.children.length && box.input.value.trim()) show(box, true);
  });
})();
