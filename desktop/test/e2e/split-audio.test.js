// The split-audio pages as the local cloud serves them: the CloudFront stand-in's headers from the
// template's policies, the fake CCP at config.json's ccpUrl, and what each page tells the CCP.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ccpFrame, launchChromium, until } from '../browser/support/harness.js';
import { cloud } from './support/local-cloud.js';

for (const { page: name, framed, microphone } of [
  { page: 'audio-only', framed: true, microphone: `microphone=(self "${cloud.ccp.origin}")` },
  { page: 'in-session', framed: false, microphone: 'microphone=()' },
]) {
  test(`${name}: served with its policy's headers, the CCP receives allowFramedSoftphone ${framed}`, async (t) => {
    const env = await launchChromium(t);
    const { page } = env;
    const response = await page.goto(`${cloud.site}/${name}.html`);
    assert.equal(response.status(), 200);
    const headers = response.headers();
    assert.ok(headers['permissions-policy'].startsWith(microphone), headers['permissions-policy']);
    assert.match(headers['content-security-policy'], new RegExp(`frame-src ${cloud.ccp.origin};`));
    assert.equal(headers['cache-control'], 'no-cache');

    const frame = await ccpFrame(page, cloud.ccp);
    const configure = await until(frame, () => window.fakeCcp.configures[0], undefined, { what: 'CONFIGURE' });
    assert.deepEqual(configure.softphone, { allowFramedSoftphone: framed, disableRingtone: !framed });
    await frame.evaluate((arn) => window.fakeCcp.pushAgent({ agentARN: arn, name: 'Alice', contacts: [] }), cloud.agents.alice.agentArn);
    await until(page, () => document.body.dataset.state === 'ready', undefined, { what: 'ready' });
    await env.screenshot(`local-cloud-${name}`);
    env.assertClean();
  });
}
