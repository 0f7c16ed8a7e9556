// Typeset equations with the KaTeX copy this service ships (no network needed): the notebook, the
// API reference and the endpoints' docstrings (#notebook and every element of class "math-root").
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  if (typeof renderMathInElement !== "function") return;
  for (const root of document.querySelectorAll("#notebook, .math-root")) {
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
  }
});
