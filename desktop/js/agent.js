// agent.html (seed 003): the CCP beside one ID Contact attribute panel per voice contact.
//
// Order on load: sign in (managed login, redirecting before the CCP starts) → CCP → once Streams
// knows the agent, make sure the token carries the agent's Connect user id (onboarding) → panels.

import { apiCallWithRefresh } from './api.js';
import { Session, SignInRequired, finishPopupSignIn } from './auth.js';
import { connectUserIdFromArn, startCcp } from './ccp.js';
import { boot, el, status } from './page.js';
import { Panel } from './panel.js';

const CONNECT_USER_ID = 'custom:connectUserId';

async function main() {
  // This window is the sign-in popup coming back from managed login: hand over the code, nothing else.
  if (finishPopupSignIn()) return;

  const booted = await boot({ needs: ['cognito', 'connectLoginByEmail'] });
  if (!booted) return;
  const { config, tr } = booted;
  const setState = (state) => {
    document.body.dataset.state = state;
  };

  const session = new Session({
    domain: config.cognito.domain,
    clientId: config.cognito.clientId,
    redirectUri: `${window.location.origin}${window.location.pathname}`,
  });

  status(tr.t('signing_in'));
  setState('signing-in');
  try {
    if (!(await session.begin())) return; // on the way to managed login
  } catch (error) {
    status(tr.t('sign_in_failed', { reason: error.message }), 'error');
    setState('sign-in-failed');
    showSignInButton(tr, () => window.location.assign(window.location.pathname));
    return;
  }

  const panels = new Map(); // contact id → Panel
  const panelArea = document.getElementById('panels');
  const emptyNote = document.getElementById('no-contacts');
  const updateEmpty = () => {
    emptyNote.hidden = panels.size > 0;
  };

  const signInAgain = async () => {
    try {
      await session.signInWithPopup();
    } catch (error) {
      status(tr.t('sign_in_failed', { reason: error.message }), 'error');
    }
  };
  session.onChange((event) => {
    if (event === 'sign-in-required') {
      status(tr.t('sign_in_again'), 'warning');
      showSignInButton(tr, signInAgain);
    } else if (event === 'signed-in') {
      status(tr.t('signed_in', { user: session.claims().email ?? '' }), 'ok');
      hideSignInButton();
      for (const panel of panels.values()) panel.resume();
    }
  });

  status(tr.t('signed_in', { user: session.claims().email ?? '' }), 'ok');
  setState('ccp-starting');
  const connect = startCcp(document.getElementById('ccp'), 'agent', config);
  connect.core.getEventBus().subscribe(connect.EventType.ACK_TIMEOUT, () => status(tr.t('ccp_sign_in'), 'warning'));

  let onboarded = null; // a promise: true when the token names this Connect agent
  connect.agent((agent) => {
    onboarded ??= onboard(agent, session, config, tr).then((ok) => {
      setState(ok ? 'ready' : 'not-this-agent');
      return ok;
    });
  });

  const openPanel = async (contact) => {
    const contactId = contact.getContactId();
    if (panels.has(contactId)) return;
    panels.set(contactId, null); // reserved: the contact may be destroyed while onboarding finishes
    if (!onboarded || !(await onboarded) || !panels.has(contactId)) {
      panels.delete(contactId);
      updateEmpty();
      return;
    }
    const panel = new Panel({
      contactId,
      isConnecting: () => contact.getState().type === connect.ContactStateType.CONNECTING,
      session,
      poll: config.poll,
      tr,
      onSignIn: signInAgain,
    });
    panels.set(contactId, panel);
    panelArea.append(panel.root);
    updateEmpty();
  };

  connect.contact((contact) => {
    // Voice only: chat and task contacts have no ID Contact session (and the original's single
    // iframe was blanked by whichever contact ended first).
    if (contact.getType() !== connect.ContactType.VOICE) return;
    const contactId = contact.getContactId();
    const state = contact.getState().type;
    if (state === connect.ContactStateType.CONNECTING || state === connect.ContactStateType.CONNECTED) openPanel(contact);
    contact.onConnecting(() => openPanel(contact));
    contact.onConnected(() => openPanel(contact));
    contact.onDestroy(() => {
      panels.get(contactId)?.close();
      panels.delete(contactId);
      updateEmpty();
    });
  });
}

/**
 * Makes sure the ID token carries `custom:connectUserId` for the agent signed in to the CCP.
 * Without it, the user id comes from the agent ARN and `POST /api/setConnectUserId` (which checks
 * it against Connect) sets it; a refreshed token then carries it. Returns false, after saying so,
 * when this sign-in is not this Connect agent.
 */
async function onboard(agent, session, config, tr) {
  const fromCcp = connectUserIdFromArn(agent.getAgentARN());
  const claimed = session.claims()[CONNECT_USER_ID];
  if (claimed) {
    if (fromCcp && claimed !== fromCcp) return notThisAgent(tr);
    return true;
  }
  if (!fromCcp) {
    status(tr.t('onboarding_failed', { reason: 'agent ARN' }), 'error');
    return false;
  }
  status(tr.t('onboarding'));
  try {
    const answer = await apiCallWithRefresh(session, 'POST', '/setConnectUserId', {
      connectLoginByEmail: config.connectLoginByEmail,
      connectUserId: fromCcp,
    });
    // 400: not this user's Connect id (or the claim is already set to another); 403: no such right.
    if (answer.status === 400 || answer.status === 403) return notThisAgent(tr);
    if (answer.status !== 200) {
      status(tr.t('onboarding_failed', { reason: answer.network ? 'network' : `HTTP ${answer.status}` }), 'error');
      return false;
    }
    await session.refresh();
  } catch (error) {
    if (error instanceof SignInRequired) return false; // the sign-in banner is already up
    status(tr.t('onboarding_failed', { reason: error.message }), 'error');
    return false;
  }
  if (session.claims()[CONNECT_USER_ID] !== fromCcp) return notThisAgent(tr);
  status(tr.t('signed_in', { user: session.claims().email ?? '' }), 'ok');
  return true;
}

function notThisAgent(tr) {
  status(tr.t('not_this_agent'), 'error');
  return false;
}

function showSignInButton(tr, onClick) {
  const slot = document.getElementById('sign-in');
  const button = el('button', { className: 'primary', text: tr.t('sign_in_button'), attrs: { type: 'button' } });
  button.addEventListener('click', onClick);
  slot.replaceChildren(button);
  slot.hidden = false;
}

function hideSignInButton() {
  const slot = document.getElementById('sign-in');
  if (slot.hidden) return;
  const hadFocus = slot.contains(document.activeElement);
  slot.replaceChildren();
  slot.hidden = true;
  // Focus never falls to the body: the status line (tabindex -1) now says who is signed in.
  if (hadFocus) document.getElementById('status').focus();
}

main();
