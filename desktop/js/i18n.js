// Texts live in i18n/<locale>.json with three separate sections, so a purpose or attribute tag can
// never shadow a UI string (the original kept one flat dictionary: a purpose called `error` would
// have been shown as "Er is een fout opgetreden").

/** The locales that have a file in i18n/. A unit test keeps this list and the folder in step. */
export const LOCALES = Object.freeze(['en', 'nl']);

const primary = (tag) => tag.toLowerCase().split('-')[0];

/**
 * The best match for the browser's preferences: the first entry of `navigator.languages` that names
 * an available locale exactly (case-insensitively), or failing that by its primary language
 * (`nl-BE` → `nl`). The original used an exact match on `navigator.language` only, so `nl-NL` never
 * matched `nl`. When nothing matches, the configured default wins.
 */
export function chooseLocale(languages, available = LOCALES, fallback = 'en') {
  const wanted = (Array.isArray(languages) ? languages : []).filter((l) => typeof l === 'string' && l !== '');
  for (const lang of wanted) {
    const exact = available.find((a) => a.toLowerCase() === lang.toLowerCase());
    if (exact) return exact;
    const sameLanguage = available.find((a) => primary(a) === primary(lang));
    if (sameLanguage) return sameLanguage;
  }
  return available.includes(fallback) ? fallback : available[0];
}

export class Translations {
  constructor(locale, data) {
    this.locale = locale;
    this.ui = data.ui ?? {};
    this.purposes = data.purposes ?? {};
    this.attributes = data.attributes ?? {};
  }

  /** A UI string with `{name}` placeholders filled in; the key itself when missing (visible, not blank). */
  t(key, vars = {}) {
    const text = Object.hasOwn(this.ui, key) ? this.ui[key] : key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (Object.hasOwn(vars, name) ? String(vars[name]) : whole));
  }

  purpose(tag) {
    return Object.hasOwn(this.purposes, tag) ? this.purposes[tag] : tag;
  }

  attribute(key) {
    return Object.hasOwn(this.attributes, key) ? this.attributes[key] : key;
  }
}

/** English strings for the one case where even the translation file cannot be loaded. */
export const FALLBACK = new Translations('en', {
  ui: {
    config_invalid: 'This page is not configured correctly: {key} {reason}.',
    translations_missing: 'The texts of this page could not be loaded.',
  },
});

export async function loadTranslations(locale, fetchImpl = globalThis.fetch) {
  const response = await fetchImpl(`i18n/${locale}.json`, { cache: 'no-cache', credentials: 'same-origin' });
  if (!response.ok) throw new Error(`i18n/${locale}.json: HTTP ${response.status}`);
  return new Translations(locale, await response.json());
}
