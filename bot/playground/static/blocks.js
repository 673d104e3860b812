// Block Kit as DOM, for messages, modals and App Home alike. Nothing here knows our bot: any block or element the
// app sends is drawn from its JSON, and every interaction is reported through ctx.onAction / ctx.onInput.

import { escapeHtml, renderPlain, renderText, safeHref } from "./mrkdwn.js";

/** Create an element: h("div", {class: "x"}, child, "text"). */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "html") node.innerHTML = value;
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const TEXT_INPUTS = { plain_text_input: "text", email_text_input: "email", url_text_input: "url", number_input: "number" };

function options(element) {
  const found = [...(element.options || [])];
  for (const group of element.option_groups || []) found.push(...(group.options || []));
  return found;
}

function optionLabel(option) {
  return option?.text?.text ?? option?.value ?? "";
}

/** The value the user has given an element so far, or its initial value. */
function current(element, block, ctx) {
  const key = `${block.block_id}::${element.action_id}`;
  if (ctx.form && ctx.form.has(key)) return ctx.form.get(key);
  if (element.initial_value !== undefined) return element.initial_value;
  if (element.initial_option) return element.initial_option.value;
  if (element.initial_options) return element.initial_options.map((o) => o.value);
  for (const name of ["initial_date", "initial_time", "initial_user", "initial_conversation", "initial_channel"]) {
    if (element[name] !== undefined) return element[name];
  }
  for (const name of ["initial_users", "initial_conversations", "initial_channels"]) {
    if (element[name] !== undefined) return element[name];
  }
  return undefined;
}

// Selects and pickers report each change at once, except inside input blocks without dispatch_action.
function dispatches(block) {
  return block.type !== "input" || block.dispatch_action === true;
}

function busy(button) {
  button.classList.add("is-busy");
  button.setAttribute("aria-busy", "true");
}

function idle(button) {
  button.classList.remove("is-busy");
  button.removeAttribute("aria-busy");
}

/** Ask for confirmation first when the element carries a confirm object. */
function confirmed(element, ctx, then) {
  if (element.confirm && ctx.confirm) ctx.confirm(element.confirm, then);
  else then();
}

/** Open a button's link: in the page when it points into the playground (a thread's permalink), else a new tab. */
function openLink(url, ctx) {
  if (!safeHref(url)) return;
  if (ctx.openInPage?.(url)) return;
  window.open(url, "_blank", "noopener");
}

function button(element, block, ctx) {
  const style = element.style ? ` btn--${element.style}` : "";
  const node = h("button", {
    type: "button",
    class: `btn${style}`,
    "data-action-id": element.action_id,
    title: element.accessibility_label,
    html: renderPlain(element.text?.text, element.text?.emoji),
  });
  node.addEventListener("click", () =>
    confirmed(element, ctx, () => {
      openLink(element.url, ctx);
      busy(node);
      // Slack spins the button until the app acks; the ack comes back with the act's answer.
      Promise.resolve(ctx.onAction?.(element, block, element.value ?? null, node)).finally(() => idle(node));
    }),
  );
  return node;
}

function pickerOptions(element, ctx) {
  const kind = element.type.replace(/^multi_/, "");
  if (kind === "users_select") {
    return Object.values(ctx.users || {})
      .filter((u) => !u.is_bot)
      .map((u) => ({ value: u.id, text: { text: u.real_name } }));
  }
  if (kind === "conversations_select" || kind === "channels_select") {
    return Object.values(ctx.channels || {}).map((c) => ({ value: c.id, text: { text: `#${c.name}` } }));
  }
  return options(element);
}

/** static/external/users/conversations/channels selects, single or multi, as a native <select>. */
function select(element, block, ctx, id) {
  const multi = element.type.startsWith("multi_");
  const chosen = current(element, block, ctx);
  const node = h("select", { id, class: "select", multiple: multi, "data-action-id": element.action_id });
  if (!multi) {
    const placeholder = element.placeholder?.text || "Select an item";
    node.append(h("option", { value: "", disabled: true, selected: chosen === undefined }, placeholder));
  }
  const groups = element.option_groups;
  const add = (parent, option) =>
    parent.append(
      h(
        "option",
        { value: option.value, selected: multi ? (chosen || []).includes(option.value) : chosen === option.value },
        optionLabel(option),
      ),
    );
  if (groups) {
    for (const group of groups) {
      const optgroup = h("optgroup", { label: group.label?.text || "" });
      for (const option of group.options || []) add(optgroup, option);
      node.append(optgroup);
    }
  } else {
    for (const option of pickerOptions(element, ctx)) add(node, option);
  }
  node.addEventListener("change", () => {
    const value = multi ? [...node.selectedOptions].map((o) => o.value) : node.value;
    ctx.onInput?.(element, block, value);
    if (dispatches(block)) ctx.onAction?.(element, block, value, node);
  });
  return node;
}

function overflow(element, block, ctx) {
  const menu = h("div", { class: "overflow-menu", role: "menu", hidden: true });
  const toggle = h("button", { type: "button", class: "btn btn--icon", "aria-label": "More actions" }, "⋯");
  toggle.addEventListener("click", () => (menu.hidden = !menu.hidden));
  for (const option of options(element)) {
    const item = h("button", { type: "button", role: "menuitem", html: renderPlain(optionLabel(option)) });
    item.addEventListener("click", () => {
      menu.hidden = true;
      openLink(option.url, ctx);
      ctx.onAction?.(element, block, option.value, toggle);
    });
    menu.append(item);
  }
  return h("div", { class: "overflow" }, toggle, menu);
}

function choices(element, block, ctx, id) {
  const many = element.type === "checkboxes";
  const chosen = current(element, block, ctx);
  const group = h("div", { class: "choices", role: many ? "group" : "radiogroup", id });
  for (const option of options(element)) {
    const checked = many ? (chosen || []).includes(option.value) : chosen === option.value;
    const input = h("input", { type: many ? "checkbox" : "radio", name: id, value: option.value, checked });
    input.addEventListener("change", () => {
      const value = many
        ? [...group.querySelectorAll("input:checked")].map((i) => i.value)
        : group.querySelector("input:checked")?.value;
      ctx.onInput?.(element, block, value);
      if (dispatches(block)) ctx.onAction?.(element, block, value, input);
    });
    const description = option.description
      ? h("span", { class: "choice-description", html: renderText(option.description, ctx) })
      : null;
    group.append(h("label", { class: "choice" }, input, h("span", { html: renderText(option.text, ctx) }), description));
  }
  return group;
}

function textInput(element, block, ctx, id) {
  const value = current(element, block, ctx) ?? "";
  const attrs = {
    id,
    class: "text-input",
    placeholder: element.placeholder?.text,
    maxlength: element.max_length,
    "data-action-id": element.action_id,
    autocomplete: "off",
    spellcheck: "false",
  };
  const node = element.multiline
    ? h("textarea", { ...attrs, rows: 4 })
    : h("input", { ...attrs, type: TEXT_INPUTS[element.type] || "text", min: element.min_value, max: element.max_value });
  node.value = value;
  node.addEventListener("input", () => ctx.onInput?.(element, block, node.value));
  if (element.focus_on_load) queueMicrotask(() => node.focus());
  return node;
}

function dateOrTime(element, block, ctx, id) {
  const node = h("input", {
    id,
    class: "text-input",
    type: element.type === "timepicker" ? "time" : "date",
    value: current(element, block, ctx),
  });
  node.addEventListener("change", () => {
    ctx.onInput?.(element, block, node.value);
    if (dispatches(block)) ctx.onAction?.(element, block, node.value, node);
  });
  return node;
}

function imageElement(element) {
  return h("img", { class: "image-element", src: element.image_url, alt: element.alt_text || "" });
}

/** One interactive or image element. */
export function renderElement(element, block, ctx, id) {
  switch (element.type) {
    case "button":
    case "workflow_button":
      return button(element, block, ctx);
    case "image":
      return imageElement(element);
    case "overflow":
      return overflow(element, block, ctx);
    case "radio_buttons":
    case "checkboxes":
      return choices(element, block, ctx, id);
    case "datepicker":
    case "timepicker":
      return dateOrTime(element, block, ctx, id);
    default:
      if (element.type in TEXT_INPUTS) return textInput(element, block, ctx, id);
      if (element.type.endsWith("_select")) return select(element, block, ctx, id);
      return h("span", { class: "unsupported" }, `[${element.type}]`);
  }
}

function pictureBlock(block, ctx) {
  const image = h("img", { class: "image-block__img", src: block.image_url, alt: block.alt_text || "" });
  image.addEventListener("error", () =>
    image.replaceWith(h("div", { class: "image-block__missing" }, `Picture could not load: ${block.alt_text || ""}`)),
  );
  image.addEventListener("click", () => ctx.zoom?.(block.image_url, block.alt_text));
  const title = block.title ? h("div", { class: "image-block__title", html: renderText(block.title, ctx) }) : null;
  return h("figure", { class: "block image-block" }, title, image);
}

function section(block, ctx) {
  const body = h("div", { class: "section__body" });
  if (block.text) body.append(h("div", { class: "section__text", html: renderText(block.text, ctx) }));
  if (block.fields) {
    body.append(h("div", { class: "section__fields" }, block.fields.map((f) => h("div", { html: renderText(f, ctx) }))));
  }
  const accessory = block.accessory
    ? h("div", { class: "section__accessory" }, renderElement(block.accessory, block, ctx, uid(block, block.accessory)))
    : null;
  return h("div", { class: "block section" }, body, accessory);
}

function context(block, ctx) {
  const items = (block.elements || []).map((element) =>
    element.type === "image"
      ? h("img", { class: "context__img", src: element.image_url, alt: element.alt_text || "" })
      : h("span", { class: "context__text", html: renderText(element, ctx) }),
  );
  return h("div", { class: "block context" }, items);
}

function actions(block, ctx) {
  return h(
    "div",
    { class: "block actions" },
    (block.elements || []).map((element) => renderElement(element, block, ctx, uid(block, element))),
  );
}

function uid(block, element) {
  return `el-${ctxPrefix}-${block.block_id}-${element.action_id}`.replace(/[^\w-]/g, "_");
}
let ctxPrefix = "x";

function input(block, ctx) {
  const element = block.element || {};
  const id = uid(block, element);
  const error = ctx.errors?.[block.block_id];
  const label = h(
    "label",
    { class: "input__label", for: id },
    h("span", { html: renderPlain(block.label?.text, block.label?.emoji) }),
    block.optional ? h("span", { class: "input__optional" }, " (optional)") : null,
  );
  const control = renderElement(element, block, ctx, id);
  if (error) {
    control.setAttribute("aria-invalid", "true");
    control.setAttribute("aria-describedby", `${id}-error`);
  }
  return h(
    "div",
    { class: `block input${error ? " input--error" : ""}`, "data-block-id": block.block_id },
    label,
    control,
    error ? h("div", { class: "input__error", id: `${id}-error`, role: "alert", html: renderText(error, ctx) }) : null,
    block.hint ? h("div", { class: "input__hint", html: renderPlain(block.hint.text, block.hint.emoji) }) : null,
  );
}

function richText(block, ctx) {
  const inlineHtml = (elements) =>
    (elements || [])
      .map((el) => {
        let html;
        if (el.type === "text") html = escapeHtml(el.text).replace(/\n/g, "<br>");
        else if (el.type === "link" && safeHref(el.url)) {
          html = `<a href="${escapeHtml(el.url)}" target="_blank" rel="noopener">${escapeHtml(el.text || el.url)}</a>`;
        }
        else if (el.type === "user") html = renderText({ type: "mrkdwn", text: `<@${el.user_id}>` }, ctx);
        else if (el.type === "channel") html = renderText({ type: "mrkdwn", text: `<#${el.channel_id}>` }, ctx);
        else if (el.type === "emoji") html = renderPlain(`:${el.name}:`);
        else html = escapeHtml(el.text || "");
        const style = el.style || {};
        if (style.code) html = `<code>${html}</code>`;
        if (style.bold) html = `<b>${html}</b>`;
        if (style.italic) html = `<i>${html}</i>`;
        if (style.strike) html = `<s>${html}</s>`;
        return html;
      })
      .join("");
  const parts = (block.elements || []).map((part) => {
    if (part.type === "rich_text_list") {
      const tag = part.style === "ordered" ? "ol" : "ul";
      return h(tag, { class: "md-list rich-list", html: (part.elements || []).map((i) => `<li>${inlineHtml(i.elements)}</li>`).join("") });
    }
    if (part.type === "rich_text_preformatted") return h("pre", { class: "code-block", html: inlineHtml(part.elements) });
    if (part.type === "rich_text_quote") return h("blockquote", { html: inlineHtml(part.elements) });
    return h("div", { html: inlineHtml(part.elements) });
  });
  return h("div", { class: "block rich-text" }, parts);
}

/** One block as DOM. */
export function renderBlock(block, ctx) {
  switch (block.type) {
    case "section":
      return section(block, ctx);
    case "header":
      return h("h3", { class: "block header", html: renderPlain(block.text?.text, block.text?.emoji) });
    case "divider":
      return h("hr", { class: "block divider" });
    case "context":
      return context(block, ctx);
    case "image":
      return pictureBlock(block, ctx);
    case "actions":
      return actions(block, ctx);
    case "input":
      return input(block, ctx);
    case "rich_text":
      return richText(block, ctx);
    case "markdown":
      return h("div", { class: "block section", html: renderText({ type: "mrkdwn", text: block.text }, ctx) });
    default:
      return h("div", { class: "block unsupported" }, `[${block.type} block]`);
  }
}

/**
 * Blocks as a list of DOM nodes.
 * @param {object[]} blocks The app's blocks.
 * @param {object} ctx users, channels, viewer; form (Map of typed values), errors (by block_id); callbacks
 *   onAction(element, block, value, node), onInput(element, block, value), confirm(confirmObject, proceed), zoom(url, alt),
 *   openInPage(url) (true when the page showed the link itself); prefix (unique per surface, for element ids).
 */
export function renderBlocks(blocks, ctx) {
  ctxPrefix = ctx.prefix || "x";
  return (blocks || []).map((block) => renderBlock(block, ctx));
}
