// Small pure helpers shared by the state and the DOM code: names, times, mentions. No DOM, no network.

// The server's mention rule (messenger/services/messages.py MENTION_PATTERN): "@name" not preceded by a word character
// or "@"; names are letters, digits and . + - _, and end with a letter, digit or _, so "@bob," and "@bob." name bob
// and leave the punctuation outside. (\w in JavaScript is ASCII only; Python's, like these classes, is Unicode.)
export const MENTION_PATTERN = /(?<![\p{L}\p{N}_@])@([\p{L}\p{N}_.+-]{0,149}[\p{L}\p{N}_])/gu;
// In a room, "@channel" mentions every member and "@here" those online (docs/protocol.md); in a direct chat they
// are text.
export const EVERYONE_MENTIONS = ["here", "channel"];

export function mentionsOf(body) {
  if (!body) return [];
  return Array.from(body.matchAll(MENTION_PATTERN), (match) => match[1]);
}

export function mentionsEveryone(body) {
  return mentionsOf(body).some((name) => EVERYONE_MENTIONS.includes(name));
}

// Whether a message names this user, or in a room everyone (a message that arrives live arrives while this user is
// online, so @here reaches them too).
export function mentionsUser(body, username, { isRoom = false } = {}) {
  return mentionsOf(body).some((name) => name === username || (isRoom && EVERYONE_MENTIONS.includes(name)));
}

export function displayName(user) {
  return user?.display_name || user?.username || "Someone";
}

export function firstName(user) {
  return displayName(user).split(/\s+/)[0];
}

export function initials(user) {
  const parts = displayName(user).split(/\s+/).filter(Boolean);
  const letters = parts.length > 1 ? parts[0][0] + parts[parts.length - 1][0] : (parts[0] || "?")[0];
  return letters.toUpperCase();
}

// A stable hue per user, so a person keeps their avatar colour in every list.
export function hueOf(id) {
  return (Number(id) * 137) % 360;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const fullFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const shortDayFormat = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });

export function timeOf(iso) {
  return timeFormat.format(new Date(iso));
}

export function fullTimeOf(iso) {
  return fullFormat.format(new Date(iso));
}

export function dayKey(iso) {
  const date = new Date(iso);
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

export function dayLabel(iso, now = new Date()) {
  const date = new Date(iso);
  const startOf = (d) => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
  const days = Math.round((startOf(now) - startOf(date)) / 86_400_000);
  if (days === 0) return "Today";
  if (days === 1) return "Yesterday";
  return dayFormat.format(date);
}

// For the sidebar: a time today, a day otherwise.
export function shortWhen(iso, now = new Date()) {
  if (!iso) return "";
  return dayKey(iso) === dayKey(now.toISOString()) ? timeOf(iso) : shortDayFormat.format(new Date(iso));
}

export function lastSeenText(iso) {
  if (!iso) return "Offline";
  const label = dayLabel(iso);
  return label === "Today" ? `Last seen at ${timeOf(iso)}` : `Last seen ${label.toLowerCase()} at ${timeOf(iso)}`;
}

export const PRESENCE_LABELS = {
  available: "Available",
  away: "Away",
  busy: "Busy",
  offline: "Offline",
};

// "Bob", "Bob and Carol", "Bob, Carol and 3 others".
export function listOfNames(names, max = 3) {
  if (names.length <= 1) return names.join("");
  if (names.length <= max) return `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
  const rest = names.length - (max - 1);
  return `${names.slice(0, max - 1).join(", ")} and ${rest} others`;
}

// One line of a message for previews, quotes and notifications: code fences and bold/code marks dropped.
export function plainExcerpt(text, length = 120) {
  const flat = (text || "")
    .replace(/```[^\n]*\n?/g, " ")
    .replace(/\*\*|__|`/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

export function newClientId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

// "2.4 MB": a file size for people.
export function fileSize(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

// What a message says in one line (notifications, screen-reader announcements): its text, or the file it shares.
export function messageText(message) {
  if (message.body) return message.body;
  return message.attachment ? `📎 ${message.attachment.name}` : "";
}
