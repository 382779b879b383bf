// Real-looking join data: a Chime SDK Meeting (as CreateMeeting returns it, PascalCase) and the
// recording bot's Attendee, and their variables as start-recording encodes them.

import { encodeJoinValue } from '../../lib/join-data.mjs';

export const JOIN_TOKEN = 'ZjNhMzBjMjMtNzY0Ni00NTlkLWE5YjAtODQ2YzgyYzE3OGYzOjM0ZTEwNTc0LTZiMzYtNGM5Zi1hMGQ4LTY0MmQ2YTkzMjk3Ng';

export function meeting(overrides = {}) {
  return {
    MeetingId: '6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
    ExternalMeetingId: 'case-1',
    MediaRegion: 'eu-central-1',
    MediaPlacement: {
      AudioHostUrl: '3b1f2a0c9d8e7f6a.k.m3.ec1.app.chime.aws:3478',
      AudioFallbackUrl: 'wss://haxrp.m3.ec1.app.chime.aws:443/calls/6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
      SignalingUrl: 'wss://signal.m3.ec1.app.chime.aws/control/6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
      TurnControlUrl: 'https://2713.cell.eu-central-1.meetings.chime.aws/v2/turn_sessions',
      ScreenDataUrl: 'wss://bitpw.m3.ec1.app.chime.aws:443/v2/screen/6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
      ScreenViewingUrl: 'wss://bitpw.m3.ec1.app.chime.aws:443/ws/connect?passcode=null&viewer_uuid=null&X-BitHub-Call-Id=6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
      ScreenSharingUrl: 'wss://bitpw.m3.ec1.app.chime.aws:443/v2/screen/6f2c1a2b-8e3d-4c5f-9a1b-2c3d4e5f6a7b',
      EventIngestionUrl: 'https://data.svc.ec1.ingest.chime.aws/v1/client-events',
    },
    ...overrides,
  };
}

export function attendee(overrides = {}) {
  return {
    ExternalUserId: '0d6f1e2a-3b4c-4d5e-8f6a-7b8c9d0e1f2a',
    AttendeeId: 'a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d',
    JoinToken: JOIN_TOKEN,
    ...overrides,
  };
}

/**
 * A meeting whose variable's base64 contains both `+` and `/` (what the original's unencoded query
 * broke): the ExternalMeetingId gets a suffix, chosen deterministically, until it does.
 */
export function meetingWithPlusAndSlash() {
  const suffixes = ['>', '?', '~', '>>', '??', '~~', '>?', '?>', '~?', '?~', '>~', '~>'];
  for (const a of suffixes) {
    for (const b of suffixes) {
      const value = meeting({ ExternalMeetingId: `case-1${a}x${b}` });
      const encoded = encodeJoinValue(value);
      if (encoded.includes('+') && encoded.includes('/')) return { value, encoded };
    }
  }
  throw new Error('no suffix gave a base64 value with both + and /');
}
