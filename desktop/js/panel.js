// One attribute panel per voice contact: polls `GET /api/session_info/{contact_id}` as the state
// machine (panel-machine.js) says and renders its view with textContent only — an attribute value
// is data from the caller's ID provider, never markup.

import { apiCall } from './api.js';
import { VIEW, onAnswer, restartPanel, sortedAttributes, startPanel } from './panel-machine.js';
import { el } from './page.js';

const VIEW_TEXT = {
  [VIEW.LOADING]: 'panel_loading',
  [VIEW.WAITING]: 'panel_waiting',
  [VIEW.VERIFIED]: 'panel_verified',
  [VIEW.FAILED]: 'panel_failed',
  [VIEW.NOT_IDENTIFIED]: 'panel_not_identified',
  [VIEW.NOT_YOURS]: 'panel_not_yours',
  [VIEW.SIGN_IN]: 'panel_sign_in',
  [VIEW.UNAVAILABLE]: 'panel_unavailable',
  [VIEW.UNEXPECTED]: 'panel_unexpected',
  [VIEW.STILL_WAITING]: 'panel_still_waiting',
};

export class Panel {
  /**
   * contactId: the voice contact's id; isConnecting(): whether it is still connecting (a 403 is
   * then retried); session: auth.js Session; onSignIn(): the page's popup sign-in, for the button.
   */
  constructor({ contactId, isConnecting, session, poll, tr, onSignIn, clock = Date.now }) {
    this.contactId = contactId;
    this.isConnecting = isConnecting;
    this.session = session;
    this.poll = poll;
    this.tr = tr;
    this.onSignIn = onSignIn;
    this.clock = clock;
    this.timer = null;
    this.closed = false;
    this.paused = false;
    this.root = el('section', { className: 'panel', attrs: { 'data-contact-id': contactId, 'aria-live': 'polite' } });
    const { state, effect } = startPanel(this.clock());
    this.state = state;
    this.render();
    this.apply(effect);
  }

  /** The contact is gone: stop asking, and the page removes the panel. */
  close() {
    this.closed = true;
    clearTimeout(this.timer);
    this.root.remove();
  }

  /** After a sign-in (popup): paused panels ask again at once. */
  resume() {
    if (this.closed || !this.paused) return;
    this.paused = false;
    this.restart();
  }

  restart() {
    clearTimeout(this.timer);
    const { state, effect } = restartPanel(this.state, this.clock());
    this.state = state;
    this.render();
    this.apply(effect);
  }

  apply(effect) {
    if (this.closed) return;
    if (effect.type === 'poll') {
      this.timer = setTimeout(() => this.ask(), effect.delayMs);
    } else if (effect.type === 'refresh') {
      this.session.refresh().then(
        () => this.ask(),
        // The refresh token is gone too: the machine turns this second 401 into "sign in again".
        () => this.answer({ status: 401 }),
      );
    } else if (effect.type === 'pause') {
      this.paused = true;
    }
  }

  async ask() {
    if (this.closed) return;
    const answer = await apiCall(this.session, 'GET', `/session_info/${encodeURIComponent(this.contactId)}`);
    this.answer(answer);
  }

  answer(answer) {
    if (this.closed) return; // the contact was destroyed while the request was out
    let connecting = false;
    try {
      connecting = Boolean(this.isConnecting());
    } catch {
      connecting = false; // Streams no longer has the contact
    }
    const { state, effect } = onAnswer(this.state, answer, { now: this.clock(), poll: this.poll, connecting });
    this.state = state;
    this.render();
    this.apply(effect);
  }

  render() {
    const { tr } = this;
    const view = this.state.view;
    this.root.dataset.view = view.kind;
    const header = el('header', { className: 'panel-header' });
    header.append(
      el('h2', { text: tr.t('panel_title') }),
      el('span', { className: 'panel-contact', text: tr.t('panel_contact', { id: this.contactId }) }),
    );
    const children = [header, el('p', { className: `panel-state state-${view.kind}`, text: tr.t(VIEW_TEXT[view.kind]) })];

    if (view.purpose) {
      const purpose = el('dl', { className: 'panel-purpose' });
      purpose.append(el('dt', { text: tr.t('panel_purpose') }), el('dd', { text: tr.purpose(view.purpose) }));
      children.push(purpose);
    }
    if (view.kind === VIEW.VERIFIED) {
      const list = el('dl', { className: 'panel-attributes' });
      const rows = sortedAttributes(view.attributes, (key) => tr.attribute(key), tr.locale);
      for (const row of rows) {
        list.append(el('dt', { text: row.label }), el('dd', { text: row.value }));
      }
      if (rows.length === 0) list.append(el('dd', { className: 'panel-empty', text: tr.t('panel_no_attributes') }));
      children.push(list);
    }
    if (view.kind === VIEW.STILL_WAITING) {
      const button = el('button', { className: 'panel-refresh', text: tr.t('refresh'), attrs: { type: 'button' } });
      button.addEventListener('click', () => this.restart());
      children.push(button);
    }
    if (view.kind === VIEW.SIGN_IN) {
      const button = el('button', { className: 'panel-sign-in', text: tr.t('sign_in_button'), attrs: { type: 'button' } });
      button.addEventListener('click', () => this.onSignIn());
      children.push(button);
    }
    this.root.replaceChildren(...children);
  }
}
