// The colour theme, applied before the page paints (a plain script in <head>, not a module): "system" (the
// default) follows the operating system's light or dark setting, live; "light" and "dark" are kept on this
// browser. Every page loads it; the chat's sidebar has the switch (#theme-switch), which cycles the three.
(function () {
  const KEY = "parley.theme";
  const CHOICES = ["system", "dark", "light"];
  const LABELS = { system: "Theme: system", dark: "Theme: dark", light: "Theme: light" };
  const systemDark = window.matchMedia("(prefers-color-scheme: dark)");
  let unsaved = null; // the choice on this page when the browser refuses storage (a private window's policy)

  function chosen() {
    try {
      const stored = localStorage.getItem(KEY);
      return CHOICES.includes(stored) ? stored : unsaved || "system";
    } catch {
      return unsaved || "system";
    }
  }

  function apply() {
    const choice = chosen();
    const dark = choice === "dark" || (choice === "system" && systemDark.matches);
    document.documentElement.dataset.theme = dark ? "dark" : "light";
    const button = document.getElementById("theme-switch");
    if (button) button.textContent = LABELS[choice];
  }

  function cycle() {
    const next = CHOICES[(CHOICES.indexOf(chosen()) + 1) % CHOICES.length];
    unsaved = next;
    try {
      localStorage.setItem(KEY, next);
    } catch {
      // not kept for the next visit, but applied to this page
    }
    apply();
  }

  apply();
  systemDark.addEventListener("change", apply);
  document.addEventListener("DOMContentLoaded", () => {
    apply();
    document.getElementById("theme-switch")?.addEventListener("click", cycle);
  });
})();
