// socialcare console: small enhancements over pages that work without it. An ES module,
// loaded from our own origin (the Content-Security-Policy allows nothing else).

const typing = (el) => el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));

// Parts of a page refresh themselves every few seconds (the inbox's rows, a ticket's
// conversation): what the agent types sits outside them, and the selected row stays selected.
const rows = document.querySelector("tbody[data-refresh]");
let selected = rows?.querySelector("tr.selected")?.dataset.id ?? null;

function select(row) {
  rows.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
  if (!row) return;
  row.classList.add("selected");
  selected = row.dataset.id;
  row.scrollIntoView({ block: "nearest" });
}

async function refresh(part) {
  if (document.hidden) return;
  try {
    const answer = await fetch(part.dataset.refresh, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (answer.redirected || !answer.ok) return;
    part.innerHTML = await answer.text();
    if (part === rows) {
      const again = [...rows.querySelectorAll("tr[data-id]")].find((r) => r.dataset.id === selected);
      if (again) again.classList.add("selected");
    }
  } catch {
    // offline for a moment: the next round tries again
  }
}

for (const part of document.querySelectorAll("[data-refresh]")) {
  setInterval(() => refresh(part), Number(part.dataset.every || 5000));
}

document.addEventListener("keydown", (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const help = document.getElementById("shortcuts");
  if (event.key === "?") {
    if (help?.open) help.close(); else help?.showModal();
    event.preventDefault();
    return;
  }
  if (!rows) return;
  const all = [...rows.querySelectorAll("tr[data-id]")];
  const at = all.findIndex((r) => r.classList.contains("selected"));
  if (event.key === "j") select(all[Math.min(at + 1, all.length - 1)]);
  else if (event.key === "k") select(all[Math.max(at - 1, 0)]);
  else if (event.key === "Enter" && at >= 0) all[at].querySelector("a")?.click();
});

// The reply box counts characters against the platform's limit.
for (const box of document.querySelectorAll("textarea[data-limit]")) {
  const counter = document.getElementById(box.dataset.counter);
  const limit = Number(box.dataset.limit);
  const show = () => {
    const used = [...box.value].length;
    counter.textContent = `${used} / ${limit}`;
    counter.classList.toggle("over", used > limit);
  };
  box.addEventListener("input", show);
  show();
}

// Picking a template fills the reply box with it, rendered for this ticket, to read or edit.
for (const picker of document.querySelectorAll("select[data-preview]")) {
  picker.addEventListener("change", async () => {
    const box = document.getElementById(picker.dataset.target);
    if (!picker.value) return;
    const answer = await fetch(`${picker.dataset.preview}?template=${encodeURIComponent(picker.value)}`, { credentials: "same-origin" });
    if (!answer.ok) return;
    box.value = await answer.text();
    box.dispatchEvent(new Event("input"));
    box.focus();
  });
  document.querySelectorAll("button[data-nojs]").forEach((b) => b.remove());
}

// A form sends once: a second press while it is on its way does nothing (the server also
// knows the form's own key, so a resent form is the same reply).
for (const form of document.querySelectorAll("form[data-once]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    setTimeout(() => form.querySelectorAll("button").forEach((b) => { b.disabled = true; }), 0);
  });
}
