// The emoji catalog (messenger/emojis.py, served at the page's data-emoji-url and cached by the browser for a year):
// the whole set in keyboard order with categories and the shortcodes people type. Loaded once, on first use.

let loading = null;

// {quick: [char], categories: [name], emoji: [{char, category, shortcodes, name}]}
export function emojiCatalog() {
  loading ??= fetch(document.getElementById("app").dataset.emojiUrl, { credentials: "same-origin" })
    .then((response) => {
      if (!response.ok) throw new Error(`The emoji could not be loaded (${response.status}).`);
      return response.json();
    })
    .then((data) => ({
      quick: data.quick,
      categories: data.categories,
      emoji: data.emoji.map(([char, category, shortcodes]) => ({
        char,
        category,
        shortcodes,
        name: shortcodes[shortcodes.length - 1].replaceAll("_", " "), // the CLDR name, last
      })),
    }))
    .catch((error) => {
      loading = null; // try again next time
      throw error;
    });
  return loading;
}

// Emoji whose shortcode starts with the query first, then those with a word starting with it, then any containing it;
// each group in keyboard order.
export function emojiMatching(catalog, query, limit = Infinity) {
  const term = query.toLowerCase().replace(/^:/, "");
  if (!term) return catalog.emoji.slice(0, limit);
  const ranked = [[], [], []];
  for (const entry of catalog.emoji) {
    let rank = 3;
    for (const code of entry.shortcodes) {
      if (code.startsWith(term)) rank = 0;
      else if (rank > 1 && code.split(/[_-]/).some((word) => word.startsWith(term))) rank = 1;
      else if (rank > 2 && code.includes(term)) rank = 2;
      if (rank === 0) break;
    }
    if (rank < 3) ranked[rank].push(entry);
  }
  return ranked.flat().slice(0, limit);
}

// The shortcode shown for an emoji in a list: the one that matched the query, else the first (Slack's).
export function shortcodeFor(entry, query = "") {
  const term = query.toLowerCase().replace(/^:/, "");
  return entry.shortcodes.find((code) => term && code.startsWith(term)) || entry.shortcodes.find((code) => term && code.includes(term)) || entry.shortcodes[0];
}
