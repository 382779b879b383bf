// What every page does first: read config.json, pick the locale, fill in the static texts. A page
// whose config is wrong says which key and why, in the status line; it never stays blank.

import { ConfigError, loadConfig } from './config.js';
import { FALLBACK, LOCALES, chooseLocale, loadTranslations } from './i18n.js';

/** Sets an element's text (never markup: every text on these pages goes through textContent). */
export function setText(element, text) {
  element.textContent = text;
}

export function el(tag, { className, text, attrs } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs ?? {})) node.setAttribute(name, value);
  return node;
}

/**
 * Every element with data-i18n="key" gets the translated text: the `<title>` too (so
 * `document.title` is in the page's language), and `<html lang>` names the locale.
 */
export function translateStatic(root, tr) {
  for (const node of root.querySelectorAll('[data-i18n]')) setText(node, tr.t(node.dataset.i18n));
  document.documentElement.lang = tr.locale;
}

/**
 * The page's status line (role=status, so screen readers hear changes). The same text again
 * changes nothing: a rewrite would be read out again.
 */
export function status(text, kind = 'info') {
  const line = document.getElementById('status');
  if (line.textContent !== text) setText(line, text);
  if (line.dataset.kind !== kind) line.dataset.kind = kind;
}

async function translationsFor(preferred, fallbackLocale) {
  const locale = chooseLocale(preferred, LOCALES, fallbackLocale);
  try {
    return await loadTranslations(locale);
  } catch {
    return null;
  }
}

/**
 * Loads config and texts. Returns `{config, tr}`, or null after showing the problem (bad config
 * names its key; missing texts fall back to built-in English for the message).
 */
export async function boot({ needs = [] } = {}) {
  let config;
  try {
    config = await loadConfig({ needs });
  } catch (error) {
    const tr = (await translationsFor(navigator.languages, 'en')) ?? FALLBACK;
    if (tr !== FALLBACK) translateStatic(document, tr);
    const key = error instanceof ConfigError ? error.key : '(file)';
    const reason = error instanceof ConfigError ? error.reason : String(error);
    status(tr.t('config_invalid', { key, reason }), 'error');
    document.body.dataset.state = 'config-error';
    return null;
  }
  const tr = await translationsFor(navigator.languages, config.locale);
  if (!tr) {
    status(FALLBACK.t('translations_missing'), 'error');
    document.body.dataset.state = 'config-error';
    return null;
  }
  translateStatic(document, tr);
  return { config, tr };
}
