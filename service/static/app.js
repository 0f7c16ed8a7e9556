// The try-it forms of the API page: build the JSON arguments, call the endpoint, show the answer:
// the result formatted for reading, with its units (from the docstring), above the exact JSON.
"use strict";

const SUPERSCRIPT = {"-": "\u207b", "0": "\u2070", "1": "\u00b9", "2": "\u00b2", "3": "\u00b3", "4": "\u2074",
                     "5": "\u2075", "6": "\u2076", "7": "\u2077", "8": "\u2078", "9": "\u2079"};
const SHOWN_ITEMS = 8;  // an array shows this many values, then how many there are

// A number for reading: 4 significant digits, a power of ten for the very large and the very
// small (1.235 × 10¹⁷, 6.626 × 10⁻³⁴); an integer of a few digits as it is. The JSON keeps it exact.
function formatNumber(x) {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (Number.isInteger(x) && a < 1e6) return String(x);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) {
    const [mantissa, exponent] = x.toExponential(3).split("e");
    const m = mantissa.replace(/\.?0+$/, "");
    const e = String(Number(exponent)).replace(/./g, c => SUPERSCRIPT[c] || c);
    return `${m} \u00d7 10${e}`;
  }
  return String(Number(x.toPrecision(4)));
}

function formatValue(value) {
  if (typeof value === "number") return formatNumber(value);
  if (Array.isArray(value)) {
    const shown = value.slice(0, SHOWN_ITEMS).map(formatValue).join(", ");
    return value.length > SHOWN_ITEMS ? `[${shown}, \u2026] (${value.length} values)` : `[${shown}]`;
  }
  if (value !== null && typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function valueCell(tag, value, unit) {
  const cell = element(tag);
  cell.append(element("span", "value", formatValue(value)));
  if (unit) cell.append(element("span", "unit", unit));
  return cell;
}

function showResult(view, result, units) {
  view.replaceChildren();
  if (result !== null && typeof result === "object" && !Array.isArray(result)) {
    const table = element("table", "result-fields");
    for (const [key, value] of Object.entries(result)) {
      const row = element("tr");
      row.dataset.key = key;
      row.append(element("th", "key", key), valueCell("td", value, units[key] || ""));
      table.append(row);
    }
    view.append(table);
  } else {
    view.append(valueCell("div", result, units[""] || ""));
  }
  view.hidden = false;
}

function parseField(el) {
  const kind = el.dataset.kind;
  const raw = el.value.trim();
  if (raw === "") return undefined;  // left empty: the parameter's default applies
  if (kind === "number" || kind === "integer") {
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new Error(`${el.name}: "${raw}" is not a number`);
    return n;
  }
  if (kind === "boolean") return raw === "true";
  if (kind === "string") return el.value;
  try {
    return JSON.parse(raw);
  } catch (e) {
    throw new Error(`${el.name}: not valid JSON (${e.message})`);
  }
}

function show(output, ok, text) {
  output.textContent = text;
  output.classList.toggle("ok", ok);
  output.classList.toggle("failed", !ok);
}

async function callEndpoint(form) {
  const output = form.querySelector("output.result");
  const view = form.querySelector(".result-view");
  if (view) view.hidden = true;
  const args = {};
  try {
    for (const el of form.querySelectorAll("[data-kind]")) {
      const value = parseField(el);
      if (value !== undefined) args[el.name] = value;
    }
  } catch (e) {
    show(output, false, e.message);
    return;
  }
  show(output, true, "calling…");
  let response, body;
  try {
    response = await fetch(form.dataset.url, {
      method: "POST",
      headers: {"Content-Type": "application/json", "Accept": "application/json"},
      body: JSON.stringify(args),
      credentials: "same-origin",
    });
    body = await response.json();
  } catch (e) {
    show(output, false, `the call failed: ${e.message}`);
    return;
  }
  if (response.ok) {
    const version = response.headers.get("Gilgamesh-Version") || body.version;
    if (view) {
      let units = {};
      try { units = JSON.parse(form.dataset.resultUnits || "{}"); } catch (e) { units = {}; }
      showResult(view, body.result, units);
    }
    show(output, true, `${JSON.stringify(body.result, null, 2)}\n\n(${body.name}@${version})`);
  } else {
    const err = body.error || {};
    const details = (err.details || []).map(d => typeof d === "string" ? d : (d.message || JSON.stringify(d)));
    show(output, false, `${err.status || response.status}: ${err.message || response.statusText}` +
      (details.length ? "\n" + details.join("\n") : ""));
  }
}

document.addEventListener("submit", (event) => {
  const form = event.target.closest("form.try-it");
  if (!form) return;
  event.preventDefault();
  callEndpoint(form);
});
