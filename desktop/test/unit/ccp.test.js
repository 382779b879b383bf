// The initCCP options per page (spec "Pages") and the agent ARN → Connect user id.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ccpOptions, connectUserIdFromArn } from '../../js/ccp.js';

const config = { ccpUrl: 'https://example.my.connect.aws/ccp-v2/', loginUrl: 'https://sso.example.com/start' };

describe('ccpOptions', () => {
  test('audio-only: framed softphone, ringtone on', () => {
    assert.deepEqual(ccpOptions('audio-only', config), {
      ccpUrl: config.ccpUrl,
      loginPopup: true,
      loginPopupAutoClose: true,
      loginUrl: config.loginUrl,
      softphone: { allowFramedSoftphone: true, disableRingtone: false },
    });
  });

  test('in-session: no framed softphone, ringtone off', () => {
    assert.deepEqual(ccpOptions('in-session', config).softphone, { allowFramedSoftphone: false, disableRingtone: true });
  });

  test('agent: the full CCP with its softphone', () => {
    assert.deepEqual(ccpOptions('agent', config).softphone, { allowFramedSoftphone: true, disableRingtone: false });
  });

  test('without loginUrl Streams falls back to the CCP URL itself', () => {
    assert.equal('loginUrl' in ccpOptions('agent', { ccpUrl: config.ccpUrl }), false);
  });

  test('an unknown page is refused', () => {
    assert.throws(() => ccpOptions('ccp', config), /unknown page/);
  });
});

describe('connectUserIdFromArn', () => {
  const id = '0b3c5e2a-1d4f-4a6b-9c8d-7e6f5a4b3c2d';
  test('takes the user id from an agent ARN', () => {
    assert.equal(connectUserIdFromArn(`arn:aws:connect:eu-west-2:123456789012:instance/1a2b3c4d-1111-2222-3333-444455556666/agent/${id}`), id);
  });
  for (const arn of [undefined, '', 'nonsense', `arn:aws:connect:eu-west-2:123456789012:instance/x/queue/${id}`, `arn:aws:connect:eu-west-2:123:instance/x/agent/${id}`]) {
    test(`nothing from ${JSON.stringify(arn)}`, () => assert.equal(connectUserIdFromArn(arn), null));
  }
});
