/* Search as you type, on every page.
 *
 * - Each input with data-suggest="<suggest API URL>" gets suggestions under it: the ARIA
 *   combobox pattern with a listbox popup (↑/↓ move, Enter opens the highlighted one or
 *   submits the form, Esc closes, a click opens).
 * - "/" focuses the header search box, unless one is typing in a field.
 * - A form with data-auto-submit applies its checkboxes and selects as they change (its
 *   submit button is for browsers without JavaScript), its filters folded on narrow screens.
 */
(function () {
  "use strict";

  const DEBOUNCE_MS = 120;
  const MIN_CHARS = 2;
  const LIMIT = 8;
  let boxes = 0;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text) node.textContent = text;
    return node;
  }

  // The text with the first occurrence of what was typed in <mark>, built as nodes so
  // that names are never parsed as HTML.
  function marked(text, typed) {
    const span = el("span", "suggest-text");
    const at = text.toLowerCase().indexOf(typed.toLowerCase());
    if (at < 0 || !typed) {
      span.textContent = text;
      return span;
    }
    span.append(text.slice(0, at), el("mark", "", text.slice(at, at + typed.length)),
      text.slice(at + typed.length));
    return span;
  }

  function submit(form) {
    if (form.requestSubmit) form.requestSubmit();
    else form.submit();
  }

  function suggestBox(input) {
    const url = input.dataset.suggest;
    const id = "suggest-" + ++boxes;
    const hadFocus = document.activeElement === input;
    // The popup is placed under the input, so both share a positioned wrapper.
    const wrap = el("div", "suggest-wrap");
    const list = el("ul", "suggest-list");
    input.parentNode.insertBefore(wrap, input);
    wrap.append(input, list);
    if (hadFocus) input.focus();

    list.id = id;
    list.hidden = true;
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", id);
    input.setAttribute("aria-expanded", "false");

    let items = [];
    let active = -1;
    let shownFor = null;
    let timer = 0;
    let pending = null;

    function options() {
      return list.querySelectorAll("[role=option]");
    }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      highlight(-1);
    }

    function open() {
      if (!items.length) return close();
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
      active = index;
      options().forEach((option, i) => option.setAttribute("aria-selected", String(i === index)));
      if (index < 0) {
        input.removeAttribute("aria-activedescendant");
        return;
      }
      const option = options()[index];
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({ block: "nearest" });
    }

    function go(item) {
      close();
      if (item.url) window.location.assign(item.url);
      else submit(input.form);
    }

    function render(typed, suggestions) {
      // The last option searches for the text as typed: Enter on it is a plain search.
      items = suggestions.concat([{ text: typed, search: true }]);
      list.replaceChildren(...items.map((item, i) => {
        const option = el("li", "suggest-option" + (item.search ? " suggest-all" : ""));
        option.id = id + "-" + i;
        option.dataset.index = String(i);
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        if (item.search) {
          option.append(el("span", "suggest-kind", "Search"),
            el("span", "suggest-text", "All results for “" + typed + "”"));
        } else {
          option.dataset.type = item.type;
          option.append(el("span", "badge type-badge type-" + item.type, item.type),
            marked(item.text, typed));
          if (item.subtitle) option.append(el("span", "suggest-sub", item.subtitle));
        }
        return option;
      }));
      active = -1;
      shownFor = typed;
    }

    function fetchSuggestions() {
      const typed = input.value.trim();
      if (typed.length < MIN_CHARS) {
        if (pending) pending.abort();
        shownFor = null;
        items = [];
        return close();
      }
      if (typed === shownFor) return open();
      if (pending) pending.abort();
      pending = new AbortController();
      const query = new URLSearchParams({ q: typed, limit: String(LIMIT) });
      fetch(url + "?" + query, { signal: pending.signal, headers: { Accept: "application/json" } })
        .then((response) => (response.ok ? response.json() : { suggestions: [] }))
        .then((data) => {
          render(typed, data.suggestions || []);
          if (document.activeElement === input) open();
        })
        .catch((error) => {
          if (error.name !== "AbortError") close();
        });
    }

    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(fetchSuggestions, DEBOUNCE_MS);
    });
    input.addEventListener("focus", () => {
      if (input.value.trim() === shownFor) open();
    });
    input.addEventListener("blur", close);
    input.addEventListener("keydown", (event) => {
      const count = items.length;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        if (list.hidden) return fetchSuggestions();
        const step = event.key === "ArrowDown" ? 1 : -1;
        highlight(active < 0 && step < 0 ? count - 1 : (active + step + count) % count);
      } else if (event.key === "Enter" && !list.hidden && active >= 0) {
        event.preventDefault();
        go(items[active]);
      } else if (event.key === "Escape" && !list.hidden) {
        event.preventDefault();
        close();
      }
    });
    // Keep the focus in the input while the pointer picks an option.
    list.addEventListener("mousedown", (event) => event.preventDefault());
    list.addEventListener("click", (event) => {
      const option = event.target.closest("[role=option]");
      if (option) go(items[Number(option.dataset.index)]);
    });
    list.addEventListener("mousemove", (event) => {
      const option = event.target.closest("[role=option]");
      if (option && Number(option.dataset.index) !== active) highlight(Number(option.dataset.index));
    });
  }

  function isTyping(target) {
    return target instanceof Element &&
      (target.isContentEditable || target.closest("input, textarea, select") !== null);
  }

  function focusOnSlash(event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.defaultPrevented || isTyping(event.target)) return;
    const box = document.querySelector(".header-search input[name=q]");
    if (!box) return;
    event.preventDefault();
    box.focus();
    box.select();
  }

  function autoSubmit(form) {
    form.classList.add("auto-submit");
    // On a narrow screen the filters start folded, so that the results come first.
    if (window.matchMedia("(max-width: 900px)").matches) {
      form.querySelectorAll("details.facet-panel").forEach((panel) => { panel.open = false; });
    }
    form.addEventListener("change", (event) => {
      if (event.target.matches("input[type=checkbox], input[type=radio], select")) submit(form);
    });
  }

  document.querySelectorAll("input[data-suggest]").forEach(suggestBox);
  document.querySelectorAll("form[data-auto-submit]").forEach(autoSubmit);
  document.addEventListener("keydown", focusOnSlash);
})();
