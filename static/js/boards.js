// Relay board: drag and drop (SortableJS), the task drawer, card menus and live refresh.
// The server decides everything: a drop posts the move and the answer replaces the moved card and
// the two column heads (a refused move re-renders its columns from the database, which puts the
// card back where it was; the next poll replaces any cell that differs from the database).
(() => {
  "use strict";
  const POLL_MS = 5000;
  let dragging = false;
  let moving = 0;

  const boardBody = () => document.getElementById("board-body");

  // --- drag and drop ---------------------------------------------------------------------
  function initCells(root) {
    if (!window.Sortable || !root.querySelectorAll) return;
    const cells = root.matches && root.matches(".cell") ? [root] : root.querySelectorAll(".cell");
    cells.forEach((cell) => {
      if (cell._sortable) return;
      cell._sortable = Sortable.create(cell, {
        group: "lane-" + cell.dataset.lane, // cards move between columns, not between lanes
        draggable: ".card-item",
        filter: ".card-menu-btn, .card-menu",
        preventOnFilter: false,
        animation: 120,
        ghostClass: "card-ghost",
        chosenClass: "card-chosen",
        onStart: () => { dragging = true; document.body.classList.add("dragging"); },
        onEnd: (evt) => {
          dragging = false;
          document.body.classList.remove("dragging");
          if (evt.from === evt.to && evt.oldIndex === evt.newIndex) return;
          dropped(evt.item, evt.from, evt.to);
        },
      });
    });
  }

  function forget(root) {
    const cells = root.matches(".cell") ? [root] : root.querySelectorAll(".cell");
    cells.forEach((cell) => {
      if (cell._sortable) {
        cell._sortable.destroy();
        cell._sortable = null;
      }
    });
  }

  function dropped(card, from, to) {
    // The cards above the drop and the dropped one: the server puts them, in this order, above
    // every other card of the column, so the cards below keep their place without being sent.
    const cards = [...to.querySelectorAll(".card-item")];
    const order = cards.slice(0, cards.indexOf(card) + 1).map((c) => c.dataset.id).join(",");
    const values = { order: order };
    if (from.dataset.state === to.dataset.state) {
      values.action = "reorder";
    } else {
      values.from_state = from.dataset.state;
      values.to = to.dataset.state;
    }
    moving += 1;
    const started = performance.now();
    const url = boardBody().dataset.cardBase + card.dataset.id + "/move/";
    htmx.ajax("POST", url, { source: card, swap: "none", values: values })
      .finally(() => {
        moving -= 1;
        window.relayLastMoveMs = performance.now() - started;
        document.dispatchEvent(new CustomEvent("relay:moved", { detail: { ms: window.relayLastMoveMs } }));
      });
  }

  // A "more" sentinel asks for the cards after those its cell shows now: a drop (answered with
  // the moved card only, not its columns) changed how many that is since the cell was rendered.
  document.addEventListener("htmx:configRequest", (event) => {
    const more = event.detail.elt;
    if (!more.matches || !more.matches("li.more")) return;
    const shown = more.closest(".cell").querySelectorAll(".card-item").length;
    event.detail.path = event.detail.path.replace(/([?&])offset=\d+/, "$1offset=" + shown);
  });

  htmx.onLoad((elt) => initCells(elt));
  // A cell swapped out must let go of its Sortable, or the stale instance answers the next drag.
  document.addEventListener("htmx:beforeCleanupElement", (event) => {
    if (event.detail.elt._sortable) forget(event.detail.elt);
  });
  // When the board can be dragged (bench/board.py reads this to measure time-to-interactive).
  document.addEventListener("DOMContentLoaded", () => {
    initCells(document);
    window.relayBoardReady = performance.now();
  });

  // --- toasts ------------------------------------------------------------------------------
  const toastBox = () => document.getElementById("toasts");
  new MutationObserver((records) => {
    records.forEach((r) => r.addedNodes.forEach((node) => {
      if (node.nodeType !== 1) return;
      const toasts = node.matches(".toast") ? [node] : node.querySelectorAll(".toast");
      toasts.forEach((t) => setTimeout(() => t.remove(), t.classList.contains("error") ? 8000 : 4000));
    }));
  }).observe(document.body, { childList: true, subtree: true });

  // --- card menu (keyboard and mouse alternative to dragging) -------------------------------
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-menu]")) {
      closeMenus();
      return;
    }
    const item = event.target.closest(".menu-item");
    if (item) {
      // The answer re-renders the card's columns (closing the menu); keep keyboard focus on it.
      refocus = item.closest(".card-item")?.id;
    } else if (!event.target.closest(".card-menu-btn")) {
      closeMenus();
    }
  });
  let refocus = null;
  document.addEventListener("htmx:afterSettle", () => {
    if (!refocus) return;
    document.getElementById(refocus)?.focus();
    refocus = null;
  });
  function closeMenus(focusCard) {
    document.querySelectorAll(".card-menu").forEach((m) => {
      if (!m.firstElementChild) return;
      m.innerHTML = "";
      if (focusCard) m.closest(".card-item")?.querySelector(".card-menu-btn")?.focus();
    });
  }
  // After settling, not swapping: htmx wires the new buttons up only then.
  document.addEventListener("htmx:afterSettle", (event) => {
    const menu = event.detail.target;
    if (menu.classList && menu.classList.contains("card-menu")) {
      menu.querySelector(".menu-item")?.focus();
    }
  });
  document.addEventListener("keydown", (event) => {
    const menu = event.target.closest && event.target.closest(".card-menu-pop");
    if (event.key === "Escape") {
      if (menu) closeMenus(true);
      else if (!document.getElementById("drawer")?.hidden) closeDrawer();
      return;
    }
    if (menu && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      const items = [...menu.querySelectorAll(".menu-item")];
      const i = items.indexOf(document.activeElement);
      items[(i + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length].focus();
      event.preventDefault();
      return;
    }
    const card = event.target.matches && event.target.matches(".card-item") ? event.target : null;
    if (!card) return;
    if (event.key === "Enter") {
      card.querySelector("a[data-drawer]").click();
      event.preventDefault();
    } else if (event.key === "m" || event.key === "M" || event.key === " ") {
      card.querySelector(".card-menu-btn").click();
      event.preventDefault();
    }
  });

  // --- drawer: beside the board, in the URL, closed by the back button ---------------------
  const drawer = () => document.getElementById("drawer");

  function drawerUrl(id) {
    return drawer().dataset.drawerUrl.replace("/0/", "/" + id + "/");
  }
  function openDrawer(id) {
    const d = drawer();
    d.hidden = false;
    document.getElementById("board-page").classList.add("has-drawer");
    htmx.ajax("GET", drawerUrl(id), { target: "#drawer-slot", swap: "innerHTML" }).then(() => {
      document.getElementById("drawer-title")?.setAttribute("tabindex", "-1");
      document.getElementById("drawer-title")?.focus();
    });
  }
  function hideDrawer() {
    const d = drawer();
    if (!d) return;
    d.hidden = true;
    document.getElementById("drawer-slot").innerHTML = "";
    document.getElementById("board-page").classList.remove("has-drawer");
  }
  function closeDrawer() {
    if (history.state && history.state.relayDrawer) {
      history.back(); // the popstate handler hides it
    } else {
      const url = new URL(location.href);
      url.searchParams.delete("task");
      history.replaceState(null, "", url);
      hideDrawer();
    }
  }
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-close-drawer]")) {
      closeDrawer();
      return;
    }
    const link = event.target.closest("a[data-drawer]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey || !drawer()) return;
    event.preventDefault();
    const id = link.closest(".card-item").dataset.id;
    const url = new URL(location.href);
    url.searchParams.set("task", id);
    history.pushState({ relayDrawer: id }, "", url);
    openDrawer(id);
  });
  // The assignment panel in the drawer assigned the task: refresh the drawer and the board.
  document.body.addEventListener("relay:task-assigned", () => {
    const id = new URL(location.href).searchParams.get("task");
    if (id && drawer() && !drawer().hidden) openDrawer(id);
    poll();
  });
  // The drawer saved an edit: the card shows it at once, not at the next poll.
  document.body.addEventListener("relay:task-edited", () => poll());
  window.addEventListener("popstate", () => {
    if (!drawer()) return;
    const id = new URL(location.href).searchParams.get("task");
    if (id) openDrawer(id);
    else hideDrawer();
  });

  // Keep the "save view" form and polling in step with filters pushed into the URL.
  document.addEventListener("htmx:afterSettle", () => {
    const body = boardBody();
    const save = document.getElementById("save-view-query");
    if (body && save) save.value = body.dataset.query || "";
  });

  // --- live refresh: ETag poll; only changed columns are replaced; never mid-drag ----------
  async function poll() {
    const body = boardBody();
    if (!body || dragging || moving || document.hidden) return;
    let response;
    try {
      response = await fetch(body.dataset.pollUrl, {
        headers: { "If-None-Match": body.dataset.etag || "", "HX-Request": "true" },
        cache: "no-store",
      });
    } catch (e) {
      return;
    }
    if (response.status !== 200 || dragging || moving) return;
    const html = await response.text();
    if (dragging || moving || boardBody() !== body) return;
    const template = document.createElement("template");
    template.innerHTML = html;
    const fresh = template.content.getElementById("board-body");
    if (!fresh) return;
    const badge = template.content.getElementById("unread-badge");
    if (badge) document.getElementById("unread-badge")?.replaceWith(badge);
    const links = template.content.getElementById("work-links");
    if (links) document.getElementById("work-links")?.replaceWith(links);
    const parts = [...fresh.querySelectorAll("[data-sig]")];
    const sameShape = parts.length === body.querySelectorAll("[data-sig]").length &&
      parts.every((el) => document.getElementById(el.id));
    if (!sameShape) {
      forget(body);
      body.replaceWith(fresh);
      htmx.process(fresh);
      initCells(fresh);
      return;
    }
    body.dataset.etag = fresh.dataset.etag;
    parts.forEach((el) => {
      const current = document.getElementById(el.id);
      if (current.dataset.sig === el.dataset.sig) return;
      if (current.querySelector(".card-menu-pop, .card-chosen")) return; // someone is using it
      forget(current);
      current.replaceWith(el);
      htmx.process(el);
      initCells(el);
    });
  }
  setInterval(poll, POLL_MS);
  window.relayPollNow = poll;
})();
