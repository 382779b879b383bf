// Why a meeting session ended, from the Chime SDK's status code name (MeetingSessionStatusCode):
// shared by the page (which records it on window.recorderSession.stopReason) and its tests.

const REASONS = {
  MeetingEnded: 'meeting-ended',
  // Signalled through the media channel when the meeting ended or the attendee was removed.
  TURNCredentialsForbidden: 'meeting-ended',
  AudioAttendeeRemoved: 'attendee-removed',
  AudioJoinedFromAnotherDevice: 'joined-elsewhere',
  Left: 'left',
};

/** The recorder's stop reason for a session that stopped with `statusCodeName`. */
export function endReasonFor(statusCodeName) {
  return REASONS[statusCodeName] ?? 'session-failed';
}
