// Building the page. Every element is made with h() and every value goes in
// as text: the page's Content-Security-Policy (Trusted Types) refuses HTML
// parsed from strings, so a profile's name can never become markup.

// h makes an element: h("a", {href: "#/x", class: "c", onclick: f}, "text", child).
// Attributes whose value is false, null or undefined are left out; a
// child that is a string becomes a text node, an array is spread, and
// null, undefined and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "value" && "value" in el) {
      el.value = value;
    } else if (name === "checked" || name === "selected" || name === "disabled" || name === "hidden" || name === "open") {
      el[name] = Boolean(value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// replace puts children in el instead of what it held.
export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

let idCounter = 0;
// uid is a fresh element id, for labels and aria-describedby.
export function uid(prefix = "f") {
  idCounter++;
  return `${prefix}-${idCounter}`;
}

// announce tells a screen reader what just happened without moving focus.
export function announce(message) {
  const live = document.getElementById("announcer");
  if (!live) return;
  // Emptied first so that the same message twice is read twice.
  live.textContent = "";
  requestAnimationFrame(() => { live.textContent = message; });
}

// field is a labelled form control with room for its error message, which
// setError fills: the message is tied to the control by aria-describedby,
// so a screen reader reads it with the control.
export function field(label, control, hint) {
  const id = control.id || uid("f");
  control.id = id;
  const err = h("p", { class: "field-error", id: id + "-error", hidden: true });
  const parts = [h("label", { for: id }, label), control];
  let described = err.id;
  if (hint) {
    const hintEl = h("p", { class: "hint", id: id + "-hint" }, hint);
    parts.push(hintEl);
    described = hintEl.id + " " + described;
  }
  control.setAttribute("aria-describedby", described);
  parts.push(err);
  return h("div", { class: "field" }, parts);
}

// setError shows message under the control of a field (or clears it).
export function setError(control, message) {
  const err = document.getElementById(control.id + "-error");
  if (!err) return;
  if (message) {
    err.textContent = message;
    err.hidden = false;
    control.setAttribute("aria-invalid", "true");
  } else {
    err.textContent = "";
    err.hidden = true;
    control.removeAttribute("aria-invalid");
  }
}

// button is a plain button; kind is "primary", "secondary" or "danger".
export function button(label, onclick, kind = "secondary", attrs = {}) {
  return h("button", { type: "button", class: "btn " + kind, onclick, ...attrs }, label);
}

const numbers = new Intl.NumberFormat("en");
export function count(n) {
  return numbers.format(n);
}

// when writes a timestamp for people, in UTC as the API keeps them, in a
// <time> element whose datetime is the API's value.
export function when(iso) {
  if (!iso) return h("span", { class: "null" }, "not set");
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const text = d.toISOString().replace("T", " ").replace(/\.\d+Z$|Z$/, " UTC");
  return h("time", { datetime: iso }, text);
}

// heading is a view's h1, focusable so that the router can move focus to
// it when the view changes: a screen reader then reads where it is.
export function heading(text) {
  return h("h1", { tabindex: "-1", id: "view-title" }, text);
}

// confirmDialog asks a yes/no question in a modal <dialog> and resolves to
// the answer; the focus is trapped in it and Escape answers no.
export function confirmDialog(title, text, yesLabel, danger = true) {
  return new Promise((resolve) => {
    const titleId = uid("dlg");
    let answer = false;
    const yes = button(yesLabel, () => { answer = true; dlg.close(); }, danger ? "danger" : "primary");
    const no = button("Cancel", () => dlg.close(), "secondary");
    const dlg = h("dialog", { "aria-labelledby": titleId, class: "dialog" },
      h("h2", { id: titleId }, title),
      h("p", {}, text),
      h("div", { class: "actions" }, yes, no));
    dlg.addEventListener("close", () => { dlg.remove(); resolve(answer); });
    document.body.append(dlg);
    dlg.showModal();
    no.focus();
  });
}

// download offers text as a file.
export function download(name, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
