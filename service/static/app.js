// The try-it forms of the API page: build the JSON arguments, call the endpoint, show the answer.
"use strict";

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
