// The two split-audio pages (seed 001). The agent opens audio-only.html on their own machine: its
// CCP runs the softphone, so the call audio takes the short path to the local headset. In the
// AppStream desktop, in-session.html runs the same agent's CCP for the controls only: no softphone
// and no ringtone, so no audio crosses the remote-desktop stream. Both pages are the same code with
// the options of ccp.js; what differs is said in the status line.

import { startCcp } from './ccp.js';
import { boot, status } from './page.js';

export async function runSplitAudioPage(page) {
  const booted = await boot();
  if (!booted) return;
  const { config, tr } = booted;
  const container = document.getElementById('ccp');

  status(tr.t('ccp_connecting'));
  document.body.dataset.state = 'connecting';
  const connect = startCcp(container, page, config);

  // Streams raises ACK_TIMEOUT when the CCP does not answer its handshake: the agent is not signed
  // in, and Streams opens the login popup (at loginUrl) itself.
  connect.core.getEventBus().subscribe(connect.EventType.ACK_TIMEOUT, () => {
    status(tr.t('ccp_sign_in'), 'warning');
    document.body.dataset.state = 'signing-in';
  });

  const ready = (agent) => {
    status(tr.t(page === 'audio-only' ? 'audio_ready' : 'controls_ready', { agent: agent.getName() }), 'ok');
    document.body.dataset.state = 'ready';
  };
  connect.agent((agent) => {
    ready(agent);
    connect.contact((contact) => {
      contact.onConnected(() => {
        status(tr.t(page === 'audio-only' ? 'audio_in_call' : 'controls_in_call'), 'ok');
        document.body.dataset.state = 'in-call';
      });
      contact.onDestroy(() => ready(agent));
    });
  });

  const toggle = document.getElementById('toggle-ccp');
  if (toggle) {
    toggle.addEventListener('click', () => {
      const hidden = container.classList.toggle('ccp-hidden');
      toggle.textContent = tr.t(hidden ? 'show_ccp' : 'hide_ccp');
      toggle.setAttribute('aria-expanded', String(!hidden));
    });
  }
}
