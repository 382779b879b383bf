//! `start-recording` (`POST /recording`, body `{externalMeetingId, connectContactId?,
//! videoRecordingPlaybackURL?}`): the meeting's owner starts a recording; a bot attendee joins the
//! meeting from an ECS task and writes MP4 segments and their manifest to S3, under the prefix
//! `RECORDING_FILE_NAME` names (the recording's item says so: `recordingLayout = "SEGMENTS"`).
//!
//! Owner only (403; 404 for no meeting; 410 for an ended one). The token must carry
//! `custom:connectUserId` (400) and the agent's Connect user cache must be current (403): its
//! hierarchy placement is stored with the recording, and playback is authorised against it.
//! Then, in order:
//! 1. the lock and the `STARTING` recording item in one transaction: a second recording of the same
//!    meeting while one is in progress is a 409;
//! 2. Chime `CreateAttendee` for the bot (ExternalUserId = the recording id);
//! 3. ECS `RunTask` (EC2, one task, `startedBy Recording-<id>`, the recorder's environment contract as
//!    a container override);
//! 4. in one transaction, the bot's roster item, named `RECORDING_ATTENDEE_NAME` (the agent-app
//!    recognises the bot by that name), and the task ARN and bot id on the recording, unless a stop
//!    ended it meanwhile (409);
//! 5. at the same time as 4, on the meeting's first recording, with a contact id and a playback URL,
//!    Connect `UpdateContactAttributes(videoRecordingPlaybackURL)`, the value it had read first.
//!
//! Supervisors open that attribute, so it must not be plantable: before anything is written the contact
//! must be one the caller is handling (Connect `DescribeContact`: its agent is the caller's Connect user;
//! an unknown contact is a 400 and another agent's a 403, both naming `connectContactId`), and the URL
//! must be under the agent-app's own URL (`AGENT_APP_URL`; without it no URL is set).
//!
//! A failure after step 1, or steps that would not finish while the invocation still has time for the
//! undo, undoes everything done so far, in reverse (the attribute's previous value put back, task
//! stopped, bot and roster item deleted, recording item and lock deleted) and answers 502: nothing
//! runs, joins or stays locked. A task the undo cannot stop keeps its recording item and the lock, with
//! the task's ARN: a stop, or the meeting's end, stops it then.
//! Data: `{recordingId, message}` (the original's message).

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use aws_sdk_ecs::types::LaunchType;
use aws_smithy_types::error::display::DisplayErrorContext;
use base64::Engine;
use lambda_http::Request;
use serde::Deserialize;

use super::{
    ascii_json, file_name, lock_key, placed_task, recorder_override, recording_key, recordings, release_lock,
    started_by, RecordingCluster, RecordingRecord, LOCK_TTL,
};
use crate::shared::{
    connect_user::cached_user,
    meeting::{
        check_external_id, chime_client, chime_error, owned_meeting, random_uuid, AttendeeJson, AttendeeRecord,
        AttendeeRole, MeetingRecord,
    },
};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        connect_api::{instance_id, is_connect_id},
        store::{self, StoreError},
        time::{rfc3339, Clock, SystemClock},
    },
};

/// The contact attribute the supervisors' playback link lives in.
pub const PLAYBACK_URL_ATTRIBUTE: &str = "videoRecordingPlaybackURL";
/// Connect's limit on a contact attribute value.
const MAX_ATTRIBUTE_VALUE: usize = 32_768;

pub struct StartRecording {
    pub chime: aws_sdk_chimesdkmeetings::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub connect: aws_sdk_connect::Client,
    pub cluster: RecordingCluster,
    pub table: String,
    pub instance_id: String,
    pub task_definition: String,
    pub container_name: String,
    pub bucket: String,
    pub attendee_name: String,
    pub screen: (u32, u32),
    /// The agent-app's own URL: playback URLs must be under it.
    pub agent_app_url: Option<url::Url>,
    pub clock: Arc<dyn Clock>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartRecordingBody {
    external_meeting_id: String,
    #[serde(default)]
    connect_contact_id: Option<String>,
    #[serde(default, rename = "videoRecordingPlaybackURL")]
    video_recording_playback_url: Option<String>,
}

/// What the undo is left of the invocation: one whole SDK operation (`aws::http_timeouts`, its
/// retries included) for its first and decisive step, `StopTask` (a task it cannot stop keeps its
/// item), and 2 s for the rest, which are quick when DynamoDB, Chime and Connect answer at all.
fn undo_reserve() -> std::time::Duration {
    crate::platform::aws::http_timeouts().operation_timeout().unwrap_or(std::time::Duration::from_secs(10))
        + std::time::Duration::from_secs(2)
}

/// The time left in this invocation (15 s, the template's timeout, without a Lambda context).
fn time_left(request: &Request) -> std::time::Duration {
    use lambda_http::RequestExt;
    match request.lambda_context_ref().map(|c| c.deadline) {
        Some(deadline_ms) if deadline_ms > 0 => crate::platform::deadline::until_epoch_ms(deadline_ms),
        _ => std::time::Duration::from_secs(15),
    }
}

/// What a start has done so far, for the undo.
#[derive(Default)]
struct Started {
    bot: Option<AttendeeJson>,
    task_arn: Option<String>,
    /// The contact whose playback URL this start wrote (or may have written: an answer can be lost)
    /// and the value it had before.
    playback: Option<(String, Option<String>)>,
}

/// The contact a playback URL goes onto: its initial contact id (Connect keeps attributes there).
struct PlaybackTarget<'a> {
    initial_contact_id: String,
    url: &'a str,
}

impl StartRecording {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            chime: chime_client(sdk, env)?,
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            connect: aws_sdk_connect::Client::new(sdk),
            cluster: RecordingCluster { ecs: aws_sdk_ecs::Client::new(sdk), cluster: env.string("RECORDING_CLUSTER")? },
            table: env.string("VIDEO_TABLE")?,
            instance_id: instance_id(env)?,
            task_definition: env.string("RECORDING_TASK_DEFINITION")?,
            container_name: env.string("RECORDING_CONTAINER_NAME")?,
            bucket: env.string("RECORDING_BUCKET")?,
            attendee_name: env.optional_string("RECORDING_ATTENDEE_NAME")?.unwrap_or_else(|| "RECORDING".into()),
            screen: (
                screen_side(env, "RECORDING_SCREEN_WIDTH", 1920, 320..=3840)?,
                screen_side(env, "RECORDING_SCREEN_HEIGHT", 1080, 240..=2160)?,
            ),
            agent_app_url: agent_app_url(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let username = claims.require("cognito:username")?;
        let connect_user_id = crate::shared::connect_user::connect_user_id(&claims)?;
        let body: StartRecordingBody = json_body(&request)?;
        check_external_id("externalMeetingId", &body.external_meeting_id)?;
        let playback =
            playback_target(body.connect_contact_id.as_deref(), body.video_recording_playback_url.as_deref())?;
        let playback = match playback {
            Some((contact_id, url)) => self.under_agent_app(url)?.map(|url| (contact_id, url)),
            None => None,
        };
        let now = self.clock.now();
        // Four independent reads at once; their answers are judged in this order (404/403 for the
        // meeting before 403 for the cache, then the contact), whichever came first.
        let contact = async {
            match playback {
                Some((contact_id, url)) => self
                    .handled_contact(contact_id, connect_user_id)
                    .await
                    .map(|initial| Some(PlaybackTarget { initial_contact_id: initial, url })),
                None => Ok(None),
            }
        };
        let (meeting, owner, earlier, contact) = tokio::join!(
            owned_meeting(&self.dynamodb, &self.table, &body.external_meeting_id, username, now),
            cached_user(&self.dynamodb, &self.table, connect_user_id, now),
            recordings(&self.dynamodb, &self.table, &body.external_meeting_id, now),
            contact,
        );
        let meeting = meeting?;
        if meeting.ended_at.is_some() {
            return Err(ApiError::gone("the meeting has ended"));
        }
        let owner = owner?;
        let earlier = earlier.map_err(ApiError::dependency)?;
        let playback = contact?;

        let recording_id = random_uuid();
        let record = RecordingRecord {
            recording_id: recording_id.clone(),
            external_meeting_id: meeting.external_meeting_id.clone(),
            chime_meeting_id: meeting.chime.meeting_id.clone(),
            owner_username: username.to_owned(),
            owner_group: owner.group,
            bucket: self.bucket.clone(),
            file_name: file_name(&meeting.external_meeting_id, &recording_id, now),
            created_at: rfc3339(now),
            task_arn: None,
            bot_attendee_id: None,
            ended_at: None,
            segmented: true,
        };
        self.lock(&record, now).await?;

        let mut started = Started::default();
        let first = earlier.is_empty();
        // The steps stop in time to leave the undo its share of the invocation: a function that
        // Lambda ends mid-start would leave a bot, a task or the lock behind.
        let for_steps = time_left(&request).saturating_sub(undo_reserve());
        let steps = self.start(&meeting, &record, playback.filter(|_| first), &mut started, now);
        let outcome = tokio::time::timeout(for_steps, steps)
            .await
            .unwrap_or_else(|_| Err(ApiError::dependency("the recording's steps did not finish in time")));
        match outcome {
            Ok(()) => {
                tracing::info!(recording_id, "recording started");
                let data = serde_json::json!({"recordingId": recording_id, "message": "Start recording initiated"});
                Reply::new("Recording started", &data)
            }
            Err(failure) => {
                self.undo(&record, started).await;
                Err(failure)
            }
        }
    }

    /// The lock and the recording item, together: a 409 when another recording holds the lock. A
    /// lock whose recording is over (ended, or undone) is stale: a stop or an undo that failed between
    /// its writes left it, and it is taken over rather than blocking the meeting until its `ttl`.
    async fn lock(&self, record: &RecordingRecord, now: time::OffsetDateTime) -> Result<(), ApiError> {
        let mut holder = None;
        for attempt in 0..3 {
            let written = self.write_lock(record, holder.as_deref(), now).await?;
            match written {
                Ok(()) => return Ok(()),
                // Another request wrote the lock at that moment: try again as it is.
                Err(e) if store::is_transaction_conflict(&e) && attempt < 2 => continue,
                Err(e) if store::is_transaction_race_lost(&e) => {
                    match self.stale_lock(&record.external_meeting_id, now).await? {
                        Some(stale) if holder.as_deref() != Some(stale.as_str()) => {
                            tracing::warn!(stale_recording_id = stale, "taking over a stale recording lock");
                            holder = Some(stale);
                        }
                        _ => return Err(ApiError::conflict("a recording of this meeting is already in progress")),
                    }
                }
                Err(e) => return Err(ApiError::dependency(StoreError::from_sdk("TransactWriteItems", e))),
            }
        }
        Err(ApiError::conflict("a recording of this meeting is already in progress"))
    }

    /// One try of the lock's transaction: on a free lock, or over the stale lock of `holder`.
    async fn write_lock(
        &self,
        record: &RecordingRecord,
        holder: Option<&str>,
        now: time::OffsetDateTime,
    ) -> Result<Result<(), store::TransactionError>, ApiError> {
        let mut lock = lock_key(&record.external_meeting_id);
        lock.insert("recordingId".into(), store::s(&record.recording_id));
        lock.insert("ttl".into(), store::ttl(now + LOCK_TTL));
        let lock = Put::builder().table_name(&self.table).set_item(Some(lock));
        let lock = match holder {
            Some(stale) => {
                lock.condition_expression("recordingId = :stale").expression_attribute_values(":stale", store::s(stale))
            }
            // A lock past its ttl is absent (DynamoDB deletes lazily): a crash cannot block a meeting forever.
            None => lock
                .condition_expression("attribute_not_exists(pk) OR #ttl <= :now")
                .expression_attribute_names("#ttl", "ttl")
                .expression_attribute_values(":now", store::n(now.unix_timestamp())),
        };
        let item = Put::builder()
            .table_name(&self.table)
            .set_item(Some(record.to_item(now)))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(ApiError::dependency)?;
        Ok(self
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(lock.build().map_err(ApiError::dependency)?).build())
            .transact_items(TransactWriteItem::builder().put(item).build())
            .send()
            .await
            .map(|_| ()))
    }

    /// The recording id of the meeting's lock when that recording is over (its item ended or gone).
    async fn stale_lock(
        &self,
        external_meeting_id: &str,
        now: time::OffsetDateTime,
    ) -> Result<Option<String>, ApiError> {
        let lock = store::get_item(&self.dynamodb, &self.table, lock_key(external_meeting_id))
            .await
            .map_err(ApiError::dependency)?;
        let Some(holder) = store::live(lock, now).and_then(|l| store::get_str(&l, "recordingId").map(str::to_owned))
        else {
            return Ok(None);
        };
        let item = store::get_item(&self.dynamodb, &self.table, recording_key(external_meeting_id, &holder))
            .await
            .map_err(ApiError::dependency)?;
        let over = item.is_none_or(|item| store::get_str(&item, "endedAt").is_some());
        Ok(over.then_some(holder))
    }

    /// The playback URL when it is under the agent-app's URL (a 400 naming it otherwise); `None`
    /// when no agent-app URL is configured: nothing says which URLs are the agent-app's own.
    fn under_agent_app<'a>(&self, url: &'a str) -> Result<Option<&'a str>, ApiError> {
        let Some(base) = &self.agent_app_url else {
            tracing::warn!("no AGENT_APP_URL: the contact's playback URL is not set");
            return Ok(None);
        };
        let parsed = url::Url::parse(url).map_err(|_| not_the_agent_apps())?;
        let same_origin = parsed.origin() == base.origin();
        let base_path = base.path().trim_end_matches('/');
        let under_path = parsed.path() == base_path || parsed.path().starts_with(&format!("{base_path}/"));
        if same_origin && under_path && parsed.username().is_empty() && parsed.password().is_none() {
            Ok(Some(url))
        } else {
            Err(not_the_agent_apps())
        }
    }

    /// The initial contact id of `contact_id` when the caller's Connect user is its agent: a
    /// supervisor trusts what is set on a contact, so an owner may set it only on their own.
    async fn handled_contact(&self, contact_id: &str, connect_user_id: &str) -> Result<String, ApiError> {
        let described =
            self.connect.describe_contact().instance_id(&self.instance_id).contact_id(contact_id).send().await;
        let described = match described {
            Ok(described) => described,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                return Err(ApiError::bad_field("connectContactId", "is not a contact of this instance"))
            }
            Err(e) => return Err(ApiError::dependency(DisplayErrorContext(&e))),
        };
        let contact = described.contact().ok_or_else(|| ApiError::dependency("Connect described no contact"))?;
        let agent = contact.agent_info().and_then(|a| a.id());
        if agent != Some(connect_user_id) {
            return Err(ApiError::forbidden("connectContactId: is not a contact you are handling"));
        }
        let initial = contact.initial_contact_id().or(contact.id()).unwrap_or(contact_id);
        Ok(initial.to_owned())
    }

    /// Steps 2 to 5; `started` records what exists, for the undo.
    async fn start(
        &self,
        meeting: &MeetingRecord,
        record: &RecordingRecord,
        playback: Option<PlaybackTarget<'_>>,
        started: &mut Started,
        now: time::OffsetDateTime,
    ) -> Result<(), ApiError> {
        let created = self
            .chime
            .create_attendee()
            .meeting_id(&meeting.chime.meeting_id)
            .external_user_id(&record.recording_id)
            .send()
            .await
            .map_err(|e| chime_error(e, "externalMeetingId", || ApiError::gone("the meeting has ended")))?;
        let bot = AttendeeJson::from_chime(
            created.attendee().ok_or_else(|| ApiError::dependency("Chime returned no attendee"))?,
        )?;
        started.bot = Some(bot.clone());

        let task_arn = self.run_task(meeting, record, &bot).await?;
        started.task_arn = Some(task_arn.clone());

        // The bot's roster item (the agent-app names the bot by it when it joins, seconds later, once
        // its task runs) and the task on the recording, together; unless a stop that came while this
        // start was under way ended the item (it found no task yet): then this recording must not run
        // on, unseen by every later stop.
        let roster = AttendeeRecord {
            name: self.attendee_name.clone(),
            email: None,
            role: Some(AttendeeRole::Recorder),
            chime_meeting_id: meeting.chime.meeting_id.clone(),
            chime: bot.clone(),
        };
        let roster = Put::builder()
            .table_name(&self.table)
            .set_item(Some(roster.to_item(&meeting.external_meeting_id, now)))
            .build()
            .map_err(ApiError::dependency)?;
        let running = Update::builder()
            .table_name(&self.table)
            .set_key(Some(recording_key(&record.external_meeting_id, &record.recording_id)))
            .update_expression("SET taskArn = :taskArn, botAttendeeId = :botAttendeeId")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(endedAt)")
            .expression_attribute_values(":taskArn", store::s(&task_arn))
            .expression_attribute_values(":botAttendeeId", store::s(&bot.attendee_id))
            .build()
            .map_err(ApiError::dependency)?;
        let stored = self
            .dynamodb
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(roster).build())
            .transact_items(TransactWriteItem::builder().update(running).build())
            .send();
        // The playback URL at the same time: either failing undoes the whole start. The value it
        // replaces is read first, for the undo to put back.
        let attributed = async {
            let Some(target) = playback else {
                return Ok(());
            };
            let previous = self
                .connect
                .get_contact_attributes()
                .instance_id(&self.instance_id)
                .initial_contact_id(&target.initial_contact_id)
                .send()
                .await
                .map_err(|e| ApiError::dependency(DisplayErrorContext(&e)))?
                .attributes()
                .and_then(|a| a.get(PLAYBACK_URL_ATTRIBUTE).cloned());
            // Even a failed write may have landed (its answer lost): the undo puts the value back.
            started.playback = Some((target.initial_contact_id.clone(), previous));
            self.set_playback_url(&target.initial_contact_id, target.url).await
        };
        let (stored, attributed) = tokio::join!(stored, attributed);
        match stored {
            Ok(_) => {}
            Err(e) if store::is_transaction_race_lost(&e) => {
                return Err(ApiError::conflict("the recording was stopped while it was starting"))
            }
            Err(e) => return Err(ApiError::dependency(StoreError::from_sdk("TransactWriteItems", e))),
        }
        attributed
    }

    async fn set_playback_url(&self, initial_contact_id: &str, url: &str) -> Result<(), ApiError> {
        self.connect
            .update_contact_attributes()
            .instance_id(&self.instance_id)
            .initial_contact_id(initial_contact_id)
            .attributes(PLAYBACK_URL_ATTRIBUTE, url)
            .send()
            .await
            .map(|_| tracing::info!("the contact's playback URL was set"))
            .map_err(|e| ApiError::dependency(DisplayErrorContext(&e)))
    }

    /// ECS `RunTask` with the recorder's environment contract; the task's ARN.
    async fn run_task(
        &self,
        meeting: &MeetingRecord,
        record: &RecordingRecord,
        bot: &AttendeeJson,
    ) -> Result<String, ApiError> {
        let environment = recorder_environment(meeting, record, bot, self.screen)?;
        let ran = self
            .cluster
            .ecs
            .run_task()
            .cluster(&self.cluster.cluster)
            .task_definition(&self.task_definition)
            .launch_type(LaunchType::Ec2)
            .count(1)
            .started_by(started_by(&record.recording_id))
            .overrides(recorder_override(&self.container_name, environment))
            .send()
            .await
            .map_err(|e| ApiError::dependency(DisplayErrorContext(&e)))?;
        placed_task("RunTask", ran.tasks(), ran.failures()).map_err(ApiError::dependency)
    }

    /// The undo could not stop the task: the recording item and the lock stay (the recording is in
    /// progress as far as anyone can tell), with the task and the bot on the item, so the owner's stop
    /// or the meeting's end stops the task and removes the bot. Deleting them would orphan the task.
    async fn keep_for_a_stop(&self, record: &RecordingRecord, task: &str, bot: Option<&AttendeeJson>) {
        let update = self
            .dynamodb
            .update_item()
            .table_name(&self.table)
            .set_key(Some(recording_key(&record.external_meeting_id, &record.recording_id)))
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(endedAt)")
            .expression_attribute_values(":taskArn", store::s(task));
        let update = match bot {
            Some(bot) => update
                .update_expression("SET taskArn = :taskArn, botAttendeeId = :botAttendeeId")
                .expression_attribute_values(":botAttendeeId", store::s(&bot.attendee_id)),
            None => update.update_expression("SET taskArn = :taskArn"),
        };
        if let Err(e) = store::conditional("UpdateItem", update.send().await) {
            tracing::error!(error = %e, "undo: the running task could not be stored on its recording");
        }
        tracing::error!(
            recording_id = record.recording_id,
            task,
            "a recording that could not start kept its task running; it stays in progress for a stop"
        );
    }

    /// Undoes a failed start, in reverse; each step is attempted and a failure logged, so one failing
    /// undo does not leave the later ones undone.
    async fn undo(&self, record: &RecordingRecord, started: Started) {
        if let Some((contact, previous)) = &started.playback {
            // Connect cannot delete an attribute: one that had no value gets an empty one.
            if let Err(e) = self.set_playback_url(contact, previous.as_deref().unwrap_or("")).await {
                tracing::error!(error = %e.message, "undo: the contact's previous playback URL could not be put back");
            }
        }
        if let Some(task) = &started.task_arn {
            if let Err(e) = self.cluster.stop_task(task, "The recording could not start").await {
                tracing::error!(error = %e, "undo: the recording task could not be stopped");
                self.keep_for_a_stop(record, task, started.bot.as_ref()).await;
                return;
            }
        }
        if let Some(bot) = &started.bot {
            super::remove_bot(&self.chime, &self.dynamodb, &self.table, record, Some(&bot.attendee_id)).await;
        }
        let deleted = self
            .dynamodb
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(recording_key(&record.external_meeting_id, &record.recording_id)))
            .send()
            .await;
        if let Err(e) = deleted {
            tracing::error!(error = %StoreError::from_sdk("DeleteItem", e), "undo: the recording item could not be deleted");
        }
        if let Err(e) =
            release_lock(&self.dynamodb, &self.table, &record.external_meeting_id, &record.recording_id).await
        {
            tracing::error!(error = %e, "undo: the recording lock could not be released");
        }
        tracing::warn!(recording_id = record.recording_id, "a recording that could not start was undone");
    }
}

fn not_the_agent_apps() -> ApiError {
    ApiError::bad_field("videoRecordingPlaybackURL", "must be a URL of the agent-app (AgentAppUrl)")
}

/// `AGENT_APP_URL`: an absolute http(s) URL, or absent.
fn agent_app_url(env: &Settings) -> Result<Option<url::Url>, ConfigError> {
    let Some(raw) = env.optional_string("AGENT_APP_URL")? else {
        return Ok(None);
    };
    let parsed = url::Url::parse(&raw).ok().filter(|u| matches!(u.scheme(), "https" | "http") && u.has_host());
    parsed.map(Some).ok_or_else(|| ConfigError::Malformed {
        name: "AGENT_APP_URL".into(),
        reason: "must be an absolute http(s) URL".into(),
    })
}

/// A side of the recorded screen: even (the encoder's 4:2:0 chroma needs it; `recorder/lib/env.mjs`
/// refuses odd sizes, so an odd one would fail every recording) and within what a display can be.
fn screen_side(
    env: &Settings,
    name: &str,
    default: u32,
    bounds: std::ops::RangeInclusive<u32>,
) -> Result<u32, ConfigError> {
    let side = env.number(name, default, bounds)?;
    if side % 2 != 0 {
        return Err(ConfigError::Malformed {
            name: name.into(),
            reason: format!("{side} is odd; the encoder needs even sizes"),
        });
    }
    Ok(side)
}

/// The contact to give the playback URL to, when both fields are there; a contact id without a URL, a
/// contact id that is no Connect id, or a URL that is not http(s), is a 400 naming it.
fn playback_target<'a>(
    contact_id: Option<&'a str>,
    url: Option<&'a str>,
) -> Result<Option<(&'a str, &'a str)>, ApiError> {
    let contact_id = contact_id.map(str::trim).filter(|id| !id.is_empty());
    let url = url.map(str::trim).filter(|u| !u.is_empty());
    match (contact_id, url) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(ApiError::bad_field("videoRecordingPlaybackURL", "is required with connectContactId")),
        // The agent-app sends the URL always and the contact id when it has one (a meeting started
        // outside a contact has none): nothing to set then.
        (None, Some(_)) => Ok(None),
        (Some(contact_id), Some(url)) => {
            if !is_connect_id(contact_id) {
                return Err(ApiError::bad_field("connectContactId", "must be a Connect contact id (a UUID)"));
            }
            let parsed = url::Url::parse(url).ok().filter(|u| matches!(u.scheme(), "https" | "http"));
            if parsed.is_none() || url.len() > MAX_ATTRIBUTE_VALUE {
                return Err(ApiError::bad_field("videoRecordingPlaybackURL", "must be an http(s) URL"));
            }
            Ok(Some((contact_id, url)))
        }
    }
}

/// The recorder's environment (spec "Recording"; `recorder/lib/env.mjs` reads it): the meeting and
/// the bot's attendee as standard base64 of their bare PascalCase JSON, ASCII only.
pub fn recorder_environment(
    meeting: &MeetingRecord,
    record: &RecordingRecord,
    bot: &AttendeeJson,
    (width, height): (u32, u32),
) -> Result<Vec<(String, String)>, ApiError> {
    let encode = |json: Result<String, serde_json::Error>| {
        json.map(|text| base64::engine::general_purpose::STANDARD.encode(text)).map_err(ApiError::dependency)
    };
    Ok(vec![
        ("TASK_TYPE".into(), "RECORDING".into()),
        ("CHIME_MEETING_DATA".into(), encode(ascii_json(&meeting.chime))?),
        ("CHIME_ATTENDEE_DATA".into(), encode(ascii_json(bot))?),
        ("RECORDING_BUCKET_NAME".into(), record.bucket.clone()),
        // The name the contract has always had; the recorder writes under its prefix (`segment_prefix`).
        ("RECORDING_FILE_NAME".into(), record.file_name.clone()),
        ("RECORDING_SCREEN_WIDTH".into(), width.to_string()),
        ("RECORDING_SCREEN_HEIGHT".into(), height.to_string()),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_playback_target_needs_both_fields_or_neither() {
        let contact = "8f3e0d4a-1b2c-4d5e-8f90-a1b2c3d4e5f6";
        assert_eq!(playback_target(None, None).unwrap(), None);
        assert_eq!(playback_target(Some(" "), Some("")).unwrap(), None);
        assert_eq!(
            playback_target(Some(contact), Some("https://app.example/p?m=1")).unwrap(),
            Some((contact, "https://app.example/p?m=1"))
        );
        let field = |e: ApiError| e.message.split(':').next().unwrap().to_owned();
        assert_eq!(field(playback_target(Some(contact), None).unwrap_err()), "videoRecordingPlaybackURL");
        assert_eq!(playback_target(None, Some("https://x")).unwrap(), None, "no contact: nothing to set");
        assert_eq!(field(playback_target(Some("42"), Some("https://x")).unwrap_err()), "connectContactId");
        assert_eq!(
            field(playback_target(Some(contact), Some("javascript:alert(1)")).unwrap_err()),
            "videoRecordingPlaybackURL"
        );
    }
}
