// Typeset the notebook's equations with the KaTeX copy this service ships (no network needed).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("notebook");
  if (!root || typeof renderMathInElement !== "function") return;
  renderMathInElement(root, {
    delimiters: [
      {left: "$$", right: "$$", display: true},
      {left: "\\[", right: "\\]", display: true},
      {left: "\\begin{equation}", right: "\\end{equation}", display: true},
      {left: "\\begin{align}", right: "\\end{align}", display: true},
      {left: "$", right: "$", display: false},
      {left: "\\(", right: "\\)", display: false},
    ],
    ignoredTags: ["script", "noscript", "style", "textarea", "pre", "code", "option"],
    ignoredClasses: ["highlight", "output_stream", "output_error"],
    throwOnError: false,
  });
  root.dataset.mathRendered = "true";
});
