// The recording bot's meeting page. It reads the join data from the query, builds the Chime SDK's
// MeetingSessionConfiguration, shows the meeting's ExternalMeetingId as the title and joins the
// meeting as a listener: no microphone (the SDK then sends an empty audio stream), no camera; the
// remote cameras fill the window, a content share is shown large, and the mixed meeting audio plays
// through an <audio> element (into PulseAudio's null sink, which ffmpeg records).
//
// `window.recorderSession` says what happened, for the tests (and for anyone looking at the page):
//   {status, meetingId, externalMeetingId, attendeeId, externalUserId, hasJoinToken, mediaRegion,
//    signalingUrl, audioHostUrl, joinError, stopReason, remoteTiles, contentShare}
// status: starting → joining → joined | retrying | stopped | failed. `joinError` is a string once
// the join (or reading the join data) failed, else null. `stopReason` says why a session stopped
// (lib/session-end.mjs: meeting-ended, attendee-removed, …): the recorder (lib/page-watch.mjs) reads
// status and stopReason to end the recording by itself. The join token is never put there.
//
// Without real Chime media (the tests) the join fails: that is caught and reported, the page stays up.

import {
  ConsoleLogger,
  DefaultDeviceController,
  DefaultMeetingSession,
  LogLevel,
  MeetingSessionConfiguration,
  MeetingSessionStatusCode,
} from 'amazon-chime-sdk-js';

import { readJoinData, sessionSummary } from '../../lib/join-data.mjs';
import { endReasonFor } from '../../lib/session-end.mjs';

const state = {
  status: 'starting',
  joinError: null,
  stopReason: null,
  remoteTiles: 0,
  contentShare: false,
};
window.recorderSession = state;

const statusLine = document.getElementById('status');
const tiles = document.getElementById('tiles');
const content = document.getElementById('content');

function setStatus(status, text) {
  state.status = status;
  document.body.dataset.state = status;
  statusLine.textContent = text;
}

function fail(message) {
  state.joinError = message;
  setStatus('failed', `Not recording the meeting: ${message}`);
}

/**
 * The SDK's logger at WARN, which also notices the SDK's report of a failed connection attempt.
 * After a failed first attempt the SDK retries quietly (with backoff, for reconnectTimeoutMs: two
 * minutes) and tells its observers only when it gives up; the bot keeps retrying, but the failure is
 * reported at once (joinError, status "retrying").
 */
class RecorderLogger extends ConsoleLogger {
  constructor(onConnectionFailure) {
    super('recorder', LogLevel.WARN);
    this.onConnectionFailure = onConnectionFailure;
  }

  warn(message) {
    super.warn(message);
    const failure = /will reconnect due to status code (\w+)(?: and error: (.*))?/s.exec(message);
    if (failure) this.onConnectionFailure(failure[1], failure[2]);
  }
}

function describeStatus(status) {
  const code = status.statusCode();
  return MeetingSessionStatusCode[code] ?? `status ${code}`;
}

// ---- Video layout ---------------------------------------------------------------------------

/** <video> elements of the remote camera tiles, by tile id. */
const cameraElements = new Map();
let contentTileId = null;

function layout() {
  const count = cameraElements.size;
  // A grid as square as the count allows: 1 → 1×1, 2 → 2×1, 3–4 → 2×2, 5–6 → 3×2, …
  tiles.style.setProperty('--cols', String(Math.max(1, Math.ceil(Math.sqrt(count)))));
  document.body.classList.toggle('sharing', contentTileId !== null);
  content.hidden = contentTileId === null;
  state.remoteTiles = count;
  state.contentShare = contentTileId !== null;
}

function tileObserver(audioVideo) {
  return {
    videoTileDidUpdate(tile) {
      // Our own tile (we send no video) and tiles without a stream yet have nothing to show.
      if (tile.localTile || !tile.boundAttendeeId || tile.tileId === null) return;
      if (tile.isContent) {
        contentTileId = tile.tileId;
        audioVideo.bindVideoElement(tile.tileId, content);
      } else {
        let element = cameraElements.get(tile.tileId);
        if (!element) {
          element = document.createElement('video');
          element.autoplay = true;
          element.playsInline = true;
          element.muted = true; // the meeting audio comes through the <audio> element
          element.dataset.attendeeId = tile.boundAttendeeId;
          cameraElements.set(tile.tileId, element);
          tiles.append(element);
        }
        audioVideo.bindVideoElement(tile.tileId, element);
      }
      layout();
    },
    videoTileWasRemoved(tileId) {
      if (tileId === contentTileId) {
        contentTileId = null;
      } else {
        cameraElements.get(tileId)?.remove();
        cameraElements.delete(tileId);
      }
      layout();
    },
  };
}

// ---- Joining --------------------------------------------------------------------------------

async function join(configuration) {
  setStatus('joining', 'Joining the meeting…');
  const logger = new RecorderLogger((code, error) => {
    // Kept as a string for the tests and the banner; the SDK's messages carry no join token.
    state.joinError = (error ? `${code}: ${error}` : code).slice(0, 500);
    setStatus('retrying', `Could not join the meeting (${code}); retrying…`);
  });
  const deviceController = new DefaultDeviceController(logger);
  const meetingSession = new DefaultMeetingSession(configuration, logger, deviceController);
  const audioVideo = meetingSession.audioVideo;

  await audioVideo.bindAudioElement(document.getElementById('meeting-audio'));
  audioVideo.addObserver(tileObserver(audioVideo));
  audioVideo.addObserver({
    audioVideoDidStart() {
      state.joinError = null;
      setStatus('joined', 'Recording');
      // The bot listens only: keep its (empty) microphone muted in everyone's roster.
      audioVideo.realtimeMuteLocalAudio();
    },
    audioVideoDidStop(sessionStatus) {
      const reason = describeStatus(sessionStatus);
      state.stopReason = endReasonFor(reason);
      if (state.status === 'joined' && sessionStatus.statusCode() === MeetingSessionStatusCode.MeetingEnded) {
        setStatus('stopped', 'The meeting has ended');
      } else if (state.status === 'joined' || !sessionStatus.isFailure()) {
        setStatus('stopped', `Left the meeting (${reason})`);
      } else {
        fail(`the meeting session stopped: ${reason}`);
      }
    },
  });
  // start() returns at once; how the connection goes comes through the observers and the logger.
  audioVideo.start();
}

function main() {
  let configuration;
  try {
    const { meeting, attendee } = readJoinData(window.location.search);
    configuration = new MeetingSessionConfiguration(meeting, attendee);
    Object.assign(state, sessionSummary(configuration, meeting));
  } catch (error) {
    fail(error.message);
    return;
  }
  document.title = configuration.externalMeetingId;
  document.getElementById('title').textContent = configuration.externalMeetingId;
  join(configuration).catch((error) => fail(`could not start the meeting session: ${error.message}`));
}

main();
