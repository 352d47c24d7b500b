// "Are you sure?": a title, a sentence, and the action's own word on the button.

export class ConfirmDialog {
  constructor() {
    this.dialog = document.getElementById("dialog-confirm");
  }

  // Resolves true when the user confirms, false when they cancel or close the dialog.
  ask({ title, text, action }) {
    const dialog = this.dialog;
    dialog.querySelector(".dialog-title").textContent = title;
    dialog.querySelector(".dialog-text").textContent = text;
    const button = dialog.querySelector("[data-action=confirm]");
    button.textContent = action;
    dialog.returnValue = "";
    dialog.showModal();
    button.focus();
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
    });
  }
}
