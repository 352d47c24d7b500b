// What every dialog uses: opening one with its error lines cleared, showing a refusal, submitting a form.

export const SEARCH_DEBOUNCE_MS = 180;

export function debounce(fn, wait) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), wait);
  };
}

// An error line (`.form-error`) shows the refusal's message, or hides when `error` is null.
export function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}

// A form's action with its submit button disabled meanwhile; a refusal shows in the form's error line.
export async function submitting(form, action) {
  const submit = form.querySelector("[type=submit]");
  submit.disabled = true;
  try {
    await action();
  } catch (failure) {
    showError(form.querySelector(".form-error"), failure);
  } finally {
    submit.disabled = false;
  }
}

export function openDialog(dialog) {
  dialog.querySelectorAll(".form-error").forEach((node) => showError(node, null));
  dialog.showModal();
}

// Every dialog's close buttons close it, and so does a click on the backdrop (the dialog element itself,
// outside its card).
export function closeOnRequest(dialog) {
  dialog.querySelectorAll("[data-action=close]").forEach((button) => button.addEventListener("click", () => dialog.close()));
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
}
