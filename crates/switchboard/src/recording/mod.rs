//! Recording a video call (spec: `specs/video.md`, "Recording"). Each function's behaviour is in its
//! own file: [`start_recording`], [`stop_recording`], [`get_recording_summary`] (HTTP),
//! [`stop_recording_on_meeting_end`], [`prewarm_recording_task`] (EventBridge). What they share is
//! here: the recording items of `VideoTable`, the per-meeting lock, who may view a recording, and
//! stopping a meeting's recordings. (The meeting items and the agent's cached Connect placement they
//! read are in [`crate::shared`].)
//!
//! Items (partition `M#<externalMeetingId>`, beside the meeting and its attendees):
//! - `RECLOCK`: at most one recording in progress per meeting. Written by a condition (absent, or past
//!   its `ttl`) in the same transaction as the recording item, holding the recording's id; deleted
//!   by whoever stops that recording, on the condition that it still names it.
//! - `REC#<recordingId>`: one recording (`recordingId` is the bot attendee's ExternalUserId). Written
//!   `STARTING` with the lock, then given its task ARN once `RunTask` answered, `endedAt` when stopped.
//!   An item without a task ARN is a start that crashed before RunTask answered: stopping it looks
//!   the task up by its `startedBy`, so nothing it may have started keeps running.
//!   `recordingLayout = "SEGMENTS"`: its recorder writes MP4 segments and a manifest under the
//!   recording's prefix ([`segment_prefix`], [`parse_manifest`]); an item without it was written before
//!   segments, and its recorder wrote one MP4 at `fileName`.

pub mod get_recording_summary;
pub mod prewarm_recording_task;
pub mod start_recording;
pub mod stop_recording;
pub mod stop_recording_on_meeting_end;

pub use get_recording_summary::GetRecordingSummary;
pub use prewarm_recording_task::PrewarmRecordingTask;
pub use start_recording::StartRecording;
pub use stop_recording::StopRecording;
pub use stop_recording_on_meeting_end::StopRecordingOnMeetingEnd;

use aws_sdk_ecs::{
    error::ProvideErrorMetadata,
    types::{ContainerOverride, Failure, KeyValuePair, Task, TaskOverride},
};
use aws_smithy_types::error::display::DisplayErrorContext;
use time::OffsetDateTime;

use crate::{
    platform::{
        store::{self, Item, StoreError},
        time::rfc3339,
    },
    shared::{
        connect_user::GroupPlacement,
        meeting::{self, attendee_key, meeting_partition},
    },
};

/// The lock's sort key.
pub const LOCK_SK: &str = "RECLOCK";
/// Recording items' sort key prefix.
pub const RECORDING_SK_PREFIX: &str = "REC#";
/// A lock outlives any meeting (Chime ends a meeting after 24 hours at most), so one a crash left
/// behind frees itself.
pub const LOCK_TTL: time::Duration = time::Duration::hours(25);
/// How long recording items live: as long as the meeting's.
pub const RECORDING_TTL: time::Duration = meeting::MEETING_TTL;
/// `startedBy` of a recording task (ECS allows 128 characters of `[A-Za-z0-9_/-]`).
pub fn started_by(recording_id: &str) -> String {
    format!("Recording-{recording_id}")
}

pub fn lock_key(external_meeting_id: &str) -> Item {
    store::key(meeting_partition(external_meeting_id), LOCK_SK)
}

pub fn recording_key(external_meeting_id: &str, recording_id: &str) -> Item {
    store::key(meeting_partition(external_meeting_id), format!("{RECORDING_SK_PREFIX}{recording_id}"))
}

/// Whether a viewer placed at `viewer` may see a recording whose owner was placed at `owner` when it
/// started: the same group (two agents without a group count as the same), or the viewer's group is
/// the owner's ancestor at the viewer's own level (a manager above the owner's team).
pub fn may_view(viewer: Option<&GroupPlacement>, owner: Option<&GroupPlacement>) -> bool {
    match (viewer, owner) {
        (None, None) => true,
        (Some(viewer), Some(owner)) => viewer.id == owner.id || owner.at_level(&viewer.level) == Some(&viewer.id),
        _ => false,
    }
}

/// A stored recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingRecord {
    pub recording_id: String,
    pub external_meeting_id: String,
    pub chime_meeting_id: String,
    pub owner_username: String,
    pub owner_group: Option<GroupPlacement>,
    pub bucket: String,
    pub file_name: String,
    pub created_at: String,
    pub task_arn: Option<String>,
    pub bot_attendee_id: Option<String>,
    pub ended_at: Option<String>,
    /// Segments and a manifest under [`segment_prefix`]; `false` for a single MP4 at `file_name`.
    pub segmented: bool,
}

impl RecordingRecord {
    /// The item as first written (`STARTING`: no task yet).
    pub fn to_item(&self, now: OffsetDateTime) -> Item {
        let mut item = recording_key(&self.external_meeting_id, &self.recording_id);
        item.insert("entityType".into(), store::s("Recording"));
        item.insert("recordingId".into(), store::s(&self.recording_id));
        item.insert("chimeMeetingId".into(), store::s(&self.chime_meeting_id));
        item.insert("ownerUsername".into(), store::s(&self.owner_username));
        if let Some(group) = &self.owner_group {
            item.insert("ownerGroup".into(), group.to_attribute());
        }
        item.insert("bucket".into(), store::s(&self.bucket));
        item.insert("fileName".into(), store::s(&self.file_name));
        item.insert("createdAt".into(), store::s(&self.created_at));
        if let Some(attendee_id) = &self.bot_attendee_id {
            item.insert("botAttendeeId".into(), store::s(attendee_id));
        }
        if self.segmented {
            item.insert("recordingLayout".into(), store::s(SEGMENTS_LAYOUT));
        }
        item.insert("ttl".into(), store::ttl(now + RECORDING_TTL));
        item
    }

    pub fn from_item(external_meeting_id: &str, item: &Item) -> Result<Self, StoreError> {
        let text = |name: &str| {
            store::get_str(item, name).map(str::to_owned).ok_or_else(|| StoreError::malformed("Query", name))
        };
        Ok(Self {
            recording_id: text("recordingId")?,
            external_meeting_id: external_meeting_id.to_owned(),
            chime_meeting_id: text("chimeMeetingId")?,
            owner_username: text("ownerUsername")?,
            owner_group: item.get("ownerGroup").and_then(GroupPlacement::from_attribute),
            bucket: text("bucket")?,
            file_name: text("fileName")?,
            created_at: text("createdAt")?,
            task_arn: store::get_str(item, "taskArn").map(str::to_owned),
            bot_attendee_id: store::get_str(item, "botAttendeeId").map(str::to_owned),
            ended_at: store::get_str(item, "endedAt").map(str::to_owned),
            // Absent: written before segments. Another value is none this code writes: guessing its
            // layout could point playback at the wrong objects.
            segmented: match store::get_str(item, "recordingLayout") {
                None => false,
                Some(SEGMENTS_LAYOUT) => true,
                Some(_) => return Err(StoreError::malformed("Query", "recordingLayout")),
            },
        })
    }
}

/// Every live recording of a meeting, oldest first (strongly consistent: a stop reads what a start
/// just wrote).
pub async fn recordings(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    external_meeting_id: &str,
    now: OffsetDateTime,
) -> Result<Vec<RecordingRecord>, StoreError> {
    let items =
        store::query_sort_prefix(dynamodb, table, &meeting_partition(external_meeting_id), RECORDING_SK_PREFIX).await?;
    let mut found = items
        .iter()
        .filter(|item| store::is_live(item, now))
        .map(|item| RecordingRecord::from_item(external_meeting_id, item))
        .collect::<Result<Vec<_>, _>>()?;
    found.sort_by(|a, b| a.created_at.cmp(&b.created_at));
    Ok(found)
}

/// The recording tasks' cluster.
#[derive(Clone)]
pub struct RecordingCluster {
    pub ecs: aws_sdk_ecs::Client,
    pub cluster: String,
}

/// A recording's stop failed at a step that must be retried (the task may still be running).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StopFault(pub String);

impl RecordingCluster {
    /// Stops one task; a task ECS no longer knows is stopped already.
    pub async fn stop_task(&self, task: &str, reason: &str) -> Result<(), StopFault> {
        match self.ecs.stop_task().cluster(&self.cluster).task(task).reason(reason).send().await {
            Ok(_) => Ok(()),
            Err(e) if is_unknown_task(&e) => Ok(()),
            Err(e) => Err(StopFault(format!("ECS StopTask failed: {}", DisplayErrorContext(&e)))),
        }
    }

    /// Stops every task a recording started, found by its `startedBy` (for a start that has not
    /// stored its task's ARN: under way, or crashed); the first such task, if any.
    async fn stop_started_by(&self, recording_id: &str, reason: &str) -> Result<Option<String>, StopFault> {
        let listed = self
            .ecs
            .list_tasks()
            .cluster(&self.cluster)
            .started_by(started_by(recording_id))
            .send()
            .await
            .map_err(|e| StopFault(format!("ECS ListTasks failed: {}", DisplayErrorContext(&e))))?;
        for task in listed.task_arns() {
            self.stop_task(task, reason).await?;
        }
        Ok(listed.task_arns().first().cloned())
    }
}

/// The task override that sets `environment` on the recorder's container (named `container`).
pub fn recorder_override<N: Into<String>, V: Into<String>>(
    container: &str,
    environment: impl IntoIterator<Item = (N, V)>,
) -> TaskOverride {
    let environment =
        environment.into_iter().map(|(name, value)| KeyValuePair::builder().name(name).value(value).build());
    let container = ContainerOverride::builder().name(container).set_environment(Some(environment.collect())).build();
    TaskOverride::builder().container_overrides(container).build()
}

/// The ARN of the one task `RunTask` or `StartTask` (`operation`) placed; ECS answers 200 with
/// `failures` when it could place none, which is a failure here.
pub fn placed_task(operation: &str, tasks: &[Task], failures: &[Failure]) -> Result<String, String> {
    if let Some(failure) = failures.first() {
        return Err(format!(
            "ECS {operation} placed no task: {} {}",
            failure.reason().unwrap_or("(no reason)"),
            failure.detail().unwrap_or_default()
        ));
    }
    tasks
        .first()
        .and_then(|task| task.task_arn())
        .map(str::to_owned)
        .ok_or_else(|| format!("ECS {operation} returned no task"))
}

/// ECS's answer for a task it does not know (stopped long ago, or never started).
fn is_unknown_task<E: ProvideErrorMetadata>(error: &aws_sdk_ecs::error::SdkError<E>) -> bool {
    error.as_service_error().is_some_and(|e| {
        matches!(e.code(), Some("InvalidParameterException" | "ClientException"))
            && e.message().is_some_and(|m| m.to_ascii_lowercase().contains("not found"))
    })
}

/// How many of a meeting's in-progress recordings a stop ended, and how many it could not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StopCounts {
    pub recordings_stopped: u32,
    pub recordings_not_stopped: u32,
}

/// Stops a meeting's in-progress recordings.
pub struct Stopper<'a> {
    pub dynamodb: &'a aws_sdk_dynamodb::Client,
    pub table: &'a str,
    pub cluster: &'a RecordingCluster,
    /// With a Chime client the bot attendees are removed too (the agent's stop; when the meeting
    /// ended, Chime has removed everyone already).
    pub chime: Option<&'a aws_sdk_chimesdkmeetings::Client>,
    /// Only the recordings of this Chime meeting (the meeting-ended event's): another Chime meeting
    /// that had the same external id must not stop the live one's recording.
    pub chime_meeting_id: Option<&'a str>,
    pub reason: &'a str,
}

impl Stopper<'_> {
    /// For each recording without `endedAt`: the task stopped (a failure is counted in
    /// `recordingsNotStopped`, and that recording stays in progress and locked, so a retry can stop
    /// it), then `endedAt` set on the condition that the item is still as this stop saw it (only then
    /// is it counted here), the lock released if it still names it, and the bot removed. A store
    /// failure after a task was stopped is a fault: the caller answers it and a retry finishes the job
    /// (a lock it leaves behind is taken over by the next start, see `start_recording`).
    pub async fn stop_meeting(&self, external_meeting_id: &str, now: OffsetDateTime) -> Result<StopCounts, StoreError> {
        let mut counts = StopCounts::default();
        let in_progress = recordings(self.dynamodb, self.table, external_meeting_id, now).await?;
        let of_this_meeting = |r: &RecordingRecord| self.chime_meeting_id.is_none_or(|id| r.chime_meeting_id == id);
        for recording in in_progress.into_iter().filter(|r| r.ended_at.is_none() && of_this_meeting(r)) {
            match self.stop_one(recording, now).await? {
                Stop::Ended(recording) => {
                    counts.recordings_stopped += 1;
                    release_lock(self.dynamodb, self.table, external_meeting_id, &recording.recording_id).await?;
                    if let Some(chime) = self.chime {
                        remove_bot(chime, self.dynamodb, self.table, &recording, recording.bot_attendee_id.as_deref())
                            .await;
                    }
                    tracing::info!(recording_id = recording.recording_id, "recording stopped");
                }
                Stop::AlreadyEnded => {}
                Stop::Failed => counts.recordings_not_stopped += 1,
            }
        }
        Ok(counts)
    }

    /// Stops one recording's task and ends its item. A start still under way may store its task
    /// between this stop's read and its write: the write's condition catches that, and the item is
    /// read again and its now-known task stopped (twice at most; a recording still changing after
    /// that is counted as not stopped, and the next stop finds it settled).
    async fn stop_one(&self, mut recording: RecordingRecord, now: OffsetDateTime) -> Result<Stop, StoreError> {
        for _ in 0..2 {
            let stopped = match &recording.task_arn {
                Some(task) => self.cluster.stop_task(task, self.reason).await.map(|()| None),
                None => self.cluster.stop_started_by(&recording.recording_id, self.reason).await,
            };
            let found = match stopped {
                Ok(found) => found,
                Err(fault) => {
                    tracing::error!(error = %fault, recording_id = recording.recording_id, "a recording task could not be stopped");
                    return Ok(Stop::Failed);
                }
            };
            if self.mark_ended(&recording, found.as_deref(), now).await? {
                if let Some(task) = found {
                    recording.task_arn = Some(task);
                }
                return Ok(Stop::Ended(Box::new(recording)));
            }
            let key = recording_key(&recording.external_meeting_id, &recording.recording_id);
            let Some(item) = store::get_item(self.dynamodb, self.table, key).await? else {
                // An undone start deleted it: nothing runs.
                return Ok(Stop::AlreadyEnded);
            };
            let fresh = RecordingRecord::from_item(&recording.external_meeting_id, &item)?;
            if fresh.ended_at.is_some() {
                return Ok(Stop::AlreadyEnded);
            }
            recording = fresh;
        }
        tracing::error!(recording_id = recording.recording_id, "a recording kept changing while it was being stopped");
        Ok(Stop::Failed)
    }

    /// Sets `endedAt` if the item is still as this stop saw it: not ended, and with the task this stop
    /// stopped (or, when it saw none, still none: a start storing its task in between must be seen).
    /// The task found by its `startedBy` is stored, so playback can list the recording.
    async fn mark_ended(
        &self,
        recording: &RecordingRecord,
        found_task: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut update = self
            .dynamodb
            .update_item()
            .table_name(self.table)
            .set_key(Some(recording_key(&recording.external_meeting_id, &recording.recording_id)))
            .expression_attribute_values(":endedAt", store::s(rfc3339(now)));
        update = match (&recording.task_arn, found_task) {
            (Some(seen), _) => update
                .update_expression("SET endedAt = :endedAt")
                .condition_expression("attribute_not_exists(endedAt) AND taskArn = :seen")
                .expression_attribute_values(":seen", store::s(seen)),
            (None, Some(found)) => update
                .update_expression("SET endedAt = :endedAt, taskArn = :found")
                .condition_expression(
                    "attribute_exists(pk) AND attribute_not_exists(endedAt) AND attribute_not_exists(taskArn)",
                )
                .expression_attribute_values(":found", store::s(found)),
            (None, None) => update.update_expression("SET endedAt = :endedAt").condition_expression(
                "attribute_exists(pk) AND attribute_not_exists(endedAt) AND attribute_not_exists(taskArn)",
            ),
        };
        Ok(store::conditional("UpdateItem", update.send().await)?.is_some())
    }
}

/// What stopping one recording came to.
enum Stop {
    /// This stop ended it (its task now known, if it was found by `startedBy`).
    Ended(Box<RecordingRecord>),
    /// Another stop ended it, or an undone start deleted it.
    AlreadyEnded,
    /// Its task could not be stopped: it stays in progress.
    Failed,
}

/// Deletes the meeting's lock if it still names `recording_id` (a newer recording's lock is not ours).
pub async fn release_lock(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    external_meeting_id: &str,
    recording_id: &str,
) -> Result<(), StoreError> {
    let deleted = dynamodb
        .delete_item()
        .table_name(table)
        .set_key(Some(lock_key(external_meeting_id)))
        .condition_expression("recordingId = :recordingId")
        .expression_attribute_values(":recordingId", store::s(recording_id))
        .send()
        .await;
    store::conditional("DeleteItem", deleted)?;
    Ok(())
}

/// Removes the recording bot (`bot_attendee_id`, when known) from the meeting and its roster item.
/// Best effort, logged: the recording is already stopped, and a bot left in a meeting leaves when the
/// meeting ends.
pub async fn remove_bot(
    chime: &aws_sdk_chimesdkmeetings::Client,
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    recording: &RecordingRecord,
    bot_attendee_id: Option<&str>,
) {
    if let Some(attendee_id) = bot_attendee_id {
        let deleted =
            chime.delete_attendee().meeting_id(&recording.chime_meeting_id).attendee_id(attendee_id).send().await;
        if let Err(e) = deleted {
            if !meeting::is_chime_not_found(&e) {
                tracing::error!(error = %DisplayErrorContext(&e), "could not remove the recording bot from the meeting");
            }
        }
    }
    let roster = dynamodb
        .delete_item()
        .table_name(table)
        .set_key(Some(attendee_key(&recording.external_meeting_id, &recording.recording_id)))
        .send()
        .await;
    if let Err(e) = roster {
        tracing::error!(error = %StoreError::from_sdk("DeleteItem", e), "could not delete the recording bot's roster item");
    }
}

/// `RECORDINGS/YYYY/MM/DD/HH/<meeting>_<recordingId>_<YYYYMMDDTHHMMSS>_UTC.mp4`, the meeting id
/// reduced to `[A-Za-z0-9._-]` (a key the recorder, S3 and a playback URL carry without escaping).
pub fn file_name(external_meeting_id: &str, recording_id: &str, at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    let meeting: String =
        external_meeting_id.chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')).collect();
    format!(
        "RECORDINGS/{:04}/{:02}/{:02}/{:02}/{meeting}_{recording_id}_{:04}{:02}{:02}T{:02}{:02}{:02}_UTC.mp4",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
    )
}

/// `recordingLayout` of a recording whose recorder writes MP4 segments and a manifest.
pub const SEGMENTS_LAYOUT: &str = "SEGMENTS";
/// The highest segment number: names have 5 digits (`segment-00001.mp4`). It also bounds the gaps a
/// manifest can make the summary list.
pub const MAX_SEGMENT_NUMBER: u32 = 99_999;
/// A segment ends at most this long after its recording started: the recorder stops itself after
/// `RecordingMaxMinutes` (at most a day); twice that leaves room and refuses nonsense.
const MAX_SEGMENT_END_SECONDS: f64 = 2.0 * 86_400.0;

/// A segmented recording's own prefix: its file name without `.mp4`, and `/` (the recorder derives
/// the same from `RECORDING_FILE_NAME`).
pub fn segment_prefix(file_name: &str) -> String {
    format!("{}/", file_name.strip_suffix(".mp4").unwrap_or(file_name))
}

/// The key of segment `number` under `prefix`: `<prefix>segment-00001.mp4`.
pub fn segment_key(prefix: &str, number: u32) -> String {
    format!("{prefix}segment-{number:05}.mp4")
}

/// The key of a segmented recording's manifest, which the recorder rewrites after each segment.
pub fn manifest_key(file_name: &str) -> String {
    format!("{}manifest.json", segment_prefix(file_name))
}

/// A segment the manifest lists as stored, checked against the recording's prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub number: u32,
    pub key: String,
    /// From the recording's start.
    pub start: time::Duration,
    pub end: time::Duration,
}

/// A segment the manifest lists as stored that the summary will not link to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedSegment {
    pub number: u32,
    pub reason: &'static str,
}

/// When a segmented recording's times count from: the recorder's `startedAt` (its capture began once
/// its task ran and its page loaded, seconds after the item's `createdAt`), when it is plausible —
/// from a minute before `createdAt` (clocks differ a little) to a day after — else `createdAt`.
pub fn segments_start(created_at: OffsetDateTime, started_at: Option<OffsetDateTime>) -> OffsetDateTime {
    started_at
        .filter(|at| *at >= created_at - time::Duration::MINUTE && *at <= created_at + time::Duration::DAY)
        .unwrap_or(created_at)
}

/// What a recording's manifest says, as far as it can be trusted.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    /// When the recorder's capture began (`startedAt`, RFC 3339), which segment times count from.
    pub started_at: Option<OffsetDateTime>,
    /// The recorder finished and stored every segment (`state: complete`).
    pub complete: bool,
    /// Stored segments with the expected key under the recording's prefix, by number.
    pub segments: Vec<Segment>,
    /// Segment numbers that cannot be played: not stored, rejected, or absent from the numbering.
    pub missing: Vec<u32>,
    /// Listed as stored but refused (outside the prefix, bad numbers or times): the caller logs them.
    pub rejected: Vec<RejectedSegment>,
}

/// The manifest as the recorder writes it (`recorder/contract/manifest.example.json`); other fields
/// are ignored.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ManifestJson {
    #[serde(default)]
    started_at: Option<String>,
    #[serde(default)]
    state: Option<String>,
    segments: Vec<SegmentJson>,
    #[serde(default)]
    not_stored: Vec<NotStoredJson>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SegmentJson {
    number: u32,
    key: String,
    start_seconds: f64,
    end_seconds: f64,
}

#[derive(Debug, serde::Deserialize)]
struct NotStoredJson {
    number: u32,
}

/// Parses a recording's manifest. The recorder task writes it, so its keys are not trusted: a stored
/// segment is kept only when its key is exactly that segment's name under `prefix` (the recording's
/// own, from its item), so a summary never links to an object of another recording.
pub fn parse_manifest(bytes: &[u8], prefix: &str) -> Result<Manifest, serde_json::Error> {
    let manifest: ManifestJson = serde_json::from_slice(bytes)?;
    let mut segments: Vec<Segment> = Vec::new();
    let mut rejected = Vec::new();
    for listed in manifest.segments {
        let number = listed.number;
        let refused = if !(1..=MAX_SEGMENT_NUMBER).contains(&number) {
            Some("its number is out of range")
        } else if !listed.key.starts_with(prefix) {
            Some("its key is outside the recording's prefix")
        } else if listed.key != segment_key(prefix, number) {
            Some("its key is not the segment's name")
        } else if segments.iter().any(|s| s.number == number) {
            Some("its number is listed twice")
        } else {
            None
        };
        let times = offset(listed.start_seconds).zip(offset(listed.end_seconds)).filter(|(start, end)| start <= end);
        match (refused, times) {
            (None, Some((start, end))) => segments.push(Segment { number, key: listed.key, start, end }),
            (Some(reason), _) => rejected.push(RejectedSegment { number, reason }),
            (None, None) => rejected.push(RejectedSegment { number, reason: "its times are out of range" }),
        }
    }
    segments.sort_by_key(|s| s.number);

    let stored: std::collections::BTreeSet<u32> = segments.iter().map(|s| s.number).collect();
    let mut missing: std::collections::BTreeSet<u32> = manifest
        .not_stored
        .iter()
        .map(|n| n.number)
        .chain(rejected.iter().map(|r| r.number))
        .filter(|n| (1..=MAX_SEGMENT_NUMBER).contains(n) && !stored.contains(n))
        .collect();
    // A number below the highest one known that the manifest does not mention is missing too.
    let highest = stored.iter().chain(missing.iter()).max().copied().unwrap_or(0);
    missing.extend((1..highest).filter(|n| !stored.contains(n)));
    let started_at = manifest
        .started_at
        .and_then(|text| OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).ok());
    Ok(Manifest {
        started_at,
        complete: manifest.state.as_deref() == Some("complete"),
        segments,
        missing: missing.into_iter().collect(),
        rejected,
    })
}

/// A manifest's offset in seconds, to the millisecond (as timestamps are stored), when it is one a
/// recording can have.
fn offset(seconds: f64) -> Option<time::Duration> {
    let valid = seconds.is_finite() && (0.0..=MAX_SEGMENT_END_SECONDS).contains(&seconds);
    // In range, so the cast is exact: at most 172,800,000 ms.
    valid.then(|| time::Duration::milliseconds((seconds * 1000.0).round() as i64))
}

/// JSON with every non-ASCII character escaped (`\uXXXX`, surrogate pairs beyond the BMP): the
/// recorder passes the variables through a URL query, and ASCII survives every hop unchanged.
pub fn ascii_json<T: serde::Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let text = serde_json::to_string(value)?;
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
