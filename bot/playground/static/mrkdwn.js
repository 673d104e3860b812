// Slack's mrkdwn and plain_text as HTML: *bold*, _italic_, ~strike~, `code`, ```blocks```, <links|text>,
// <@user> and <#channel> mentions, > quotes, bullet lines and :emoji: shortcodes. Every piece of text is escaped;
// the only markup in the output is what this file writes.

// The shortcodes Slack bots commonly use; an unknown one is shown as typed, as Slack does for a missing emoji.
export const EMOJI = {
  "+1": "👍", "-1": "👎", arrow_forward: "▶️", arrow_heading_down: "⤵️", arrow_right: "➡️",
  arrows_counterclockwise: "🔄", ballot_box_with_check: "☑️", bell: "🔔", bulb: "💡", calendar: "📆",
  clipboard: "📋", clock1: "🕐", construction: "🚧", eyes: "👀", exclamation: "❗", frame_with_picture: "🖼️",
  gear: "⚙️", grey_question: "❔", hammer_and_wrench: "🛠️", heavy_check_mark: "✔️",
  heavy_multiplication_x: "✖️", hourglass: "⌛", hourglass_flowing_sand: "⏳", information_source: "ℹ️",
  key: "🔑", large_green_circle: "🟢", large_yellow_circle: "🟡", leftwards_arrow_with_hook: "↩️", link: "🔗",
  lock: "🔒", mag: "🔍", memo: "📝", no_entry: "⛔", no_entry_sign: "🚫", ok_hand: "👌", package: "📦",
  point_down: "👇", point_right: "👉", question: "❓", raising_hand: "🙋", red_circle: "🔴", repeat: "🔁",
  rocket: "🚀", rotating_light: "🚨", shield: "🛡️", sos: "🆘", sparkles: "✨", speech_balloon: "💬",
  spiral_calendar_pad: "🗓️", stopwatch: "⏱️", tada: "🎉", thumbsup: "👍", thumbsdown: "👎", tooth: "🦷",
  warning: "⚠️", wave: "👋", white_check_mark: "✅", x: "❌", zzz: "💤", hospital: "🏥", busts_in_silhouette: "👥",
  bust_in_silhouette: "👤", email: "📧", envelope: "✉️", pushpin: "📌", round_pushpin: "📍", star: "⭐",
  new: "🆕", broken_heart: "💔", heart: "❤️", smile: "😄", slightly_smiling_face: "🙂", thinking_face: "🤔",
  pray: "🙏", clap: "👏", muscle: "💪", fire: "🔥", boom: "💥", checkered_flag: "🏁", stop_sign: "🛑",
  hourglass_done: "⌛", white_circle: "⚪", black_circle: "⚫", large_blue_circle: "🔵", chart_with_upwards_trend: "📈",
  inbox_tray: "📥", outbox_tray: "📤", wrench: "🔧", hammer: "🔨", closed_lock_with_key: "🔐", unlock: "🔓",
};

const HTML_ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

/** Escape text for HTML. */
export function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Slack escapes &, < and > in message text; undo that before escaping for HTML. */
function decodeSlack(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

/** Replace :shortcodes: in already escaped HTML. */
export function emojify(html) {
  return html.replace(/:([a-z0-9_+\-']+):/g, (whole, name) => {
    const glyph = EMOJI[name];
    return glyph ? `<span class="emoji" title=":${name}:">${glyph}</span>` : whole;
  });
}

/** A plain_text object's text as HTML (emoji shortcodes are drawn unless emoji is false). */
export function renderPlain(text, emoji = true) {
  const escaped = escapeHtml(text ?? "");
  return emoji === false ? escaped : emojify(escaped);
}

/** The URL if it is one a link may open (http, https, mailto), else null. */
export function safeHref(url) {
  return /^(https?:|mailto:)/i.test(url) ? url : null;
}

function entity(inner, ctx) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const user = ctx.users?.[id];
    const name = user ? user.display_name || user.real_name : label || id;
    const self = id === ctx.viewer ? " mention--self" : "";
    return `<span class="mention${self}" data-user="${escapeHtml(id)}">@${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const name = ctx.channels?.[id]?.name || label || id;
    return `<span class="channel-link" data-channel="${escapeHtml(id)}">#${escapeHtml(name)}</span>`;
  }
  if (target.startsWith("!date^")) return dateToken(target, label);
  if (target.startsWith("!")) {
    const special = target.slice(1);
    if (["here", "channel", "everyone"].includes(special)) return `<span class="mention">@${special}</span>`;
    if (special.startsWith("subteam^")) {
      // A user-group mention (support's on-call people); Slack shows the group's handle, which we may not know.
      const group = label ? label.replace(/^@/, "") : `user group ${special.slice("subteam^".length)}`;
      return `<span class="mention">@${escapeHtml(group)}</span>`;
    }
    return `<span>${escapeHtml(label || special.split("^")[0])}</span>`;
  }
  const href = safeHref(target);
  const text = emojify(escapeHtml(label || target));
  return href ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${text}</a>` : text;
}

/** Slack's relative time, as its clients show a date token's {ago}: "3 minutes ago", "in 2 hours", "yesterday". */
export function ago(seconds, now = Date.now() / 1000) {
  const delta = Math.round(now - seconds);
  const future = delta < 0;
  const span = Math.abs(delta);
  if (span < 60) return future ? "in a few seconds" : "just now";
  const units = [
    [60 * 60 * 24 * 365, "year"],
    [60 * 60 * 24 * 30, "month"],
    [60 * 60 * 24 * 7, "week"],
    [60 * 60 * 24, "day"],
    [60 * 60, "hour"],
    [60, "minute"],
  ];
  for (const [size, unit] of units) {
    if (span < size) continue;
    const count = Math.max(1, Math.round(span / size));
    if (unit === "day" && count === 1) return future ? "tomorrow" : "yesterday";
    const words = `${count} ${unit}${count === 1 ? "" : "s"}`;
    return future ? `in ${words}` : `${words} ago`;
  }
  return "just now";
}

const DATE_FORMATS = {
  date_num: { year: "numeric", month: "2-digit", day: "2-digit" },
  date: { year: "numeric", month: "long", day: "numeric" },
  date_short: { year: "numeric", month: "short", day: "numeric" },
  date_long: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
  time: { hour: "numeric", minute: "2-digit" },
  time_secs: { hour: "numeric", minute: "2-digit", second: "2-digit" },
};

/** One {token} of a date token's format in the reader's own time zone; unknown tokens are kept as typed. */
function dateWord(token, seconds) {
  if (token === "ago") return ago(seconds);
  const pretty = /^(date(?:_short|_long)?)_pretty$/.exec(token);
  const name = pretty ? pretty[1] : token;
  if (pretty) {
    const days = Math.floor(Date.now() / 86400000) - Math.floor((seconds * 1000) / 86400000);
    if (days === 0) return "today";
    if (days === 1) return "yesterday";
    if (days === -1) return "tomorrow";
  }
  const options = DATE_FORMATS[name];
  return options ? new Date(seconds * 1000).toLocaleString([], options) : `{${token}}`;
}

/** `<!date^1700000000^{date_short} at {time}|fallback>` as the reader's client shows it (Slack's date token). */
function dateToken(target, fallback) {
  const [, stamp, format = "", link] = target.split("^");
  const seconds = Number(stamp);
  if (!Number.isFinite(seconds)) return escapeHtml(fallback || target);
  const text = format.replace(/\{([a-z_]+)\}/g, (_, token) => dateWord(token, seconds));
  const title = new Date(seconds * 1000).toUTCString();
  const relative = format.includes("{ago}") ? ` data-ago="${escapeHtml(format)}"` : "";
  const shown = `<time class="date-token" datetime="${new Date(seconds * 1000).toISOString()}" data-ts="${seconds}"${relative} title="${escapeHtml(title)}">${escapeHtml(text)}</time>`;
  const href = link ? safeHref(link) : null;
  return href ? `<a href="${escapeHtml(href)}" target="_blank" rel="noopener noreferrer">${shown}</a>` : shown;
}

/** Bring every "… ago" on the page up to date (the page redraws only when something changes). */
export function refreshDates(root = document) {
  for (const node of root.querySelectorAll("time.date-token[data-ago]")) {
    const seconds = Number(node.dataset.ts);
    node.textContent = node.dataset.ago.replace(/\{([a-z_]+)\}/g, (_, token) => dateWord(token, seconds));
  }
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// Delimiters count only at word edges, as in Slack: snake_case and 2*3*4 stay as typed.
const STYLES = [
  [/(^|[^\w*])\*(?!\s)([^*\n]*?[^\s*])\*(?![\w*])/g, "b"],
  [/(^|[^\w_])_(?!\s)([^_\n]*?[^\s_])_(?![\w_])/g, "i"],
  [/(^|[^\w~])~(?!\s)([^~\n]*?[^\s~])~(?![\w~])/g, "s"],
];

/** One line of mrkdwn (no fences) as HTML. */
function inline(line, ctx) {
  const stash = [];
  const keep = (html) => `\u0001${stash.push(html) - 1}\u0002`;
  let text = line.replace(/`([^`\n]+)`/g, (_, code) => keep(`<code>${escapeHtml(decodeSlack(code))}</code>`));
  text = text.replace(/<([^<>\n]+)>/g, (_, inner) => keep(entity(inner, ctx)));
  let html = escapeHtml(decodeSlack(text));
  for (const [pattern, tag] of STYLES) {
    // Run twice so touching spans (*a* *b*) both match despite the shared boundary character.
    for (let pass = 0; pass < 2; pass += 1) html = html.replace(pattern, `$1<${tag}>$2</${tag}>`);
  }
  return emojify(html).replace(/\u0001(\d+)\u0002/g, (_, index) => stash[Number(index)]);
}

const BULLET = /^\s*(?:[•◦▪‣]|-|\*(?=\s))\s+/;
const NUMBERED = /^\s*(\d+)[.)]\s+/;
const QUOTE = /^(?:&gt;|>)\s?/;

/** Lines of text (outside code fences) as HTML, grouping bullet lines into lists and > lines into quotes. */
function paragraphs(text, ctx) {
  const out = [];
  let group = null;
  const flush = () => {
    if (!group) return;
    if (group.kind === "ul") out.push(`<ul class="md-list">${group.items.map((i) => `<li>${i}</li>`).join("")}</ul>`);
    else if (group.kind === "ol") {
      const items = group.items.map(([n, i]) => `<li><span class="md-num">${n}.</span> ${i}</li>`).join("");
      out.push(`<ol class="md-list md-list--numbered">${items}</ol>`);
    } else if (group.kind === "quote") out.push(`<blockquote>${group.items.join("<br>")}</blockquote>`);
    else out.push(group.items.join("<br>"));
    group = null;
  };
  const add = (kind, item) => {
    if (group && group.kind !== kind) flush();
    if (!group) group = { kind, items: [] };
    group.items.push(item);
  };
  for (const line of text.split("\n")) {
    let match;
    if (BULLET.test(line)) add("ul", inline(line.replace(BULLET, ""), ctx));
    else if ((match = NUMBERED.exec(line))) add("ol", [match[1], inline(line.slice(match[0].length), ctx)]);
    else if (QUOTE.test(line)) add("quote", inline(line.replace(QUOTE, ""), ctx));
    else add("text", inline(line, ctx));
  }
  flush();
  return out.join("");
}

/**
 * Slack mrkdwn as HTML.
 * @param {string} text The mrkdwn text, as the app sent it.
 * @param {{users?: object, channels?: object, viewer?: string}} ctx Names for mentions; the viewer is highlighted.
 */
export function renderMrkdwn(text, ctx = {}) {
  const parts = String(text ?? "").split(/```/);
  return parts
    .map((part, index) => {
      if (index % 2 === 1 && index < parts.length - 1) {
        return `<pre class="code-block">${escapeHtml(decodeSlack(part.replace(/^\n/, "")))}</pre>`;
      }
      const body = index % 2 === 1 ? "```" + part : part; // an unclosed fence is shown as typed
      return body ? paragraphs(body, ctx) : "";
    })
    .join("");
}

/** A text object (mrkdwn or plain_text) as HTML. */
export function renderText(object, ctx = {}) {
  if (!object) return "";
  if (typeof object === "string") return renderMrkdwn(object, ctx);
  return object.type === "mrkdwn" ? renderMrkdwn(object.text, ctx) : renderPlain(object.text, object.emoji);
}
