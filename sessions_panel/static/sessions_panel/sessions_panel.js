/*
 * Sessions page behaviour. htmx does the requests; this file only does what markup
 * cannot, and works under a strict Content-Security-Policy (no eval, no inline code):
 *
 * - confirmation dialogs (native <dialog>, showModal: focus trapped, Esc cancels),
 *   filled from the row's own cells with textContent, never as HTML, and opened
 *   empty (no reason or password left from the last time);
 * - IP badges: click (or Enter/Space, native to <button>) toggles aria-pressed; the
 *   revealed ones are remembered by handle and re-applied after every swap;
 * - the live refresh: polls are skipped while a dialog is open or the page is hidden,
 *   and the list refreshes as soon as the page is visible again;
 * - keyboard focus survives a refresh, and "Load more" (which appends the next rows)
 *   moves it to the first new row;
 * - a refresh sends the tag of the list it shows (If-None-Match) and keeps the list on
 *   a 304; it never aborts nor is aborted (an abort is a console error in htmx): a
 *   refresh waits while another request of the page is out, and the answer of one
 *   sent before a search, a kill or "Load more" is dropped, not swapped over it.
 */
"use strict";

(function () {
  const revealed = new Set();
  let revealAll = false;
  let pendingFocus = null;
  let focusRowIndex = null;
  let focusListAfterSwap = false;
  // The list's tag as the last refresh or search answered it (freshness.py).
  let listTag = null;
  // Every request of the page but the refresh moves the list on a generation; a refresh
  // answered after that is stale. ``busy``: such requests still out.
  let generation = 0;
  let busy = 0;

  document.documentElement.classList.add("sp-js");

  function byId(id) {
    return document.getElementById(id);
  }

  function setPressed(button, pressed) {
    button.setAttribute("aria-pressed", pressed ? "true" : "false");
    // A blurred address is hidden from screen readers too: they hear the list's label
    // ("IP address, hidden…") instead; revealed, the address is the badge's name.
    const value = button.querySelector(".sp-ip-value");
    if (value && button.closest("tr[data-handle]")) {
      value.setAttribute("aria-hidden", pressed ? "false" : "true");
      if (pressed) {
        const word = byId("sp-ip-word");
        button.removeAttribute("aria-labelledby");
        button.setAttribute(
          "aria-label",
          (word ? word.textContent + " " : "") + value.textContent.trim(),
        );
      } else {
        button.removeAttribute("aria-label");
        button.setAttribute("aria-labelledby", "sp-ip-label");
      }
    }
  }

  // The handle of the row an element is in (rows carry it once, not each control).
  function rowHandle(element) {
    const row = element.closest("tr[data-handle]");
    return row ? row.dataset.handle : null;
  }

  function ipBadges() {
    return document.querySelectorAll("#sp-results tr[data-handle] button.sp-ip");
  }

  function applyReveal() {
    ipBadges().forEach(function (badge) {
      setPressed(badge, revealAll || revealed.has(rowHandle(badge)));
    });
    // With this script a row's Kill opens a dialog first (without it, it posts), and
    // is named after its row ("Kill session 1a2b3c4d of alice"), from the formats the
    // list's kill form holds once.
    const form = byId("sp-kill-form");
    document.querySelectorAll("#sp-results tr[data-handle] button[name=handle]").forEach(
      function (button) {
        button.setAttribute("aria-haspopup", "dialog");
        const row = button.closest("tr[data-handle]");
        if (form && row && !button.hasAttribute("aria-label")) {
          const own = row.classList.contains("sp-current");
          const format = (own ? form.dataset.labelOwn : form.dataset.labelOther) || "";
          button.setAttribute(
            "aria-label",
            format
              // Functions: a "$&" in a username is text, not a replacement pattern.
              .replace("%(id)s", function () {
                return cellText(row, ".sp-short-id");
              })
              .replace("%(user)s", function () {
                return cellText(row, ".sp-username");
              }),
          );
        }
      },
    );
    const all = byId("sp-reveal-all");
    if (all) {
      setPressed(all, revealAll);
    }
  }

  // Risk flags with a reason are disclosures: the ones open stay open across a refresh.
  const openFlags = new Set();

  function flagKey(details) {
    const flag = details.closest("li[data-sp-flag]");
    const handle = rowHandle(details);
    return flag && handle ? handle + ":" + flag.dataset.spFlag : null;
  }

  // "toggle" does not bubble: listened for while it goes down (capture).
  document.addEventListener(
    "toggle",
    function (event) {
      const details = event.target;
      const key = details instanceof HTMLDetailsElement ? flagKey(details) : null;
      if (key) {
        if (details.open) {
          openFlags.add(key);
        } else {
          openFlags.delete(key);
        }
      }
    },
    true,
  );

  function applyFlags() {
    document.querySelectorAll("#sp-results li[data-sp-flag] > details").forEach(function (d) {
      if (!d.open && openFlags.has(flagKey(d))) {
        d.open = true;
      }
    });
  }

  function toggleBadge(badge) {
    const handle = rowHandle(badge);
    const reveal = badge.getAttribute("aria-pressed") !== "true";
    if (revealAll && !reveal) {
      // Leaving "reveal all" by hiding one: keep the others revealed.
      revealAll = false;
      ipBadges().forEach(function (other) {
        revealed.add(rowHandle(other));
      });
    }
    if (reveal) {
      revealed.add(handle);
    } else {
      revealed.delete(handle);
    }
    applyReveal();
  }

  function toggleAll(button) {
    revealAll = button.getAttribute("aria-pressed") !== "true";
    if (!revealAll) {
      revealed.clear();
    }
    applyReveal();
  }

  function fillDialog(dialog, values) {
    dialog.querySelectorAll("[data-sp-field]").forEach(function (element) {
      const value = values[element.dataset.spField] || "";
      if (element instanceof HTMLInputElement) {
        element.value = value;
      } else {
        element.textContent = value || "\u2014";
      }
    });
    dialog.querySelectorAll("[data-sp-field-href]").forEach(function (element) {
      element.setAttribute("href", values[element.dataset.spFieldHref] || "");
    });
    dialog.querySelectorAll("[data-sp-if]").forEach(function (element) {
      element.hidden = values[element.dataset.spIf] !== "true";
    });
    clearInputs(dialog);
  }

  // A dialog opens empty: no reason or password left over from the last time, and no
  // option ("make their password unusable") still ticked.
  function clearInputs(dialog) {
    dialog.querySelectorAll("input[name=reason], input[type=password]").forEach(function (input) {
      input.value = "";
    });
    dialog.querySelectorAll("input[type=checkbox]").forEach(function (input) {
      input.checked = false;
    });
  }

  function cellText(row, selector) {
    const element = row.querySelector(selector);
    return element ? element.textContent.trim() : "";
  }

  // The dialog says what the row shows, read from its cells.
  function openKillDialog(button) {
    const dialog = byId("sp-kill-dialog");
    const row = button.closest("tr[data-handle]");
    if (!dialog || !row || typeof dialog.showModal !== "function") {
      return false;
    }
    const handle = row.dataset.handle;
    // The IP as the row shows it: hidden until revealed there (a blurred row and a
    // readable dialog would undo the blur, on screen and for screen readers alike).
    const ipField = dialog.querySelector("[data-sp-field=ip]");
    const blurred = row.querySelector("button.sp-ip") !== null;
    const ipShown = !blurred || revealAll || revealed.has(handle);
    const application = cellText(row, ":scope > td:nth-child(2)");
    const userLink = row.querySelector("a.sp-username");
    fillDialog(dialog, {
      handle: handle,
      user: cellText(row, ".sp-username"),
      application: application === "\u2014" ? "" : application,
      ip: ipShown
        ? cellText(row, ".sp-ip .sp-ip-value")
        : (ipField && ipField.dataset.spHiddenText) || "",
      "short-id": cellText(row, ".sp-short-id"),
      current: row.classList.contains("sp-current") ? "true" : "false",
      authenticated: userLink ? "true" : "false",
      "user-url": userLink ? userLink.href : "",
    });
    dialog.showModal();
    return true;
  }

  function openDialog(id) {
    const dialog = byId(id);
    if (!dialog || typeof dialog.showModal !== "function") {
      return false;
    }
    clearInputs(dialog);
    dialog.showModal();
    return true;
  }

  function showError() {
    const region = byId("sp-messages");
    const page = byId("sp-page");
    if (!region || !page) {
      return;
    }
    const list = document.createElement("ul");
    list.className = "messagelist";
    const item = document.createElement("li");
    item.className = "error";
    item.textContent = page.dataset.errorText || "";
    list.appendChild(item);
    region.replaceChildren(list);
  }

  function isPoll(element) {
    return Boolean(element) && element.id === "sp-poller";
  }

  // -- clicks: IP badges, "reveal all", dialog openers and closers ------------------

  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) {
      return;
    }
    const badge = target.closest("#sp-results tr[data-handle] button.sp-ip");
    if (badge) {
      toggleBadge(badge);
      return;
    }
    const all = target.closest("#sp-reveal-all");
    if (all) {
      toggleAll(all);
      return;
    }
    const opener = target.closest("[data-sp-open]");
    if (opener && openDialog(opener.dataset.spOpen)) {
      event.preventDefault();
      return;
    }
    const closer = target.closest("[data-sp-close]");
    if (closer) {
      const dialog = closer.closest("dialog");
      event.preventDefault();
      if (dialog && dialog.open) {
        dialog.close();
      } else if (window.location.hash) {
        window.location.hash = "";
      }
    }
  });

  // A row's Kill posts the list's kill form directly without JavaScript; with it,
  // confirm first.
  document.addEventListener("submit", function (event) {
    const form = event.target;
    const button = event.submitter;
    if (
      form instanceof HTMLFormElement &&
      form.classList.contains("sp-kill-form") &&
      button instanceof HTMLElement &&
      openKillDialog(button)
    ) {
      event.preventDefault();
    }
  });

  // -- htmx: pause the poll, keep focus and revealed IPs across swaps ---------------

  // The list's answers, judged where htmx lets an extension judge them: on the swap's
  // target (hx-ext="sp-list" on #sp-results). A document listener would miss a refresh
  // whose target a newer answer has replaced: its events no longer reach the document.
  function judgeAnswer(detail) {
    const xhr = detail.xhr;
    if (xhr.spGeneration !== undefined && xhr.spGeneration !== generation) {
      // A refresh sent before a search, a kill or "Load more" that has answered since.
      detail.shouldSwap = false;
      return;
    }
    if (xhr.status === 304) {
      // Nothing changed: keep the list, say when it was checked.
      detail.shouldSwap = false;
      const updated = document.querySelector("#sp-footer .sp-updated time");
      const text = xhr.getResponseHeader("SP-Updated");
      if (updated && text) {
        updated.textContent = decodeURIComponent(text);
        updated.setAttribute("datetime", new Date().toISOString());
      }
      return;
    }
    if (detail.shouldSwap) {
      // The tag of what is about to be shown (none after a kill or "Load more").
      listTag = xhr.getResponseHeader("ETag");
    }
  }

  if (window.htmx) {
    window.htmx.defineExtension("sp-list", {
      onEvent: function (name, event) {
        if (name === "htmx:beforeSwap") {
          judgeAnswer(event.detail);
        }
      },
    });
  }

  document.addEventListener("htmx:confirm", function (event) {
    if (
      isPoll(event.target) &&
      (document.hidden || busy > 0 || document.querySelector("dialog[open]"))
    ) {
      event.preventDefault();
    }
  });

  document.addEventListener("htmx:configRequest", function (event) {
    if (isPoll(event.detail.elt) && listTag) {
      event.detail.headers["If-None-Match"] = listTag;
    }
  });

  document.addEventListener("htmx:beforeRequest", function (event) {
    const element = event.detail.elt;
    const xhr = event.detail.xhr;
    if (isPoll(element)) {
      xhr.spGeneration = generation;
      return;
    }
    generation += 1;
    busy += 1;
    // Whatever becomes of it (answer, error, abort), and wherever its element went.
    xhr.addEventListener("loadend", function () {
      busy -= 1;
    });
    if (element && element.dataset && element.dataset.spMore) {
      focusRowIndex = Number(element.dataset.spMore);
    }
  });

  // What a control in a row is, for focus to come back to it after a refresh (rows
  // carry their handle once; their controls are known by what they are).
  const ROW_CONTROLS = {
    user: "a.sp-username",
    ip: "button.sp-ip",
    kill: "button[name=handle]",
  };

  function roleInRow(element, row) {
    if (element === row) {
      return "row";
    }
    for (const role in ROW_CONTROLS) {
      if (element.matches(ROW_CONTROLS[role])) {
        return role;
      }
    }
    const flag = element.matches("summary") ? element.closest("li[data-sp-flag]") : null;
    return flag ? "flag-" + flag.dataset.spFlag : null;
  }

  // What has the focus, as "handle:role" inside a row (its data-sp-focus elsewhere).
  document.addEventListener("htmx:beforeSwap", function () {
    const active = document.activeElement;
    const results = byId("sp-results");
    pendingFocus = null;
    if (!active || !results || !results.contains(active)) {
      return;
    }
    const row = active.closest("tr[data-handle]");
    const role = row ? roleInRow(active, row) : null;
    if (row && role) {
      pendingFocus = row.dataset.handle + ":" + role;
    } else if (active.dataset) {
      pendingFocus = active.dataset.spFocus || null;
    }
  });

  function focusTarget(key) {
    const split = key.indexOf(":");
    if (split < 0) {
      return document.querySelector('[data-sp-focus="' + CSS.escape(key) + '"]');
    }
    const row = document.querySelector(
      '#sp-results tr[data-handle="' + CSS.escape(key.slice(0, split)) + '"]',
    );
    const role = key.slice(split + 1);
    if (!row || role === "row") {
      return row;
    }
    if (role.startsWith("flag-")) {
      return row.querySelector(
        'li[data-sp-flag="' + CSS.escape(role.slice(5)) + '"] summary',
      );
    }
    return ROW_CONTROLS[role] ? row.querySelector(ROW_CONTROLS[role]) : null;
  }

  // Rows take the focus from the script only ("Load more", a refresh): made
  // focusable when it gives it, not each in the markup.
  function focusElement(element) {
    if (element.matches("tr[data-handle]")) {
      element.tabIndex = -1;
    }
    element.focus();
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    const element = event.detail.elt;
    const dialog = element && element.closest ? element.closest("dialog") : null;
    if (dialog && dialog.open) {
      dialog.close();
      clearInputs(dialog);
      focusListAfterSwap = true;
    }
    if (event.detail.failed && !isPoll(element)) {
      showError();
    }
  });

  document.addEventListener("htmx:sendError", function (event) {
    if (!isPoll(event.detail.elt)) {
      showError();
    }
  });

  function focusAfterAction() {
    focusListAfterSwap = false;
    const active = document.activeElement;
    const results = byId("sp-results");
    if (!active || active === document.body || !document.contains(active)) {
      // After a kill the row that had the focus is gone: land on the message that
      // says what happened (in view, and read out), else on the list.
      const message = document.querySelector("#sp-messages .messagelist li");
      if (message) {
        message.focus();
        message.scrollIntoView({ block: "nearest" });
      } else if (results) {
        results.focus();
      }
    }
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    applyReveal();
    applyFlags();
    const swapped = event.target instanceof Element ? event.target.id : "";
    if (swapped !== "sp-results" && swapped !== "sp-rows") {
      // A kill answered out of band, its row taken out (kill_one.py): the rest of the
      // list stands, unless that was its last row. (A list rendered whole has no empty
      // table: no rows, no table.)
      const body = byId("sp-rows");
      const poller = byId("sp-poller");
      if (body && !body.querySelector("tr") && poller && window.htmx) {
        window.htmx.trigger(poller, "sp-refresh");
      }
      if (focusListAfterSwap) {
        focusAfterAction();
      }
      return; // an out-of-band piece (badge, count): focus is the results' business
    }
    const rows = document.querySelectorAll("#sp-results tr[data-handle]");
    if (focusRowIndex !== null) {
      const row = rows[focusRowIndex] || rows[rows.length - 1];
      focusRowIndex = null;
      if (row) {
        focusElement(row);
        return;
      }
    }
    if (pendingFocus) {
      const again = focusTarget(pendingFocus);
      pendingFocus = null;
      if (again) {
        focusElement(again);
        return;
      }
    }
    if (focusListAfterSwap) {
      focusAfterAction();
    }
  });

  // Back on the tab: refresh at once rather than at the next tick.
  document.addEventListener("visibilitychange", function () {
    const poller = byId("sp-poller");
    if (!document.hidden && poller && window.htmx) {
      window.htmx.trigger(poller, "sp-refresh");
    }
  });

  // Dialog openers (Kill All, kill matching, kill a user) and the dialogs' Cancel are
  // links, so that without JavaScript they show a dialog in place (:target) or close it.
  // With JavaScript they act as buttons, so they become real buttons: Space works on
  // them and a screen reader calls them buttons.
  function upgradeLinks(root) {
    root.querySelectorAll("a[data-sp-open], a[data-sp-close]").forEach(function (link) {
      const button = document.createElement("button");
      button.type = "button";
      Array.from(link.attributes).forEach(function (attribute) {
        if (attribute.name !== "href") {
          button.setAttribute(attribute.name, attribute.value);
        }
      });
      while (link.firstChild) {
        button.appendChild(link.firstChild);
      }
      const focused = document.activeElement === link;
      link.replaceWith(button);
      if (focused) {
        button.focus();
      }
    });
  }

  document.addEventListener("htmx:load", function (event) {
    if (event.target instanceof Element) {
      upgradeLinks(event.target);
    }
  });

  function start() {
    upgradeLinks(document);
    const all = byId("sp-reveal-all");
    if (all) {
      all.hidden = false;
    }
    applyReveal();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
