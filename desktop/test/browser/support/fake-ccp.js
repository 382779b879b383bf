// The CCP side of Streams' iframe protocol, for pages that embed the CCP with initCCP.
//
// Read from amazon-connect-streams (release/connect-streams.js) rather than guessed:
// - Messages are `{event, data}` posted between the windows (connect.WindowIOStream); the embedding
//   page's IFrameConduit only accepts those whose source is the CCP iframe's window.
// - The CCP speaks first. In the real CCP the shared worker greets each new port with
//   ACKNOWLEDGE `{id: <port stream id>}` and the CCP window passes it down to its parent. initCCP
//   waits for that first ACKNOWLEDGE (ccpLoadTimeout, 5 s by default; after it, ACK_TIMEOUT, which
//   opens the login popup at loginUrl and reloads the iframe every 5 s). On it, the page sends
//   CONFIGURE (softphone, chat, task, pageOptions…) and starts its keepalive: SYNCHRONIZE every
//   second, each answered with ACKNOWLEDGE.
// - Agent and contact data reach the page as AgentEvents.UPDATE `<agent data>` (snapshot +
//   configuration), which Streams' AgentDataProvider diffs into contact events (INIT, CONNECTING,
//   CONNECTED, DESTROYED…). API calls go up as API_REQUEST `{requestId, method, params}` and come
//   back as API_RESPONSE `{requestId, data, err}`.
(function () {
  var mode = document.querySelector('meta[name="fake-ccp-mode"]').content;
  var conduit = new connect.Conduit('FakeCCP', null, new connect.WindowIOStream(window, window.parent));
  var state = {
    mode: mode,
    configures: [],
    synchronizes: 0,
    apiRequests: [],
    apiAnswers: {},
  };
  window.fakeCcp = state;

  conduit.onDownstream(connect.EventType.CONFIGURE, function (data) {
    state.configures.push(data);
  });
  conduit.onDownstream(connect.EventType.SYNCHRONIZE, function () {
    state.synchronizes += 1;
    if (state.mode !== 'withhold') conduit.sendDownstream(connect.EventType.ACKNOWLEDGE);
  });
  conduit.onDownstream(connect.EventType.API_REQUEST, function (request) {
    state.apiRequests.push({ method: request.method, params: request.params });
    var answer = state.apiAnswers[request.method] || {};
    var response = connect.EventFactory.createResponse(connect.EventType.API_RESPONSE, request, answer.data || {}, answer.err || null);
    conduit.sendDownstream(response.event, response);
  });

  // Builds the agent data the real shared worker sends (timestamps as Dates: postMessage clones them).
  function agentData(description) {
    var now = new Date();
    var queues = (description.queues || []).map(function (q) {
      return { queueARN: q.queueARN, queueId: q.queueARN, name: q.name };
    });
    return {
      snapshot: {
        state: { agentStateARN: null, type: 'routable', name: 'Available', startTimestamp: now },
        nextState: null,
        agentAvailabilityState: { state: 'Available', timeStamp: now },
        contacts: (description.contacts || []).map(function (c) {
          return {
            contactId: c.contactId,
            initialContactId: c.initialContactId || c.contactId,
            type: c.type || 'voice',
            state: { type: c.state || 'connecting', timestamp: now },
            queue: { queueARN: 'arn:aws:connect:eu-west-2:123456789012:instance/x/queue/q', name: 'BasicQueue' },
            queueTimestamp: now,
            connections: [],
            attributes: {},
            contactDuration: '0',
            initiationMethod: 'inbound',
          };
        }),
        snapshotTimestamp: now,
      },
      configuration: {
        name: description.name,
        username: description.username || description.name,
        agentARN: description.agentARN,
        softphoneEnabled: true,
        softphoneAutoAccept: false,
        extension: null,
        permissions: [],
        dialableCountries: [],
        agentPreferences: {},
        routingProfile: {
          name: 'Basic Routing Profile',
          routingProfileARN: 'arn:aws:connect:eu-west-2:123456789012:instance/x/routing-profile/rp',
          routingProfileId: 'arn:aws:connect:eu-west-2:123456789012:instance/1a2b3c4d-1111-4222-8333-444455556666/routing-profile/rp',
          channelConcurrencyMap: { VOICE: 1, CHAT: 0, TASK: 0 },
          // The agent-app reads the agent's queues here (its ad-hoc route targets one of them).
          queues: queues,
          defaultOutboundQueue: queues[0] || null,
        },
      },
    };
  }

  /**
   * Pushes one snapshot: `{agentARN, name, username?, queues?: [{queueARN, name}], contacts: [{contactId,
   * initialContactId?, type?, state?}]}`. `username` is the agent's Connect login (the agent-app's
   * onboarding compares it with the signed-in user's); it defaults to `name`.
   */
  state.pushAgent = function (description) {
    conduit.sendDownstream(connect.AgentEvents.UPDATE, agentData(description));
  };

  if (mode !== 'withhold') conduit.sendDownstream(connect.EventType.ACKNOWLEDGE, { id: 'fake-ccp-port' });
})();
