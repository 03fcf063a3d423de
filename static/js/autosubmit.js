// Pickers that reload the page when changed (no inline handlers: the CSP allows no inline script).
document.querySelectorAll("select[data-autosubmit]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
