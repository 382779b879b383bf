#!/bin/bash
# The recorder container's entrypoint (Dockerfile ENTRYPOINT), the original's run.sh made explicit:
#
#   TASK_TYPE=PRE_WARM   → exit 0 at once (the task only makes the instance pull and cache the image)
#   otherwise            → PulseAudio (a null sink as the default sink; its monitor is what ffmpeg
#                          records), Xvfb at RECORDING_SCREEN_WIDTHxRECORDING_SCREEN_HEIGHTx24,
#                          Chromium in kiosk/app mode on the meeting page with the join data in its
#                          query, then `exec node record.mjs`, which captures and uploads.
#
# Signals. ECS StopTask (docker stop) sends SIGTERM to the container's PID 1, which is this script
# until the exec and node afterwards: `exec` replaces this shell with node in the same process, so
# node receives the SIGTERM itself (record.mjs handles it: ffmpeg closes the last segment, what is on
# disk is uploaded).
# Before the exec, the trap below handles it (nothing is recorded yet: stop what was started, exit 0).
# A PID 1 ignores any signal it has no handler for, so without the trap a StopTask during the start
# would wait for stopTimeout and a SIGKILL. Traps with a handler are reset by exec (only ignored
# signals would be inherited, hence no `trap '' TERM`). The background processes (Xvfb, Chromium,
# PulseAudio) get no SIGTERM from ECS, only PID 1 does: they keep the display and sound alive while
# ffmpeg writes its last fragment, and end with the container.
#
# Nothing here prints the join data: the page URL carries the join token, so it goes only to the
# browser's command line, and the browser's own output goes to a file, not to the task's log.
#
# The browser's DevTools endpoint listens on loopback only (RECORDER_DEBUG_PORT, default 9222): it is
# how record.mjs watches the page to end the recording when the meeting ends, the bot is removed or the
# join fails (lib/page-watch.mjs). Bridge networking gives the container its own loopback, so no other
# task or host process reaches it.
#
# Knobs beyond the env contract (see README.md): RECORDING_AUDIO_INPUT (pulse|silent; default pulse
# when PulseAudio is installed), RECORDER_DISPLAY (default :1), RECORDER_BROWSER (default chromium),
# RECORDER_BROWSER_FLAGS (extra flags, e.g. for the tests), RECORDER_BROWSER_LOG, RECORDER_DEBUG_PORT.

set -euo pipefail

log() {
  # The same JSON lines as record.mjs; the messages here are fixed texts (no quotes to escape).
  printf '{"level":"%s","msg":"run.sh: %s"}\n' "$1" "$2" >&2
}

if [ "${TASK_TYPE:-}" = "PRE_WARM" ]; then
  log info "PRE_WARM task: the image is pulled and cached, nothing to record"
  exit 0
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

XVFB_PID=""
BROWSER_PID=""
PULSE_STARTED=""
stop_started() {
  [ -n "$BROWSER_PID" ] && kill "$BROWSER_PID" 2>/dev/null || true
  [ -n "$XVFB_PID" ] && kill "$XVFB_PID" 2>/dev/null || true
  [ -n "$PULSE_STARTED" ] && pulseaudio --kill 2>/dev/null || true
}
on_stop_before_recording() {
  log info "stopped before the recording began: nothing recorded, nothing uploaded"
  stop_started
  exit 0
}
fail() {
  log error "$1"
  stop_started
  exit "${2:-1}"
}
trap on_stop_before_recording TERM INT

WIDTH="${RECORDING_SCREEN_WIDTH:-1920}"
HEIGHT="${RECORDING_SCREEN_HEIGHT:-1080}"
[[ "$WIDTH" =~ ^[0-9]+$ && "$HEIGHT" =~ ^[0-9]+$ ]] || fail "RECORDING_SCREEN_WIDTH and RECORDING_SCREEN_HEIGHT must be whole numbers" 2
export RECORDING_SCREEN_WIDTH="$WIDTH" RECORDING_SCREEN_HEIGHT="$HEIGHT"

# The page's URL, with both variables checked and URL-encoded (lib/page-url.mjs prints the reason on
# stderr when they are unusable: a task with broken join data fails now rather than record an error
# page for the whole meeting).
if ! PAGE_URL="$(node "$HERE/lib/page-url.mjs")"; then
  fail "the join data (CHIME_MEETING_DATA, CHIME_ATTENDEE_DATA) are unusable" 2
fi

# ---- Audio: PulseAudio with a null sink; the browser plays into it, ffmpeg records its monitor.
AUDIO="${RECORDING_AUDIO_INPUT:-}"
if [ -z "$AUDIO" ]; then
  if command -v pulseaudio >/dev/null 2>&1; then
    AUDIO=pulse
  else
    AUDIO=silent
    log warn "PulseAudio is not installed: the recording gets a silent audio track"
  fi
fi
export RECORDING_AUDIO_INPUT="$AUDIO"
if [ "$AUDIO" = pulse ]; then
  command -v pulseaudio >/dev/null 2>&1 || fail "RECORDING_AUDIO_INPUT=pulse but PulseAudio is not installed"
  # PulseAudio's socket lives in XDG_RUNTIME_DIR, which must be ours and private; the browser and
  # ffmpeg find the server there through the same variable.
  if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
    XDG_RUNTIME_DIR="$(mktemp -d)"
    export XDG_RUNTIME_DIR
  fi
  chmod 700 "$XDG_RUNTIME_DIR"
  # -n: no default.pa (it probes sound cards a container does not have); only the native protocol
  # and the null sink. --exit-idle-time=-1: the daemon must not quit during a silent stretch.
  pulseaudio --daemonize=yes --exit-idle-time=-1 --disallow-exit=yes -n \
    --load=module-native-protocol-unix \
    --load="module-null-sink sink_name=recording rate=44100 channels=2 sink_properties=device.description=Recording" \
    || fail "PulseAudio did not start"
  PULSE_STARTED=1
  pactl set-default-sink recording || fail "could not make the null sink PulseAudio's default sink"
  pactl set-default-source recording.monitor || fail "could not make the null sink's monitor PulseAudio's default source"
fi

# ---- The virtual display.
DISPLAY_NAME="${RECORDER_DISPLAY:-:1}"
DISPLAY_NUMBER="${DISPLAY_NAME#:}"
DISPLAY_NUMBER="${DISPLAY_NUMBER%%.*}"
Xvfb "$DISPLAY_NAME" -screen 0 "${WIDTH}x${HEIGHT}x24" -nolisten tcp -noreset >/dev/null 2>&1 &
XVFB_PID=$!
for _ in $(seq 100); do
  [ -S "/tmp/.X11-unix/X$DISPLAY_NUMBER" ] && break
  kill -0 "$XVFB_PID" 2>/dev/null || fail "Xvfb exited at start (is display $DISPLAY_NAME taken?)"
  sleep 0.1
done
[ -S "/tmp/.X11-unix/X$DISPLAY_NUMBER" ] || fail "Xvfb was not ready after 10 s"
export DISPLAY="$DISPLAY_NAME"

# ---- The browser on the meeting page, filling the screen.
# --no-sandbox: Chromium's sandbox needs user namespaces that Docker's default seccomp profile does
#   not grant; the page is our own, and its only remote peers are the meeting's Chime endpoints.
# --test-type: hides the "unsupported command-line flag" bar that --no-sandbox would put on screen.
# --autoplay-policy, --use-fake-ui-for-media-stream: the meeting audio and video play without a
#   gesture, and any media permission prompt is accepted (nobody is there to click).
# --disable-*background*: the page must not be throttled as a background window.
BROWSER="${RECORDER_BROWSER:-chromium}"
BROWSER_LOG="${RECORDER_BROWSER_LOG:-/tmp/recorder-browser.log}"
DEBUG_PORT="${RECORDER_DEBUG_PORT:-9222}"
[[ "$DEBUG_PORT" =~ ^[0-9]+$ ]] || fail "RECORDER_DEBUG_PORT must be a port number" 2
PROFILE="$(mktemp -d)"
# Extra flags split on blanks (no globbing): e.g. the tests' --proxy-server.
read -r -a EXTRA_FLAGS <<<"${RECORDER_BROWSER_FLAGS:-}"
"$BROWSER" \
  --no-sandbox --test-type \
  --user-data-dir="$PROFILE" --no-first-run --no-default-browser-check --password-store=basic \
  --kiosk --start-fullscreen --window-position=0,0 --window-size="$WIDTH,$HEIGHT" \
  --autoplay-policy=no-user-gesture-required --use-fake-ui-for-media-stream \
  --disable-background-timer-throttling --disable-backgrounding-occluded-windows --disable-renderer-backgrounding \
  --disable-features=Translate,MediaRouter --noerrdialogs --disable-session-crashed-bubble --hide-scrollbars \
  --disable-gpu --disable-dev-shm-usage \
  --remote-debugging-address=127.0.0.1 --remote-debugging-port="$DEBUG_PORT" \
  "${EXTRA_FLAGS[@]}" \
  --app="$PAGE_URL" >"$BROWSER_LOG" 2>&1 &
BROWSER_PID=$!
unset PAGE_URL
sleep 0.5
kill -0 "$BROWSER_PID" 2>/dev/null || fail "the browser ($BROWSER) exited at start: see $BROWSER_LOG"

export RECORDER_PAGE_DEBUG_URL="http://127.0.0.1:$DEBUG_PORT"
log info "display, audio and browser ready: handing over to record.mjs"
# From here node is this process (see the top): its SIGTERM handler finishes the recording.
exec node "$HERE/record.mjs"
