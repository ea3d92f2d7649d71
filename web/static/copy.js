// A copy button beside each record value: without JavaScript the value
// stays plain text to select; with it, one click copies it. The button's
// words come from the page (data-copy, data-copied), in its language.
"use strict";
for (const code of document.querySelectorAll("code.copy")) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "copy-button";
  b.textContent = code.dataset.copy;
  b.addEventListener("click", () => {
    navigator.clipboard.writeText(code.textContent).then(() => { b.textContent = code.dataset.copied; });
  });
  code.after(" ", b);
}
