// One attribute panel per voice contact: polls `GET /api/session_info/{contact_id}` as the state
// machine (panel-machine.js) says and renders its view with textContent only — an attribute value
// is data from the caller's ID provider, never markup.
//
// The panel is a polite live region, so rendering is a diff: a poll whose view did not change
// touches nothing in it (a screen reader would otherwise read the panel again after every poll), a
// change touches only the parts that differ. The panel is a region named by its own heading (the
// contact id makes each name distinct). A button that a render takes away while it has focus (Refresh,
// Sign in) hands the focus to the panel's heading, never to the document body.

import { apiCall } from './api.js';
import { VIEW, onAnswer, restartPanel, sortedAttributes, startPanel } from './panel-machine.js';
import { el, setText } from './page.js';

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

let panels = 0; // for the heading ids

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
    this.build();
    const { state, effect } = startPanel(this.clock());
    this.state = state;
    this.render();
    this.apply(effect);
  }

  /** The parts that every view has, made once; the others are made when a view needs them. */
  build() {
    const { tr } = this;
    panels += 1;
    const headingId = `panel-${panels}-heading`;
    this.root = el('section', {
      className: 'panel',
      attrs: { 'data-contact-id': this.contactId, 'aria-labelledby': headingId, 'aria-live': 'polite' },
    });
    // tabindex -1: not a tab stop, but focus can be put there when a button under it goes away.
    this.heading = el('h2', { className: 'panel-heading', text: tr.t('panel_heading', { id: this.contactId }), attrs: { id: headingId, tabindex: '-1' } });
    this.stateLine = el('p', { className: 'panel-state' });
    this.purpose = null; // dl.panel-purpose while the view has a purpose
    this.attributes = null; // dl.panel-attributes (p.panel-empty when none were shared) while verified
    this.attributesKey = null; // what this.attributes shows, to rebuild it only when that changes
    this.refreshButton = null;
    this.signInButton = null;
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

  /** Brings the DOM to the view, changing only what differs (nothing at all when nothing does). */
  render() {
    const { tr, root } = this;
    const view = this.state.view;
    setAttribute(root, 'data-view', view.kind);
    setAttribute(this.stateLine, 'class', `panel-state state-${view.kind}`);
    setTextIfChanged(this.stateLine, tr.t(VIEW_TEXT[view.kind]));

    const wanted = [this.heading, this.stateLine];
    if (view.purpose) {
      if (!this.purpose) {
        this.purpose = el('dl', { className: 'panel-purpose' });
        this.purpose.append(row(tr.t('panel_purpose'), ''));
      }
      setTextIfChanged(this.purpose.querySelector('dd'), tr.purpose(view.purpose));
      wanted.push(this.purpose);
    } else {
      this.purpose = null;
    }
    if (view.kind === VIEW.VERIFIED) {
      const rows = sortedAttributes(view.attributes, (key) => tr.attribute(key), tr.locale);
      const key = JSON.stringify(rows);
      if (!this.attributes || this.attributesKey !== key) {
        if (rows.length === 0) {
          this.attributes = el('p', { className: 'panel-empty', text: tr.t('panel_no_attributes') });
        } else {
          this.attributes = el('dl', { className: 'panel-attributes' });
          for (const { label, value } of rows) this.attributes.append(row(label, value));
        }
        this.attributesKey = key;
      }
      wanted.push(this.attributes);
    } else {
      this.attributes = null;
      this.attributesKey = null;
    }
    if (view.kind === VIEW.STILL_WAITING) {
      this.refreshButton ??= button('panel-refresh', tr.t('refresh'), () => this.restart());
      wanted.push(this.refreshButton);
    }
    if (view.kind === VIEW.SIGN_IN) {
      this.signInButton ??= button('panel-sign-in', tr.t('sign_in_button'), () => this.onSignIn());
      wanted.push(this.signInButton);
    }

    const focused = document.activeElement;
    const focusInside = focused !== null && focused !== root && root.contains(focused);
    reconcile(root, wanted);
    if (focusInside && !root.contains(focused)) this.heading.focus();
  }
}

/** A dt/dd pair in its own div (allowed in a dl), so a row can stack its value under its label. */
function row(label, value) {
  const div = el('div', { className: 'row' });
  div.append(el('dt', { text: label }), el('dd', { text: value }));
  return div;
}

function button(className, text, onClick) {
  const node = el('button', { className, text, attrs: { type: 'button' } });
  node.addEventListener('click', onClick);
  return node;
}

function setAttribute(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function setTextIfChanged(node, text) {
  if (node.textContent !== text) setText(node, text);
}

/** Makes `parent`'s children exactly `wanted`, in order, moving or removing only what is out of place. */
function reconcile(parent, wanted) {
  wanted.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] ?? null);
  });
  while (parent.children.length > wanted.length) parent.lastElementChild.remove();
}
