// "Are you sure?": a title, a sentence, and the action's own word on the button.

export class ConfirmDialog {
  constructor() {
    this.dialog = document.getElementById("dialog-confirm");
    this.pending = null; // the answer of a question whose close event has not arrived yet
  }

  // Resolves true when the user confirms, false when they cancel or close the dialog.
  ask({ title, text, action }) {
    const dialog = this.dialog;
    // A question closed a moment ago whose close event is still queued (a <dialog> fires it in a later task):
    // answer it now, with its own answer, before this one resets the dialog. Its late event must not answer this.
    this.pending?.();
    dialog.querySelector(".dialog-title").textContent = title;
    dialog.querySelector(".dialog-text").textContent = text;
    const button = dialog.querySelector("[data-action=confirm]");
    button.textContent = action;
    dialog.returnValue = "";
    dialog.showModal();
    button.focus();
    return new Promise((resolve) => {
      const answer = () => {
        dialog.removeEventListener("close", closed);
        this.pending = null;
        resolve(dialog.returnValue === "confirm");
      };
      const closed = () => {
        if (!dialog.open) answer(); // open again: the late close event of an earlier question, not this one's
      };
      this.pending = answer;
      dialog.addEventListener("close", closed);
    });
  }
}
