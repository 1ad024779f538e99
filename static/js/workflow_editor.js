// The workflow template editor (admin change page): each route row offers only the outcomes its
// step can produce, and steps are ordered by dragging them or by "Move up" / "Move down"
// (keyboard: the buttons are ordinary buttons). The live diagram itself is htmx (see
// live.html): anything that changes the form without an input event (a move) fires "change".
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", fn);
    else fn();
  }

  ready(function () {
    var form = document.getElementById("workflowtemplate_form");
    var configNode = document.getElementById("wf-editor-config");
    if (!form || !configNode) return;
    var config = JSON.parse(configNode.getAttribute("data-config"));

    function changed() {
      form.dispatchEvent(new Event("change", { bubbles: true }));
    }

    // --- the dry run: on (1) or off (0) for every preview from now on ------------------------
    form.addEventListener("click", function (event) {
      var button = event.target.closest("[data-wf-dry]");
      var on = document.getElementById("wf-dry-on");
      if (!button || !on) return;
      event.preventDefault();
      on.value = button.getAttribute("data-wf-dry");
      changed();
    });

    // --- outcomes per step ------------------------------------------------------------------
    function stepRowByPk(pk) {
      var ids = form.querySelectorAll('#steps-group input[name^="steps-"][name$="-id"]');
      for (var i = 0; i < ids.length; i++) {
        if (ids[i].value && ids[i].value === pk) return ids[i].closest(".inline-related");
      }
      return null;
    }

    function outcomesFor(select) {
      if (!select.value) return null;
      var row = stepRowByPk(select.value);
      if (row) {
        var kind = row.querySelector('select[name$="-kind"]');
        var manual = row.querySelector('select[name$="-manual_outcomes"]');
        var key = (kind ? kind.value : "manual") + ":" + (manual ? manual.value : "done");
        if (config.outcomes[key]) return config.outcomes[key];
      }
      var option = select.options[select.selectedIndex];
      var listed = option && option.getAttribute("data-outcomes");
      return listed ? listed.split(" ") : null;
    }

    function refreshRoute(row) {
      var from = row.querySelector('select[name$="-from_step"]');
      var outcome = row.querySelector('select[name$="-outcome"]');
      if (!from || !outcome) return;
      var allowed = outcomesFor(from) || Object.keys(config.labels);
      var current = outcome.value;
      var wanted = [""].concat(allowed);
      if (current && wanted.indexOf(current) < 0) wanted.push(current);
      var have = Array.prototype.map.call(outcome.options, function (o) { return o.value; });
      if (have.join("|") === wanted.join("|")) return;
      outcome.textContent = "";
      wanted.forEach(function (value) {
        var option = document.createElement("option");
        option.value = value;
        option.textContent = value ? config.labels[value] || value : "---------";
        if (value && allowed.indexOf(value) < 0) option.textContent += " (this step never ends so)";
        option.selected = value === current;
        outcome.appendChild(option);
      });
    }

    function refreshRoutes() {
      form.querySelectorAll("#routes-group tr.form-row").forEach(refreshRoute);
    }

    form.addEventListener("change", function (event) {
      var name = event.target.name || "";
      if (/-(from_step|kind|manual_outcomes)$/.test(name)) refreshRoutes();
    });
    document.addEventListener("formset:added", function (event) {
      if (event.detail && event.detail.formsetName === "steps") numberSteps();
      refreshRoutes();
    });
    refreshRoutes();

    // --- ordering steps -----------------------------------------------------------------------
    var group = form.querySelector("#steps-group");
    if (!group || !group.querySelector("input[data-wf-position]")) return;

    function stepRows() {
      return Array.prototype.filter.call(
        group.querySelectorAll(".inline-related"),
        function (row) { return !row.classList.contains("empty-form"); }
      );
    }

    function numberSteps() {
      stepRows().forEach(function (row, index) {
        var input = row.querySelector("input[data-wf-position]");
        if (input) input.value = String(index);
        addButtons(row);
      });
    }

    function move(row, direction, button) {
      var rows = stepRows();
      var index = rows.indexOf(row);
      var other = rows[index + direction];
      if (!other) return;
      if (direction < 0) other.parentNode.insertBefore(row, other);
      else other.parentNode.insertBefore(row, other.nextSibling);
      numberSteps();
      if (button) button.focus();
      var name = row.querySelector(".inline_label");
      announce((name ? name.textContent : "Step") + " moved to position " + (rows.indexOf(row) + 1 + direction) + ".");
      changed();
    }

    var live = document.createElement("p");
    live.className = "wf-move-status";
    live.setAttribute("aria-live", "polite");
    group.appendChild(live);
    function announce(text) { live.textContent = text; }

    function addButtons(row) {
      if (row.querySelector(".wf-move")) return;
      var heading = row.querySelector("h3");
      if (!heading) return;
      var tools = document.createElement("span");
      tools.className = "wf-move";
      [["up", -1, "Move up"], ["down", 1, "Move down"]].forEach(function (spec) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "button wf-move-" + spec[0];
        button.textContent = spec[2];
        button.addEventListener("click", function (event) {
          event.preventDefault();
          move(row, spec[1], button);
        });
        tools.appendChild(button);
      });
      heading.appendChild(tools);
      heading.classList.add("wf-drag-handle");
    }

    numberSteps();
    if (window.Sortable) {
      var container = stepRows()[0] ? stepRows()[0].parentNode : null;
      if (container) {
        window.Sortable.create(container, {
          draggable: ".inline-related:not(.empty-form)",
          handle: ".wf-drag-handle",
          animation: 120,
          onEnd: function () { numberSteps(); changed(); },
        });
      }
    }
  });
})();
