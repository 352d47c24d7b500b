// The security page: fresh backup codes can be copied or saved as a text file, so nobody has to retype them.

const codes = [...document.querySelectorAll(".backup-codes li code")].map((code) => code.textContent.trim());
const done = document.getElementById("backup-codes-done");
const text = `Parley backup codes for ${location.host}\nEach works once.\n\n${codes.join("\n")}\n`;

document.getElementById("backup-codes-copy")?.addEventListener("click", async () => {
  try {
    await navigator.clipboard.writeText(text);
    done.textContent = "Copied.";
  } catch {
    done.textContent = "Copying was refused by the browser: select the codes and copy them instead.";
  }
});

document.getElementById("backup-codes-download")?.addEventListener("click", () => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  link.download = "parley-backup-codes.txt";
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  done.textContent = "Saved as parley-backup-codes.txt.";
});
