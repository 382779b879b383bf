// The CCP on each page: `connect.core.initCCP` (amazon-connect-streams, vendor/connect-streams-min.js)
// with the options of the spec's table. The options are a pure function of the page and the config,
// so the unit tests pin them down; the browser tests check what the (fake) CCP actually receives.
//
// | page       | softphone                                              |
// |------------|--------------------------------------------------------|
// | audio-only | allowFramedSoftphone: true, ringtone on                |
// | in-session | allowFramedSoftphone: false, disableRingtone: true     |
// | agent      | allowFramedSoftphone: true, ringtone on                |
//
// `allowFramedSoftphone` travels to the CCP in Streams' CONFIGURE message and decides whether the
// CCP iframe runs the WebRTC softphone. With false, audio would fall to this page, but only if it
// called `connect.core.initSoftphoneManager`: the in-session page never does, so it has no audio at
// all and the agent's own machine (audio-only page) carries the call.

export const PAGES = Object.freeze(['audio-only', 'in-session', 'agent']);

export function ccpOptions(page, config) {
  if (!PAGES.includes(page)) throw new Error(`unknown page ${page}`);
  const withAudio = page !== 'in-session';
  const options = {
    ccpUrl: config.ccpUrl,
    // The CCP signs in as the instance is set up: a popup at loginUrl (Identity Center's link for
    // the Connect application, or the instance's own login), closed once the CCP acknowledges.
    loginPopup: true,
    loginPopupAutoClose: true,
    softphone: { allowFramedSoftphone: withAudio, disableRingtone: !withAudio },
  };
  if (config.loginUrl) options.loginUrl = config.loginUrl;
  return options;
}

/** The Streams global, loaded by the classic script before the page's module. */
export function streams() {
  const connect = globalThis.connect;
  if (!connect || !connect.core || typeof connect.core.initCCP !== 'function') {
    throw new Error('vendor/connect-streams-min.js did not load');
  }
  return connect;
}

/** Starts the CCP in `container` and returns the Streams global for subscriptions. */
export function startCcp(container, page, config) {
  const connect = streams();
  connect.core.initCCP(container, ccpOptions(page, config));
  return connect;
}

/**
 * The Connect user id in an agent ARN
 * (`arn:aws:connect:<region>:<account>:instance/<instance id>/agent/<user id>`), or null.
 */
export function connectUserIdFromArn(arn) {
  if (typeof arn !== 'string') return null;
  const match = /^arn:aws[\w-]*:connect:[\w-]+:\d{12}:instance\/[\w-]+\/agent\/([0-9a-fA-F-]{36})$/.exec(arn);
  return match ? match[1] : null;
}
