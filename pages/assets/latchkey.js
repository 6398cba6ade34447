// Niceties only: every page works without this file.

document.addEventListener("click", (event) => {
  const target = event.target instanceof Element ? event.target.closest("[data-copy],[data-print]") : null;
  if (!target) return;
  if (target.hasAttribute("data-print")) {
    window.print();
    return;
  }
  const source = document.getElementById(target.getAttribute("data-copy") || "");
  if (!source || !navigator.clipboard) return;
  navigator.clipboard.writeText(source.textContent.trim()).then(() => {
    const done = target.getAttribute("data-copied");
    if (done) target.textContent = done;
  });
});
// Buttons that need this script stay hidden without it.
for (const element of document.querySelectorAll("[data-needs-script]")) element.hidden = false;
