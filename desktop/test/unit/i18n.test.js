// Locale choice from navigator.languages, and the translation files themselves.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';

import { LOCALES, Translations, chooseLocale } from '../../js/i18n.js';

const i18nDir = new URL('../../i18n/', import.meta.url);
const load = (locale) => JSON.parse(readFileSync(new URL(`${locale}.json`, i18nDir), 'utf8'));

describe('chooseLocale', () => {
  const cases = [
    [['nl'], 'en', 'nl'],
    [['nl-NL', 'en'], 'en', 'nl'], // the original's exact match made nl-NL fall back
    [['nl-BE'], 'en', 'nl'],
    [['en-GB', 'nl'], 'nl', 'en'],
    [['fr-FR', 'nl-NL'], 'en', 'nl'], // the first preference we have wins
    [['de', 'fr'], 'nl', 'nl'], // none: the configured default
    [['de'], 'en', 'en'],
    [[], 'nl', 'nl'],
    [undefined, 'nl', 'nl'],
    [['NL-nl'], 'en', 'nl'], // tags are case-insensitive
    [['', null, 'nl'], 'en', 'nl'],
  ];
  for (const [languages, fallback, expected] of cases) {
    test(`${JSON.stringify(languages)} with default ${fallback} → ${expected}`, () => {
      assert.equal(chooseLocale(languages, LOCALES, fallback), expected);
    });
  }

  test('a default that has no file falls to the first locale', () => {
    assert.equal(chooseLocale(['de'], ['en', 'nl'], 'fr'), 'en');
  });
});

describe('translation files', () => {
  test('LOCALES lists exactly the files in i18n/', () => {
    const files = readdirSync(i18nDir).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, '')).sort();
    assert.deepEqual(files, [...LOCALES].sort());
  });

  test('each has the sections ui, purposes, attributes, and the same keys as en', () => {
    const en = load('en');
    for (const locale of LOCALES) {
      const data = load(locale);
      assert.deepEqual(Object.keys(data).sort(), ['attributes', 'purposes', 'ui'], locale);
      for (const section of ['ui', 'purposes', 'attributes']) {
        assert.deepEqual(Object.keys(data[section]).sort(), Object.keys(en[section]).sort(), `${locale}.${section}`);
        for (const [key, text] of Object.entries(data[section])) assert.equal(typeof text, 'string', `${locale}.${section}.${key}`);
      }
    }
  });

  test('every UI key the pages use is translated', () => {
    const read = (f) => readFileSync(new URL(`../../${f}`, import.meta.url), 'utf8');
    const scripts = ['js/agent.js', 'js/panel.js', 'js/split-audio.js', 'js/page.js'].map(read).join('\n');
    const pages = ['agent.html', 'audio-only.html', 'in-session.html'].map(read).join('\n');
    const used = new Set([
      ...[...scripts.matchAll(/\bt\('(\w+)'/g)].map((m) => m[1]), // tr.t('key')
      ...[...scripts.matchAll(/'([a-z]+(?:_[a-z0-9]+)+)'/g)].map((m) => m[1]), // keys chosen by a ternary or a table
      ...[...pages.matchAll(/data-i18n="(\w+)"/g)].map((m) => m[1]),
    ]);
    assert.ok(used.size > 30, `found ${used.size} keys`);
    const ui = load('en').ui;
    for (const key of used) assert.ok(key in ui, `en.ui.${key}`);
  });
});

describe('Translations', () => {
  const tr = new Translations('nl', load('nl'));

  test('purposes and attributes have their own sections (a tag cannot shadow a UI string)', () => {
    const clash = new Translations('en', { ui: { refresh: 'Refresh' }, purposes: {}, attributes: {} });
    assert.equal(clash.purpose('refresh'), 'refresh');
    assert.equal(tr.purpose('report_move'), 'Verhuizing doorgeven');
    assert.equal(tr.attribute('email'), 'E-mailadres');
  });

  test('unknown tags show as themselves, not blank', () => {
    assert.equal(tr.purpose('new_purpose'), 'new_purpose');
    assert.equal(tr.attribute('shoe_size'), 'shoe_size');
    assert.equal(tr.t('no_such_key'), 'no_such_key');
  });

  test('placeholders are filled in', () => {
    assert.equal(tr.t('panel_heading', { id: 'c-1' }), 'Gegevens van de beller (ID Contact), contact c-1');
    assert.equal(new Translations('en', { ui: { x: '{a} and {b}' } }).t('x', { a: 1 }), '1 and {b}');
  });
});
