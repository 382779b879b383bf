#!/usr/bin/env python3
"""Removes each DynamoDB condition that guards an invariant, one at a time, and runs the tests that
should notice (part of `make mutants`; cargo-mutants does not mutate string literals).

"Removed" means the condition is made always true while every name and value it uses stays used:
`C` becomes `(C) OR attribute_not_exists(mutantNeverSet)`. Deleting the call outright would leave its
expression values unused, which DynamoDB refuses (a ValidationException on every call), so a test
would fail for the wrong reason.

For each condition the judges run in order until one fails: `domain:<test>` is a handler test of the
domain crate (crates/switchboard/tests/<test>.rs; `domain:lib` its unit tests), `fleet:<test>` a fleet test (tests/<test>.rs), run
after relinking the function binaries that use the file; `…:<test>:<name>` runs only the tests whose
names contain <name> (a whole binary of parallel tests, each with its own moto, is slow on 2 cores). The source is restored after each run.
Writes target/mutants-runs/conditions-<time>.json, which tools/mutants-summary.py lists.

    tools/conditions.py [file ...]    # only the conditions in these files
"""
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = "crates/switchboard/src/"

# (file, the condition as written, which occurrence of it in the file (1 = first), the invariant it
#  guards, the function binaries that use the file, the judges)
CONDITIONS = [
    ("identity/start_session.rs", "attribute_not_exists(pk) OR #ttl <= :now", 1,
     "a session code is never handed out while another live session holds it",
     ["start-session"], ["domain:identity_handlers:dtmf_collisions", "fleet:identity"]),
    ("identity/assign_id.rs", "attribute_not_exists(#count) OR #count < :max", 1,
     "a contact gets at most the allowed wrong DTMF codes, then is locked",
     ["assign-id"], ["domain:identity_handlers:locked", "fleet:races:concurrent_wrong_codes"]),
    ("identity/assign_id.rs", "attribute_exists(pk)", 1,
     "a contact is linked only to a session that still exists",
     ["assign-id"], ["domain:identity_handlers", "fleet:identity"]),
    ("identity/receive_auth_result.rs", "attribute_exists(pk) AND attribute_not_exists(resultAt)", 1,
     "a session's first authentication result is the one kept",
     ["receive-auth-result"], ["fleet:races:the_first_of_concurrent_auth_results", "fleet:identity"]),
    ("emergency/one_time_pin.rs", "attribute_not_exists(#count) OR #count < :max", 1,
     "at most the window's allowance of PIN SMS per number",
     ["one-time-pin"], ["domain:emergency_handlers", "fleet:races"]),
    ("emergency/one_time_pin.rs", "salt = :salt", 1,
     "a call that could not send its PIN deletes its own challenge, never a newer one",
     ["one-time-pin"], ["domain:emergency_handlers", "fleet:emergency_flows"]),
    ("emergency/verify_pin.rs",
     "salt = :salt AND attempts < :max AND expiresAt > :now AND attribute_not_exists(verifiedAt)", 1,
     "a wrong PIN costs one of the allowed tries of this challenge, while it is live",
     ["verify-pin"], ["domain:emergency_handlers:pins_verify_once", "fleet:races:concurrent_wrong_pins"]),
    ("emergency/verify_pin.rs", "salt = :salt AND attribute_not_exists(verifiedAt)", 1,
     "a PIN verifies once",
     ["verify-pin"], ["domain:emergency_handlers:pins_verify_once", "fleet:races:the_same_pin_keyed"]),
    ("emergency/update_emergency.rs", "updatedAt = :previous", 1,
     "an update is written over the state it read, not over a concurrent one",
     ["update-emergency"], ["domain:emergency_handlers:concurrent_updates", "fleet:emergency_flows"]),
    ("emergency/update_emergency.rs", "attribute_not_exists(pk)", 1,
     "the first update of a location does not overwrite one made concurrently",
     ["update-emergency"], ["domain:emergency_handlers:concurrent_updates", "domain:emergency_handlers:updates_need"]),
    ("emergency/update_emergency.rs", "attribute_not_exists(pk)", 2,
     "an audit record is never overwritten",
     ["update-emergency"], ["domain:emergency_handlers:audit_entry", "fleet:emergency_flows"]),
    ("flows/provision_flows/mod.rs", "attribute_not_exists(pk) OR #until < :now OR #owner = :me", 1,
     "one provisioning run per instance at a time (the lock)",
     ["provision-flows"], ["fleet:flows:held_lock", "fleet:flows"]),
    ("flows/provision_flows/mod.rs", "#owner = :me", 1,
     "a run releases only its own lock",
     ["provision-flows"], ["domain:lib:a_run_releases_only_its_own_lock", "fleet:flows"]),
    ("flows/github_webhook.rs", "attribute_not_exists(pk) OR #state = :failed OR claimedUntil < :now", 1,
     "a delivery starts its pipelines once",
     ["github-webhook"], ["domain:webhook_handlers", "fleet:webhook"]),
    ("recording/start_recording.rs", "recordingId = :stale", 1,
     "a stale recording lock is taken over only by the start that saw it",
     ["start-recording"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/start_recording.rs", "attribute_not_exists(pk) OR #ttl <= :now", 1,
     "one recording per meeting at a time (the recording lock)",
     ["start-recording"], ["fleet:recording"]),
    ("recording/start_recording.rs", "attribute_not_exists(pk)", 1,
     "a recording record is never overwritten",
     ["start-recording"], ["fleet:recording"]),
    ("recording/start_recording.rs", "attribute_exists(pk) AND attribute_not_exists(endedAt)", 1,
     "a started task is recorded only on a recording that has not ended",
     ["start-recording"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/start_recording.rs", "attribute_exists(pk) AND attribute_not_exists(endedAt)", 2,
     "a task the undo could not stop is kept for a stop only on a recording that has not ended",
     ["start-recording"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/mod.rs", "attribute_not_exists(endedAt) AND taskArn = :seen", 1,
     "a recording is ended once, for the task that was stopped",
     ["start-recording", "stop-recording", "stop-recording-on-meeting-end"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/mod.rs",
     "attribute_exists(pk) AND attribute_not_exists(endedAt) AND attribute_not_exists(taskArn)", 1,
     "a recording whose task was not seen is ended once, and not if a task appeared",
     ["start-recording", "stop-recording", "stop-recording-on-meeting-end"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/mod.rs",
     "attribute_exists(pk) AND attribute_not_exists(endedAt) AND attribute_not_exists(taskArn)", 2,
     "a recording with no task is ended once",
     ["start-recording", "stop-recording", "stop-recording-on-meeting-end"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/mod.rs", "recordingId = :recordingId", 1,
     "a recording releases only its own meeting lock",
     ["start-recording", "stop-recording", "stop-recording-on-meeting-end"], ["domain:recording_handlers", "fleet:recording"]),
    ("recording/prewarm_recording_task.rs",
     "attribute_not_exists(pk) OR (attribute_not_exists(taskArn) AND claimedAt < :abandoned)", 1,
     "a recording instance is prewarmed once",
     ["prewarm-recording-task"], ["fleet:recording:prewarmed"]),
    ("video/create_meeting.rs", "attribute_not_exists(pk) OR #ttl <= :now", 1,
     "one meeting per external id at a time",
     ["create-meeting"], ["fleet:races:concurrent_creates_of_one_meeting", "domain:video_meetings"]),
    ("video/create_attendee.rs", "chimeMeetingId = :chimeMeetingId AND attribute_not_exists(endedAt)", 1,
     "no attendee is added to a meeting that ended or was replaced",
     ["create-attendee"], ["domain:video_meetings", "fleet:video"]),
    ("video/end_meeting.rs", "chimeMeetingId = :chimeMeetingId", 1,
     "ending a meeting ends the one the caller saw, not a newer one under the same id",
     ["end-meeting"], ["domain:video_meetings", "fleet:video"]),
    ("video/adhoc_route.rs", "attribute_not_exists(pk) OR #ttl <= :now", 1,
     "an ad-hoc route id is never reused while live",
     ["create-adhoc-route"], ["domain:video_meetings:adhoc", "fleet:video"]),
    ("video/adhoc_route.rs",
     "attribute_exists(pk) AND attribute_not_exists(usedAt) AND #ttl > :now AND attendeeEmail = :email", 1,
     "an ad-hoc route is redeemed once, while live, by the customer it was made for",
     ["start-chat"], ["domain:video_meetings:adhoc", "fleet:races:an_adhoc_route_raced"]),
    ("video/adhoc_route.rs", "usedAt = :usedAt", 1,
     "a route is given back only by the chat that redeemed it",
     ["start-chat"], ["domain:video_meetings:given_back", "fleet:video"]),
]

ALWAYS_TRUE = " OR attribute_not_exists(mutantNeverSet)"
# A condition_expression call and its string literal (the literal may start on the next line).
CONDITION_CALL = re.compile(r"\.condition_expression\(\s*\"([^\"]*)\"")


def locate(text, condition, occurrence):
    """The span of the string literal holding `condition`, its `occurrence`-th use in a
    condition_expression call (a literal may be split over lines only by the call's layout)."""
    seen = 0
    for call in CONDITION_CALL.finditer(text):
        if call.group(1) == condition:
            seen += 1
            if seen == occurrence:
                return call.start(1), call.end(1)
    return None


def run(argv, log):
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    done = subprocess.run(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    log.write(done.stdout)
    return done.returncode, done.stdout


def main():
    # A stop (Ctrl-C, SIGTERM) unwinds through the `finally` that puts the source back.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    wanted = {a.removeprefix(SRC) for a in sys.argv[1:]}
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    out_dir = ROOT / "target/mutants-runs"
    out_dir.mkdir(parents=True, exist_ok=True)
    log = open(out_dir / f"conditions-{stamp}.log", "w")
    results = []
    relinked = False

    def save():
        # After each condition too, so a stopped run keeps what it found.
        (out_dir / f"conditions-{stamp}.json").write_text(json.dumps(results, indent=1) + "\n")

    for file, condition, occurrence, invariant, bins, judges in CONDITIONS:
        if wanted and file not in wanted:
            continue
        path = ROOT / SRC / file
        original = path.read_text()
        span = locate(original, condition, occurrence)
        line = original[: span[0]].count("\n") + 1 if span else None
        result = {"file": SRC + file, "line": line, "condition": condition, "invariant": invariant,
                  "caughtBy": None, "failingTests": []}
        if span is None:
            result["error"] = "condition not found in the file"
            results.append(result)
            print(f"NOT FOUND  {file}: {condition}")
            continue
        mutated = original[: span[0]] + f"({condition}){ALWAYS_TRUE}" + original[span[1]:]
        try:
            path.write_text(mutated)
            for judge in judges:
                kind, test, *name_filter = judge.split(":")
                if kind == "fleet":
                    # Relinks only the functions that use the file. The first such build compiles the SDK
                    # crates once more for the functions' own feature set (minutes); later ones only relink.
                    packages = [arg for b in bins for arg in ("-p", b)]
                    relinked = True
                    code, _ = run(["cargo", "build", "--bins", *packages], log)
                    if code != 0:
                        result["error"] = "the function binaries did not build"
                        break
                    argv = ["cargo", "test", "-p", "switchboard-fleet-tests", "--test", test]
                elif test == "lib":
                    argv = ["cargo", "test", "-p", "switchboard", "--lib"]
                else:
                    argv = ["cargo", "test", "-p", "switchboard", "--test", test]
                code, output = run(argv + ["--", *name_filter], log)
                if code != 0:
                    result["caughtBy"] = f"{kind} test {test}"
                    result["failingTests"] = re.findall(r"^test (\S+) \.\.\. FAILED$", output, re.M)
                    break
        finally:
            path.write_text(original)
        results.append(result)
        save()
        print(f"{'caught' if result['caughtBy'] else 'MISSED'}  {file}:{line}  {condition}"
              f"  {result['caughtBy'] or ''} {' '.join(result['failingTests'])}", flush=True)
    # A condition added to the code but not to the list above is reported, not silently skipped.
    if not wanted:
        listed = {(SRC + f, c) for f, c, *_ in CONDITIONS}
        for path in sorted((ROOT / SRC).rglob("*.rs")):
            name = str(path.relative_to(ROOT))
            for call in CONDITION_CALL.finditer(path.read_text()):
                if (name, call.group(1)) not in listed:
                    results.append({"file": name, "condition": call.group(1), "error": "not in tools/conditions.py"})
                    print(f"UNLISTED  {name}: {call.group(1)}")
        save()
    if relinked:
        # Function binaries were relinked from mutated sources: build them again from the real ones.
        subprocess.run(["cargo", "build", "--workspace", "--all-targets"], cwd=ROOT, check=False)


if __name__ == "__main__":
    main()
