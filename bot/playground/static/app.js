// The playground page: two channels side by side (one at a time, with a switch, on a phone), a modal overlay and App
// Home, for whichever person is picked.
// It long-polls /playground/snapshot for what that person sees and posts every act to /playground/act/<kind>,
// which the server turns into a signed Slack request to the bot. No build step, no dependencies.

import { h, renderBlocks } from "./blocks.js";
import { refreshDates, renderMrkdwn, renderPlain } from "./mrkdwn.js";

const POLL_WAIT = 10;
const GROUP_SECONDS = 300; // consecutive messages of one author within this share a header, as in Slack
const DATES_EVERY_MS = 30_000; // how often "3 minutes ago" is brought up to date
const PERMALINK = /\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})/; // Slack's message links: /archives/C…/p<ts without the dot>

const state = {
  world: null,
  viewer: null,
  version: 0,
  snap: null,
  rightTab: "channel",
  pane: "left", // on a phone, the one pane shown: "left" (the clinic's channel) or "right" (Aldense's side)
  collapsed: new Set(), // thread parents the viewer folded
  dismissed: new Set(), // ephemeral messages the viewer dismissed
  forms: new Map(), // view id -> Map("block::action" -> value): what was typed, kept only in this page
  localErrors: {}, // client-side input errors, by block id, for the open modal
  modalKey: null,
  rendered: {}, // pane -> JSON last drawn, so unchanged panes are left alone
  replyTo: {}, // channel -> thread ts the composer replies in
  notices: {}, // channel -> local notices (Slack's own answers, like "not a valid command")
  homeOpenedFor: null,
  pinned: {}, // pane -> whether it follows the newest message
  poll: null,
};

const $ = (selector, root = document) => root.querySelector(selector);

// -- talking to the server ------------------------------------------------------------------------------------

async function act(kind, body) {
  const response = await fetch(`/playground/act/${kind}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ as: state.viewer, ...body }),
  });
  const data = await response.json().catch(() => ({ ok: false, error: `HTTP ${response.status}` }));
  if (data.request) addRequest(data.request);
  return { status: response.status, ...data };
}

async function pollLoop() {
  for (;;) {
    const controller = new AbortController();
    state.poll = controller;
    const viewer = state.viewer;
    try {
      const query = new URLSearchParams({ as: viewer, since: String(state.version), wait: String(POLL_WAIT) });
      const response = await fetch(`/playground/snapshot?${query}`, { signal: controller.signal });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const snap = await response.json();
      setOffline(false);
      if (snap.viewer === state.viewer) {
        state.version = snap.version;
        state.snap = snap;
        render();
      }
    } catch (error) {
      if (controller.signal.aborted) continue;
      setOffline(true);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

function refreshNow() {
  state.version = 0;
  state.poll?.abort();
}

function setOffline(offline) {
  $("#offline").hidden = !offline;
}

// -- names and faces ------------------------------------------------------------------------------------------

function user(id) {
  return state.world.users[id] || { id, real_name: id, display_name: id, team_name: "", is_bot: false };
}

function me() {
  return user(state.viewer);
}

const PALETTE_SIZE = 8; // .avatar--c0 … .avatar--c7 in style.css (the page's CSP allows no inline styles)

function avatar(id) {
  const person = user(id);
  if (person.is_bot) return h("div", { class: "avatar avatar--app", "aria-hidden": "true" }, "AG");
  const initials = person.real_name.split(/\s+/).map((w) => w[0]).join("").slice(0, 2).toUpperCase();
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return h("div", { class: `avatar avatar--c${hash % PALETTE_SIZE}`, "aria-hidden": "true" }, initials);
}

function time(ts) {
  return new Date(Number(ts) * 1000).toLocaleTimeString([], { hour: "numeric", minute: "2-digit" });
}

function textContext() {
  return { users: state.world.users, channels: state.world.channels, viewer: state.viewer };
}

// -- messages -------------------------------------------------------------------------------------------------

function blocksContext(message, channelId) {
  return {
    ...textContext(),
    prefix: `m${message.ts.replace(".", "")}`,
    onAction: async (element, block, value) => {
      const result = await act("click", { ts: message.ts, action_id: element.action_id, value });
      if (!result.ok) toast(result.error);
    },
    confirm,
    zoom,
    openInPage,
    channel: channelId,
  };
}

function messageContent(message, channelId) {
  if (message.blocks && message.blocks.length) {
    return h("div", { class: "msg__blocks" }, renderBlocks(message.blocks, blocksContext(message, channelId)));
  }
  return h("div", { class: "msg__text", html: renderMrkdwn(message.text, textContext()) });
}

function sameGroup(previous, message) {
  return (
    previous &&
    previous.user === message.user &&
    previous.ephemeral === message.ephemeral &&
    !message.ephemeral &&
    !message.broadcast &&
    Number(message.ts) - Number(previous.ts) < GROUP_SECONDS
  );
}

function renderMessage(message, channelId, previous, inThread) {
  const author = user(message.user);
  const compact = sameGroup(previous, message);
  const classes = ["msg"];
  if (message.ephemeral) classes.push("msg--ephemeral");
  if (compact) classes.push("msg--compact");
  const node = h("div", {
    class: classes.join(" "),
    "data-ts": message.ts,
    "data-user": message.user,
    "data-ephemeral": message.ephemeral ? "true" : null,
  });
  if (message.ephemeral) {
    const dismiss = h("button", { type: "button", class: "link-button" }, "Dismiss");
    dismiss.addEventListener("click", () => {
      state.dismissed.add(message.ts);
      state.rendered = {};
      render();
    });
    node.append(h("div", { class: "msg__only-you" }, h("span", { class: "eye", "aria-hidden": "true" }, "◉"), " Only visible to you · ", dismiss));
  }
  const external = author.team_id !== me().team_id && !author.is_bot;
  const head = compact
    ? null
    : h(
        "div",
        { class: "msg__head" },
        h("span", { class: "msg__author" }, author.real_name),
        author.is_bot ? h("span", { class: "app-badge" }, "APP") : null,
        external ? h("span", { class: "org-chip", title: "External: from another organisation" }, author.team_name) : null,
        h("time", { class: "msg__time", datetime: new Date(Number(message.ts) * 1000).toISOString() }, time(message.ts)),
      );
  const content = messageContent(message, channelId);
  if (message.edited) {
    // Slack puts "(edited)" at the end of the last line of text.
    const texts = content.querySelectorAll(".section__text, .msg__text, .context__text");
    const last = texts.length ? texts[texts.length - 1] : content;
    const tail = last.lastElementChild && !/^(B|I|S|SPAN|A|CODE)$/.test(last.lastElementChild.tagName) ? last.lastElementChild : last;
    tail.append(h("span", { class: "msg__edited" }, "(edited)"));
  }
  const main = h(
    "div",
    { class: "msg__main" },
    head,
    message.broadcast && !inThread ? h("div", { class: "msg__broadcast" }, "replied to a thread:") : null,
    content,
  );
  node.append(
    h("div", { class: "msg__gutter" }, compact ? h("span", { class: "msg__hover-time" }, time(message.ts)) : avatar(message.user)),
    main,
  );
  if (!inThread && message.replies.length) main.append(renderThread(message, channelId));
  return node;
}

function renderThread(parent, channelId) {
  const replies = parent.replies.filter((r) => !(r.ephemeral && state.dismissed.has(r.ts)));
  const real = replies.filter((r) => !r.ephemeral);
  const open = !state.collapsed.has(parent.ts);
  const people = [...new Set(real.map((r) => r.user))].slice(0, 4);
  const label = `${real.length} ${real.length === 1 ? "reply" : "replies"}`;
  const toggle = h(
    "button",
    { type: "button", class: "thread__toggle", "aria-expanded": String(open) },
    h("span", { class: "thread__faces" }, people.map((id) => avatar(id))),
    h("span", { class: "thread__count" }, label),
    h("span", { class: "thread__when" }, real.length ? `Last reply ${time(real[real.length - 1].ts)}` : ""),
    h("span", { class: "thread__caret", "aria-hidden": "true" }, open ? "▾" : "▸"),
  );
  toggle.addEventListener("click", () => {
    if (open) state.collapsed.add(parent.ts);
    else state.collapsed.delete(parent.ts);
    state.rendered = {};
    render();
  });
  const box = h("div", { class: "thread", "data-thread": parent.ts }, toggle);
  if (open) {
    const list = h("div", { class: "thread__replies" });
    let previous = null;
    for (const reply of replies) {
      list.append(renderMessage(reply, channelId, previous, true));
      previous = reply;
    }
    const reply = h("button", { type: "button", class: "link-button thread__reply" }, "Reply in thread…");
    reply.addEventListener("click", () => setReplyTarget(channelId, parent.ts));
    list.append(reply);
    box.append(list);
  }
  return box;
}

// -- panes ----------------------------------------------------------------------------------------------------

function channelHeader(channel, canSee) {
  const info = state.world.channels[channel.id];
  const others = info.team_names.filter((name) => name !== me().team_name);
  return h(
    "header",
    { class: "pane__header" },
    h("h2", { class: "pane__title" }, canSee ? "# " : "🔒 ", info.name),
    info.is_ext_shared
      ? h("span", { class: "shared-badge", title: "Slack Connect channel" }, `Slack Connect · shared with ${others.join(", ")}`)
      : h("span", { class: "internal-badge" }, `${info.team_names.join(", ")} only`),
  );
}

function renderChannelPane(pane, channel) {
  const list = $(".messages", pane);
  const key = JSON.stringify([channel, state.viewer, [...state.collapsed], [...state.dismissed]]);
  if (state.rendered[pane.id] === key) return;
  state.rendered[pane.id] = key;
  const info = state.world.channels[channel.id];
  $(".pane__head", pane).replaceChildren(channelHeader(channel, channel.can_see));
  pane.dataset.channel = channel.id;
  $(".composer", pane).hidden = !channel.can_see;
  if (!channel.can_see) {
    list.replaceChildren(
      h(
        "div",
        { class: "no-access" },
        h("div", { class: "no-access__icon", "aria-hidden": "true" }, "🔒"),
        h("p", {}, h("b", {}, `#${info.name}`), ` is internal to ${info.team_names.join(", ")}.`),
        h("p", {}, `${me().real_name} (${me().team_name}) is not a member, so it isn't visible to them.`),
        h("p", { class: "no-access__hint" }, "Switch to an Aldense staff member to see it."),
      ),
    );
    return;
  }
  const before = list.scrollTop;
  const pinned = state.pinned[pane.id] !== false;
  const nodes = [];
  let previous = null;
  for (const message of channel.messages) {
    if (message.ephemeral && state.dismissed.has(message.ts)) continue;
    nodes.push(renderMessage(message, channel.id, previous, false));
    previous = message;
  }
  if (!nodes.length) {
    nodes.push(h("div", { class: "empty" }, `This is the very beginning of #${info.name}.`));
  }
  list.replaceChildren(...nodes);
  list.scrollTop = pinned ? list.scrollHeight : before;
  for (const image of list.querySelectorAll("img")) {
    image.addEventListener("load", () => {
      if (state.pinned[pane.id] !== false) list.scrollTop = list.scrollHeight;
    });
  }
}

function renderHomePane(pane) {
  const home = state.snap.home;
  const key = JSON.stringify(["home", state.viewer, home]);
  if (state.rendered[pane.id] === key) return;
  state.rendered[pane.id] = key;
  $(".composer", pane).hidden = true;
  $(".pane__head", pane).replaceChildren(
    h(
      "header",
      { class: "pane__header" },
      h("h2", { class: "pane__title" }, avatar(state.world.bot_user_id), " Aldense Guide"),
      h("span", { class: "internal-badge" }, "App Home"),
    ),
  );
  const list = $(".messages", pane);
  if (!home) {
    list.replaceChildren(
      h("div", { class: "empty" }, "Aldense Guide hasn't published a Home tab for ", me().real_name, " (yet)."),
    );
    return;
  }
  list.replaceChildren(
    h("div", { class: "home", "data-view-id": home.id }, renderBlocks(home.blocks, viewContext(home, "home"))),
  );
}

function renderTabs() {
  const tabs = $("#right-tabs");
  const channelId = state.world.channel_order[1];
  const name = state.world.channels[channelId].name;
  tabs.replaceChildren(
    tab(`# ${name}`, "channel"),
    tab("Aldense Guide · Home", "home"),
  );
}

function tab(label, value) {
  const node = h("button", { type: "button", role: "tab", class: "tab", "aria-selected": String(state.rightTab === value) }, label);
  node.addEventListener("click", () => showRight(value));
  return node;
}

function showRight(value) {
  state.rightTab = value;
  state.rendered = {};
  state.pinned["pane-right"] = true;
  if (value === "home" && state.homeOpenedFor !== state.viewer) {
    state.homeOpenedFor = state.viewer;
    act("home", {}).then((result) => !result.ok && toast(result.error));
  }
  render();
}

// -- one pane at a time on a phone ---------------------------------------------------------------------------

function renderPaneSwitch() {
  const [left, right] = state.world.channel_order.map((id) => state.world.channels[id]);
  const choice = (value, label, detail) => {
    const node = h(
      "button",
      { type: "button", role: "tab", class: "pane-switch__tab", "aria-selected": String(state.pane === value), "data-pane": value },
      h("span", { class: "pane-switch__label" }, label),
      h("span", { class: "pane-switch__detail" }, detail),
    );
    node.addEventListener("click", () => showPane(value));
    return node;
  };
  $("#pane-switch").replaceChildren(
    choice("left", "Clinic", `# ${left.name}`),
    choice("right", "Aldense", state.rightTab === "home" ? "App Home" : `# ${right.name}`),
  );
  document.body.dataset.pane = state.pane;
}

function showPane(value) {
  state.pane = value;
  renderPaneSwitch();
}

/** Show a message the page holds (a thread's permalink) in place: its pane, its thread unfolded, scrolled to. */
function openInPage(url) {
  const found = PERMALINK.exec(url);
  if (!found || !state.world.channels[found[1]]) return false;
  const [, channelId, seconds, micros] = found;
  const ts = `${seconds}.${micros}`;
  const side = channelId === state.world.channel_order[0] ? "left" : "right";
  if (side === "right") state.rightTab = "channel";
  state.collapsed.delete(ts);
  state.rendered = {};
  state.pinned[`pane-${side}`] = false;
  showPane(side);
  render();
  const target = document.querySelector(`#pane-${side} .msg[data-ts="${CSS.escape(ts)}"]`);
  if (!target) {
    toast("That message is no longer in the channel.");
    return true;
  }
  target.scrollIntoView({ block: "start" });
  target.classList.add("is-highlighted");
  setTimeout(() => target.classList.remove("is-highlighted"), 2500);
  return true;
}

// -- the modal ------------------------------------------------------------------------------------------------

function formFor(viewId) {
  if (!state.forms.has(viewId)) state.forms.set(viewId, new Map());
  return state.forms.get(viewId);
}

function formValues(view) {
  const form = formFor(view.id);
  const values = {};
  for (const block of view.blocks || []) {
    const elements = block.type === "actions" ? block.elements || [] : [block.element, block.accessory];
    for (const element of elements) {
      if (!element || !element.action_id) continue;
      const key = `${block.block_id}::${element.action_id}`;
      if (!form.has(key)) continue;
      values[block.block_id] = { ...(values[block.block_id] || {}), [element.action_id]: form.get(key) };
    }
  }
  return values;
}

function viewContext(view, prefix) {
  return {
    ...textContext(),
    prefix,
    form: formFor(view.id),
    errors: { ...(view.errors || {}), ...(prefix === "modal" ? state.localErrors : {}) },
    onInput: (element, block, value) => {
      formFor(view.id).set(`${block.block_id}::${element.action_id}`, value);
      if (state.localErrors[block.block_id]) {
        delete state.localErrors[block.block_id];
        const error = document.querySelector(`[data-block-id="${CSS.escape(block.block_id)}"] .input__error`);
        error?.remove();
      }
    },
    onAction: async (element, block, value) => {
      const result = await act("view-action", { view_id: view.id, action_id: element.action_id, value, values: formValues(view) });
      if (!result.ok) toast(result.error);
    },
    confirm,
    zoom,
    openInPage,
  };
}

/** What Slack's client refuses before sending: empty required inputs, text shorter than min_length. */
function clientErrors(view) {
  const form = formFor(view.id);
  const errors = {};
  for (const block of view.blocks || []) {
    if (block.type !== "input" || !block.element) continue;
    const element = block.element;
    const key = `${block.block_id}::${element.action_id}`;
    let value = form.has(key) ? form.get(key) : element.initial_value ?? element.initial_option?.value ?? element.initial_options;
    const empty = value === undefined || value === null || value === "" || (Array.isArray(value) && !value.length);
    if (empty && !block.optional) errors[block.block_id] = "Please complete this required field.";
    else if (typeof value === "string" && element.min_length && value.length < element.min_length) {
      errors[block.block_id] = `Must have at least ${element.min_length} characters`;
    }
  }
  return errors;
}

function renderModal() {
  const root = $("#modal-root");
  const view = state.snap.modal;
  const key = view ? JSON.stringify([state.viewer, view.revision, view.errors, view.depth, state.localErrors]) : null;
  if (key === state.modalKey) return;
  state.modalKey = key;
  if (!view) {
    root.replaceChildren();
    state.localErrors = {};
    return;
  }
  const title = h("h2", { id: "modal-title", class: "modal__title", html: renderPlain(view.title?.text, view.title?.emoji) });
  const close = h("button", { type: "button", class: "modal__x", "aria-label": "Close" }, "✕");
  close.addEventListener("click", () => closeModal(view));
  const back = view.depth > 1 ? h("button", { type: "button", class: "modal__x", "aria-label": "Back" }, "←") : null;
  back?.addEventListener("click", () => closeModal(view));
  const topError = h("div", { class: "modal__error", role: "alert", hidden: true });
  const footer = h("footer", { class: "modal__footer" });
  const cancel = h("button", { type: "button", class: "btn", html: renderPlain(view.close?.text || "Cancel") });
  cancel.addEventListener("click", () => closeModal(view));
  footer.append(cancel);
  if (view.submit) {
    const submit = h("button", { type: "submit", class: "btn btn--primary", html: renderPlain(view.submit.text, view.submit.emoji) });
    footer.append(submit);
  }
  const form = h(
    "form",
    { class: "modal", role: "dialog", "aria-modal": "true", "aria-labelledby": "modal-title", "data-view-id": view.id, novalidate: true },
    h("header", { class: "modal__header" }, back, h("div", { class: "modal__app", "aria-hidden": "true" }, avatar(state.world.bot_user_id)), title, close),
    topError,
    h("div", { class: "modal__body" }, renderBlocks(view.blocks, viewContext(view, "modal"))),
    footer,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitModal(view, form, topError);
  });
  root.replaceChildren(h("div", { class: "modal-backdrop" }, form));
  const invalid = $('[aria-invalid="true"]', form);
  (invalid || $("input, textarea, select", form))?.focus();
}

async function submitModal(view, form, topError) {
  const errors = clientErrors(view);
  if (Object.keys(errors).length) {
    state.localErrors = errors;
    renderModal();
    return;
  }
  const submit = $('button[type="submit"]', form);
  submit?.classList.add("is-busy");
  submit?.setAttribute("disabled", "");
  const result = await act("submit", { view_id: view.id, values: formValues(view) });
  submit?.classList.remove("is-busy");
  submit?.removeAttribute("disabled");
  if (!result.ok) {
    topError.textContent = result.error;
    topError.hidden = false;
  }
}

async function closeModal(view) {
  const result = await act("close", { view_id: view.id });
  if (!result.ok) toast(result.error);
}

// -- small overlays -------------------------------------------------------------------------------------------

function confirm(dialog, proceed) {
  const root = $("#overlay-root");
  const done = () => root.replaceChildren();
  const yes = h("button", { type: "button", class: `btn ${dialog.style === "danger" ? "btn--danger" : "btn--primary"}` }, dialog.confirm?.text || "Yes");
  const no = h("button", { type: "button", class: "btn" }, dialog.deny?.text || "Cancel");
  yes.addEventListener("click", () => {
    done();
    proceed();
  });
  no.addEventListener("click", done);
  root.replaceChildren(
    h(
      "div",
      { class: "modal-backdrop" },
      h(
        "div",
        { class: "modal modal--small", role: "alertdialog", "aria-label": dialog.title?.text || "Are you sure?" },
        h("header", { class: "modal__header" }, h("h2", { class: "modal__title" }, dialog.title?.text || "Are you sure?")),
        h("div", { class: "modal__body", html: renderMrkdwn(dialog.text?.text || "", textContext()) }),
        h("footer", { class: "modal__footer" }, no, yes),
      ),
    ),
  );
  yes.focus();
}

function zoom(url, alt) {
  const root = $("#overlay-root");
  const close = () => root.replaceChildren();
  const box = h("div", { class: "lightbox", role: "dialog", "aria-label": alt || "Picture" }, h("img", { src: url, alt: alt || "" }), h("p", {}, alt || ""));
  box.addEventListener("click", close);
  root.replaceChildren(box);
}

let toastTimer = null;
function toast(message) {
  const node = $("#toast");
  node.textContent = message;
  node.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (node.hidden = true), 6000);
}

// -- composer -------------------------------------------------------------------------------------------------

function encodeMentions(text) {
  const people = Object.values(state.world.users).flatMap((u) =>
    [u.real_name, u.display_name].filter(Boolean).map((name) => ({ name, token: `<@${u.id}>` })),
  );
  const channels = Object.values(state.world.channels).map((c) => ({ name: c.name, token: `<#${c.id}|${c.name}>`, hash: true }));
  let out = text;
  for (const { name, token } of people.sort((a, b) => b.name.length - a.name.length)) {
    out = out.replace(new RegExp(`@${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "gi"), token);
  }
  for (const { name, token } of channels) {
    out = out.replace(new RegExp(`(^|\\s)#${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\b`, "g"), `$1${token}`);
  }
  return out;
}

function setReplyTarget(channelId, ts) {
  state.replyTo[channelId] = ts;
  const pane = document.querySelector(`.pane[data-channel="${channelId}"]`);
  if (!pane) return;
  renderComposerTarget(pane, channelId);
  $("textarea", pane).focus();
}

function renderComposerTarget(pane, channelId) {
  const target = $(".composer__target", pane);
  const ts = state.replyTo[channelId];
  target.hidden = !ts;
  if (!ts) return;
  const cancel = h("button", { type: "button", class: "link-button", "aria-label": "Stop replying in the thread" }, "✕");
  cancel.addEventListener("click", () => {
    delete state.replyTo[channelId];
    renderComposerTarget(pane, channelId);
  });
  target.replaceChildren(`Replying in a thread (${time(ts)}) `, cancel);
}

function addNotice(pane, channelId, text) {
  const notices = $(".composer__notices", pane);
  notices.append(
    h(
      "div",
      { class: "msg msg--ephemeral msg--notice", role: "status" },
      h("div", { class: "msg__only-you" }, "◉ Only visible to you"),
      h("div", { class: "msg__main" }, h("div", { class: "msg__head" }, h("span", { class: "msg__author" }, "Slackbot")), h("div", { html: renderMrkdwn(text, textContext()) })),
    ),
  );
}

async function send(pane) {
  const channelId = pane.dataset.channel;
  const box = $("textarea", pane);
  const typed = box.value.trim();
  if (!typed || !channelId) return;
  $(".composer__notices", pane).replaceChildren();
  box.value = "";
  let result;
  if (typed.startsWith("/")) {
    result = await act("command", { channel: channelId, text: typed });
  } else {
    result = await act("message", { channel: channelId, text: encodeMentions(typed), thread_ts: state.replyTo[channelId] || null });
  }
  if (!result.ok) addNotice(pane, channelId, result.error);
}

function suggest(pane) {
  const box = $("textarea", pane);
  const list = $(".suggest", pane);
  const match = /(^|\s)@([\w .-]*)$/.exec(box.value.slice(0, box.selectionStart));
  if (!match) {
    list.hidden = true;
    return;
  }
  const query = match[2].toLowerCase();
  const people = Object.values(state.world.users).filter((u) => u.real_name.toLowerCase().includes(query) || u.display_name.toLowerCase().includes(query));
  list.replaceChildren(
    ...people.slice(0, 6).map((u) => {
      const item = h("button", { type: "button", class: "suggest__item" }, avatar(u.id), h("b", {}, u.real_name), h("span", {}, ` ${u.role}`));
      item.addEventListener("mousedown", (event) => {
        event.preventDefault();
        const start = match.index + match[1].length;
        box.value = `${box.value.slice(0, start)}@${u.real_name} ${box.value.slice(box.selectionStart)}`;
        list.hidden = true;
        box.focus();
      });
      return item;
    }),
  );
  list.hidden = !people.length;
}

function composer(pane) {
  const box = h("textarea", { rows: 1, class: "composer__input", "aria-label": "Message" });
  const sendButton = h("button", { type: "button", class: "composer__send", "aria-label": "Send" }, "➤");
  box.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      $(".suggest", pane).hidden = true;
      send(pane);
    } else if (event.key === "Escape") {
      $(".suggest", pane).hidden = true;
    }
  });
  box.addEventListener("input", () => suggest(pane));
  sendButton.addEventListener("click", () => send(pane));
  return h(
    "div",
    { class: "composer" },
    h("div", { class: "composer__notices" }),
    h("div", { class: "composer__target", hidden: true }),
    h("div", { class: "suggest", hidden: true }),
    h("div", { class: "composer__box" }, box, sendButton),
    h("div", { class: "composer__hint" }, "Enter sends · start with / for a slash command · @ to mention"),
  );
}

// -- the frame ------------------------------------------------------------------------------------------------

function renderPersonas() {
  const select = $("#persona");
  const byTeam = {};
  for (const u of Object.values(state.world.users)) {
    if (u.is_bot) continue;
    (byTeam[u.team_name] ||= []).push(u);
  }
  select.replaceChildren(
    ...Object.entries(byTeam).map(([team, people]) =>
      h("optgroup", { label: team }, people.map((u) => h("option", { value: u.id, selected: u.id === state.viewer }, `${u.real_name} — ${u.role}`))),
    ),
  );
}

function renderSidebar() {
  const snap = state.snap;
  const person = me();
  const channels = snap.channels.filter((c) => c.can_see);
  const item = (label, onClick, active, extra) => {
    const node = h("button", { type: "button", class: `sidebar__item${active ? " is-active" : ""}` }, label, extra);
    node.addEventListener("click", onClick);
    return node;
  };
  $("#sidebar").replaceChildren(
    h("div", { class: "sidebar__team" }, person.team_name),
    h("div", { class: "sidebar__me" }, avatar(person.id), h("div", {}, h("b", {}, person.real_name), h("div", { class: "sidebar__role" }, person.role))),
    h("div", { class: "sidebar__heading" }, "Channels"),
    ...channels.map((c, index) => {
      const info = state.world.channels[c.id];
      const isRight = c.id === state.world.channel_order[1];
      return item(
        `# ${info.name}`,
        () => (isRight ? showRight("channel") : $(`#pane-left .composer__input`)?.focus()),
        index === 0 || (isRight && state.rightTab === "channel"),
        info.is_ext_shared ? h("span", { class: "sidebar__shared", title: "Slack Connect" }, "⇄") : null,
      );
    }),
    h("div", { class: "sidebar__heading" }, "Apps"),
    item("Aldense Guide", () => showRight("home"), state.rightTab === "home"),
  );
}

const requests = [];
function addRequest(record) {
  if (requests.some((r) => r.at === record.at)) return;
  requests.push(record);
  renderRequests();
}

function renderRequests() {
  const log = $("#requests");
  const latest = requests[requests.length - 1];
  const line = (r) => {
    const who = user(r.user);
    const detail = r.detail ? ` ${r.detail}` : "";
    return `POST /slack/events · ${r.kind}${detail} · as ${who.real_name} (team ${r.team}) → ${r.status} in ${r.ms} ms`;
  };
  $("#requests-summary").textContent = latest ? line(latest) : "Every click, submit and command is sent to the bot as a signed Slack request.";
  $("#requests-list").replaceChildren(...requests.slice(-30).reverse().map((r) => h("li", {}, h("time", {}, new Date(r.at * 1000).toLocaleTimeString()), " ", line(r))));
  log.dataset.count = String(requests.length);
}

function render() {
  if (!state.snap) return;
  for (const record of state.snap.requests || []) addRequest(record);
  renderSidebar();
  renderTabs();
  renderPaneSwitch();
  const [left, right] = state.snap.channels;
  renderChannelPane($("#pane-left"), left);
  if (state.rightTab === "home") renderHomePane($("#pane-right"));
  else renderChannelPane($("#pane-right"), right);
  for (const pane of document.querySelectorAll(".pane")) renderComposerTarget(pane, pane.dataset.channel);
  renderModal();
  renderKeysFill();
}

function switchTo(viewer) {
  state.viewer = viewer;
  state.rendered = {};
  state.modalKey = undefined; // differs from any drawn state, so the next snapshot redraws (or removes) the modal
  state.localErrors = {};
  state.homeOpenedFor = null;
  state.rightTab = "channel";
  state.pane = "left";
  state.replyTo = {};
  state.pinned = {};
  for (const pane of document.querySelectorAll(".pane")) $(".composer__notices", pane).replaceChildren();
  const url = new URL(window.location.href);
  url.searchParams.set("as", viewer);
  history.replaceState(null, "", url);
  renderPersonas();
  refreshNow();
}

/** The open modal's key field (its only text input that takes a key), if a form is open. */
function keyField() {
  return document.querySelector('#modal-root .modal input[type="text"], #modal-root .modal input:not([type]), #modal-root .modal textarea');
}

async function fillKeyForm(name, button) {
  const field = keyField();
  if (!field) {
    toast("Open the key form first (Enter the key privately), then put a key in it.");
    return;
  }
  const response = await fetch(`/playground/sample-keys/${encodeURIComponent(name)}`);
  const data = await response.json();
  field.value = data.key;
  field.dispatchEvent(new Event("input", { bubbles: true }));
  closeKeysPanel();
  field.focus();
  button.blur();
}

function closeKeysPanel() {
  $("#keys-panel").hidden = true;
  $("#keys-button").setAttribute("aria-expanded", "false");
}

function renderKeysFill() {
  document.body.classList.toggle("has-modal", Boolean(state.snap?.modal));
}

async function copySampleKey(name, button) {
  const response = await fetch(`/playground/sample-keys/${encodeURIComponent(name)}`);
  const data = await response.json();
  try {
    await navigator.clipboard.writeText(data.key);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Copy failed";
  }
  setTimeout(() => (button.textContent = "Copy key"), 1500);
}

function renderKeysPanel() {
  const panel = $("#keys-panel");
  panel.replaceChildren(
    h("h3", {}, "Sample Dentally keys"),
    h("p", { class: "keys__note" }, "Fake keys that work only against the local Dentally sandbox. Copy one, then paste it into the key form. They are also printed in the terminal."),
    h(
      "ul",
      { class: "keys__list" },
      state.world.sample_keys.map((key) => {
        const copy = h("button", { type: "button", class: "btn btn--small" }, "Copy key");
        copy.addEventListener("click", () => copySampleKey(key.name, copy));
        // While the key form is open, one tap puts the key in it (a phone's clipboard is awkward to reach).
        const fill = h("button", { type: "button", class: "btn btn--small btn--primary keys__fill", "aria-label": `Put ${key.name} in the key form` }, "Put in form");
        fill.addEventListener("click", () => fillKeyForm(key.name, fill));
        return h(
          "li",
          {},
          h("div", { class: "keys__about" }, h("code", {}, key.name), h("span", { class: "keys__region" }, key.region.toUpperCase()), h("div", { class: "keys__what" }, key.description)),
          h("div", { class: "keys__buttons" }, fill, copy),
        );
      }),
    ),
  );
}

async function main() {
  state.world = await (await fetch("/playground/world")).json();
  const asked = new URL(window.location.href).searchParams.get("as");
  state.viewer = asked && state.world.users[asked] && !state.world.users[asked].is_bot ? asked : state.world.default_user;
  for (const pane of document.querySelectorAll(".pane")) pane.append(composer(pane));
  $("#pane-left").dataset.channel = state.world.channel_order[0];
  $("#pane-right").dataset.channel = state.world.channel_order[1];
  for (const pane of document.querySelectorAll(".pane")) {
    const list = $(".messages", pane);
    list.addEventListener("scroll", () => {
      state.pinned[pane.id] = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    });
  }
  $("#persona").addEventListener("change", (event) => switchTo(event.target.value));
  document.addEventListener("click", (event) => {
    const panel = $("#keys-panel");
    if (!panel.hidden && !panel.contains(event.target) && event.target !== $("#keys-button")) closeKeysPanel();
    const link = event.target.closest?.("a[href]");
    if (link && openInPage(link.href)) event.preventDefault();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    if (!$("#keys-panel").hidden) closeKeysPanel();
    else if ($("#overlay-root").children.length) $("#overlay-root").replaceChildren();
    else if (state.snap?.modal) closeModal(state.snap.modal);
  });
  $("#keys-button").addEventListener("click", () => {
    const panel = $("#keys-panel");
    panel.hidden = !panel.hidden;
    $("#keys-button").setAttribute("aria-expanded", String(!panel.hidden));
  });
  renderPersonas();
  renderKeysPanel();
  renderRequests();
  setInterval(() => refreshDates(), DATES_EVERY_MS);
  pollLoop();
}

main();
