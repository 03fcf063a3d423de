// The menu button of the narrow (phone) layout: opens and closes the collapsed navigation.
// A static file because the Content-Security-Policy allows no inline script.
(() => {
  const button = document.getElementById("menu-button");
  if (!button) return;  // logged out: no navigation
  const bar = button.closest(".topbar");
  button.addEventListener("click", () => {
    const open = bar.classList.toggle("menu-open");
    button.setAttribute("aria-expanded", open ? "true" : "false");
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && bar.classList.contains("menu-open")) {
      bar.classList.remove("menu-open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    }
  });
})();
