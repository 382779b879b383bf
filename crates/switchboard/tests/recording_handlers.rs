//! Stopping a recording and releasing its lock, against the local cloud's DynamoDB with ECS mocked.
//! Each test makes a race that one of the stop's DynamoDB conditions guards happen for certain: the
//! table changes while ECS is being called, between the stop's read and its write, as a concurrent
//! start or stop would change it (tools/conditions.py removes each condition and expects a failure).

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc, Mutex,
};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_ecs::{
    operation::{
        list_tasks::ListTasksOutput,
        run_task::RunTaskOutput,
        stop_task::{StopTaskError, StopTaskOutput},
    },
    types::{error::ServerException, Task},
};
use aws_smithy_mocks::{mock, mock_client, RuleMode};
use switchboard::{
    platform::{
        store,
        time::{rfc3339, ManualClock},
    },
    recording::{
        lock_key, recording_key, recordings, release_lock, RecordingCluster, RecordingRecord, StartRecording,
        StopCounts, Stopper,
    },
    shared::connect_user::user_cache_key,
    video::CreateMeeting,
};
use switchboard_local::{cloud::LocalCloud, fixture::Fixture};
use time::{macros::datetime, OffsetDateTime};

mod support;

const MEETING: &str = "case-1";
const NOW: OffsetDateTime = datetime!(2026-12-06 09:00 UTC);
/// What another stop wrote as `endedAt` while this one was stopping the task.
const OTHER_STOP: &str = "2026-12-06T08:59:59Z";

struct VideoTable {
    dynamodb: aws_sdk_dynamodb::Client,
    name: String,
    cloud: LocalCloud,
}

impl VideoTable {
    async fn start() -> Self {
        let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
        let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
        Self { dynamodb, name: cloud.fixture.video.table_name.clone(), cloud }
    }

    /// A recording in progress (`task_arn`: the task its start stored, if it got that far).
    async fn put_recording(&self, task_arn: Option<&str>) -> RecordingRecord {
        let recording = RecordingRecord {
            recording_id: "rec-1".into(),
            external_meeting_id: MEETING.into(),
            chime_meeting_id: "chime-1".into(),
            owner_username: "alice@example.com".into(),
            owner_group: None,
            bucket: "recordings".into(),
            file_name: "case-1_rec-1.mp4".into(),
            created_at: rfc3339(NOW),
            task_arn: None,
            bot_attendee_id: None,
            ended_at: None,
            segmented: true,
        };
        let mut item = recording.to_item(NOW);
        if let Some(task) = task_arn {
            item.insert("taskArn".into(), store::s(task));
        }
        self.dynamodb.put_item().table_name(&self.name).set_item(Some(item)).send().await.unwrap();
        recording
    }

    async fn recording_item(&self) -> Option<store::Item> {
        let key = recording_key(MEETING, "rec-1");
        self.dynamodb.get_item().table_name(&self.name).set_key(Some(key)).send().await.unwrap().item
    }

    async fn stop(&self, ecs: aws_sdk_ecs::Client) -> StopCounts {
        let cluster = RecordingCluster { ecs, cluster: "recording".into() };
        let stopper = Stopper {
            dynamodb: &self.dynamodb,
            table: &self.name,
            cluster: &cluster,
            chime: None,
            chime_meeting_id: None,
            reason: "test",
        };
        stopper.stop_meeting(MEETING, NOW).await.unwrap()
    }
}

/// Runs `change` against the table to completion, from inside a mocked ECS answer (computed
/// synchronously within the call the stop is awaiting), once: the concurrent writer's move.
fn meanwhile_once<F, Fut>(table: &VideoTable, change: F) -> impl Fn() + Send + Sync + 'static
where
    F: Fn(aws_sdk_dynamodb::Client, String) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let (dynamodb, name) = (table.dynamodb.clone(), table.name.clone());
    let done = AtomicBool::new(false);
    move || {
        if !done.swap(true, Ordering::SeqCst) {
            support::block_on_inside(change(dynamodb.clone(), name.clone()));
        }
    }
}

async fn set_ended_by_another_stop(dynamodb: aws_sdk_dynamodb::Client, table: String) {
    set_on_rec_1(dynamodb, table, "endedAt", OTHER_STOP).await;
}

/// Sets `attribute` of recording rec-1's item, as a concurrent writer would.
async fn set_on_rec_1(dynamodb: aws_sdk_dynamodb::Client, table: String, attribute: &str, value: &str) {
    let update = dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(recording_key(MEETING, "rec-1")))
        .update_expression("SET #attribute = :value")
        .expression_attribute_names("#attribute", attribute)
        .expression_attribute_values(":value", store::s(value));
    update.send().await.unwrap();
}

/// The ECS task ARNs a mocked `StopTask` was asked to stop.
type Stopped = Arc<Mutex<Vec<String>>>;

fn stop_task_rule(stopped: &Stopped, meanwhile: impl Fn() + Send + Sync + 'static) -> aws_smithy_mocks::Rule {
    let stopped = stopped.clone();
    mock!(aws_sdk_ecs::Client::stop_task)
        .match_requests(move |input| {
            stopped.lock().unwrap().push(input.task().unwrap_or_default().to_owned());
            true
        })
        .then_output(move || {
            meanwhile();
            StopTaskOutput::builder().build()
        })
}

/// `ListTasks` by `startedBy` answers `arns`, after `meanwhile` ran.
fn list_tasks_rule(
    arns: &'static [&'static str],
    meanwhile: impl Fn() + Send + Sync + 'static,
) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_ecs::Client::list_tasks).then_output(move || {
        meanwhile();
        ListTasksOutput::builder().set_task_arns(Some(arns.iter().map(|arn| (*arn).to_owned()).collect())).build()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_another_stop_ended_meanwhile_is_not_ended_again() {
    let table = VideoTable::start().await;
    table.put_recording(Some("task-1")).await;
    let stopped = Stopped::default();
    let stop_task = stop_task_rule(&stopped, meanwhile_once(&table, set_ended_by_another_stop));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&stop_task]);

    let counts = table.stop(ecs).await;

    assert_eq!(*stopped.lock().unwrap(), ["task-1"]);
    assert_eq!(counts.recordings_stopped, 0, "the other stop ended it, and counted it");
    let item = table.recording_item().await.unwrap();
    assert_eq!(item["endedAt"], store::s(OTHER_STOP), "the first end is the one kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_found_by_started_by_does_not_end_a_recording_another_stop_ended_meanwhile() {
    let table = VideoTable::start().await;
    table.put_recording(None).await;
    let meanwhile = meanwhile_once(&table, set_ended_by_another_stop);
    let list_tasks = list_tasks_rule(&["task-9"], meanwhile);
    let stopped = Stopped::default();
    let stop_task = stop_task_rule(&stopped, || {});
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list_tasks, &stop_task]);

    let counts = table.stop(ecs).await;

    assert_eq!(*stopped.lock().unwrap(), ["task-9"], "the task its startedBy names is stopped");
    assert_eq!(counts.recordings_stopped, 0);
    let item = table.recording_item().await.unwrap();
    assert_eq!(item["endedAt"], store::s(OTHER_STOP));
    assert!(!item.contains_key("taskArn"), "an ended recording is not given a task afterwards");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_a_start_stores_while_the_stop_looks_for_none_is_stopped_before_the_recording_ends() {
    let table = VideoTable::start().await;
    table.put_recording(None).await;
    // The start's RunTask answered after the stop read the item: the task is stored meanwhile.
    let meanwhile = meanwhile_once(&table, |dynamodb, name| set_on_rec_1(dynamodb, name, "taskArn", "task-7"));
    let list_tasks = list_tasks_rule(&[], meanwhile);
    let stopped = Stopped::default();
    let stop_task = stop_task_rule(&stopped, || {});
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&list_tasks, &stop_task]);

    let counts = table.stop(ecs).await;

    assert_eq!(*stopped.lock().unwrap(), ["task-7"], "the task stored meanwhile is stopped, not left recording");
    assert_eq!(counts.recordings_stopped, 1);
    let item = table.recording_item().await.unwrap();
    assert_eq!(item["taskArn"], store::s("task-7"));
    assert_eq!(item["endedAt"], store::s(rfc3339(NOW)));
}

#[tokio::test]
async fn a_stop_releases_the_lock_only_while_it_names_its_recording() {
    let table = VideoTable::start().await;
    let mut lock = lock_key(MEETING);
    lock.insert("recordingId".into(), store::s("rec-2"));
    lock.insert("ttl".into(), store::ttl(NOW + time::Duration::hours(25)));
    table.dynamodb.put_item().table_name(&table.name).set_item(Some(lock)).send().await.unwrap();
    let read_lock = || async {
        let key = lock_key(MEETING);
        table.dynamodb.get_item().table_name(&table.name).set_key(Some(key)).send().await.unwrap().item
    };

    // A stop of rec-1 finishing after rec-2's start took the lock over.
    release_lock(&table.dynamodb, &table.name, MEETING, "rec-1").await.unwrap();
    let held = read_lock().await.expect("rec-2's lock is not released by rec-1's stop");
    assert_eq!(held["recordingId"], AttributeValue::S("rec-2".into()));

    release_lock(&table.dynamodb, &table.name, MEETING, "rec-2").await.unwrap();
    assert!(read_lock().await.is_none(), "its own recording's stop releases it");
}

/// Alice, an agent with a Connect user id, who owns the meeting `case-1`.
const ALICE: &[(&str, &str)] = &[
    ("cognito:username", "u-alice"),
    ("email", "alice@example.com"),
    ("email_verified", "true"),
    ("custom:connectUserId", "3f2504e0-4f89-41d3-9a0c-0305e82c3301"),
];
const TASK: &str = "arn:aws:ecs:ap-southeast-2:123456789012:task/recording/0f3c1d2e";

/// A meeting Alice owns (through `create-meeting`, against the emulator's Chime), her Connect user
/// cached, and a `start-recording` handler whose ECS is `ecs`.
async fn alices_meeting(ecs: aws_sdk_ecs::Client) -> (VideoTable, StartRecording) {
    let table = VideoTable::start().await;
    let sdk = table.cloud.sdk_config().await;
    let emulator = table.cloud.emulator.endpoint();
    let chime = aws_sdk_chimesdkmeetings::Client::from_conf(
        aws_sdk_chimesdkmeetings::config::Builder::from(&sdk).endpoint_url(&emulator).build(),
    );
    let clock = Arc::new(ManualClock::new(NOW));
    let mut cache = user_cache_key(ALICE[3].1);
    cache.insert("ttl".into(), store::ttl(NOW + time::Duration::hours(12)));
    table.dynamodb.put_item().table_name(&table.name).set_item(Some(cache)).send().await.unwrap();
    let start = StartRecording {
        chime,
        dynamodb: table.dynamodb.clone(),
        connect: aws_sdk_connect::Client::from_conf(
            aws_sdk_connect::config::Builder::from(&sdk).endpoint_url(&emulator).build(),
        ),
        cluster: RecordingCluster { ecs, cluster: "recording".into() },
        table: table.name.clone(),
        instance_id: table.cloud.fixture.connect.instance_id.clone(),
        task_definition: "recorder".into(),
        container_name: "recorder".into(),
        bucket: "recordings".into(),
        attendee_name: "RECORDING".into(),
        screen: (1920, 1080),
        agent_app_url: None,
        clock,
    };
    create_alices_meeting(&table, &start, MEETING).await;
    (table, start)
}

/// Alice creates the meeting `id` (through `create-meeting`, with `start`'s Chime and clock).
async fn create_alices_meeting(table: &VideoTable, start: &StartRecording, id: &str) {
    let create = CreateMeeting {
        chime: start.chime.clone(),
        dynamodb: table.dynamodb.clone(),
        table: table.name.clone(),
        media_region: "ap-southeast-2".into(),
        clock: start.clock.clone(),
    };
    let body = serde_json::json!({"externalMeetingId": id, "meetingTitle": id, "meetingRegion": "",
        "meetingAttendees": [{"attendeeName": "Alice", "isOwner": true}]});
    create.handle(support::request("create-meeting", "/meeting", Some(&body.to_string()), Some(ALICE))).await.unwrap();
}

/// A stop that came while the start was under way, found no task yet and ended the recording.
async fn a_stop_ends_the_new_recording(dynamodb: aws_sdk_dynamodb::Client, table: String) {
    let started = recordings(&dynamodb, &table, MEETING, NOW).await.unwrap();
    let [recording] = started.as_slice() else { panic!("one recording, not {started:?}") };
    dynamodb
        .update_item()
        .table_name(table)
        .set_key(Some(recording_key(MEETING, &recording.recording_id)))
        .update_expression("SET endedAt = :other")
        .expression_attribute_values(":other", store::s(OTHER_STOP))
        .send()
        .await
        .unwrap();
}

fn start_request() -> lambda_http::Request {
    let body = serde_json::json!({ "externalMeetingId": MEETING }).to_string();
    support::request("start-recording", "/recording", Some(&body), Some(ALICE))
}

fn run_task_rule(meanwhile: &support::Meanwhile) -> aws_smithy_mocks::Rule {
    let meanwhile = meanwhile.clone();
    // The task is findable by its recording alone (what a stop that has no task ARN looks it up by).
    let by_recording = |input: &aws_sdk_ecs::operation::run_task::RunTaskInput| {
        input.started_by().and_then(|s| s.strip_prefix("Recording-")).is_some_and(|id| id.len() == 36)
    };
    mock!(aws_sdk_ecs::Client::run_task).match_requests(by_recording).then_output(move || {
        if let Some(change) = meanwhile.lock().unwrap().as_ref() {
            change();
        }
        RunTaskOutput::builder().tasks(Task::builder().task_arn(TASK).build()).build()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_start_whose_recording_a_stop_ended_meanwhile_stops_its_task_instead_of_recording_unseen() {
    let meanwhile = support::Meanwhile::default();
    let run_task = run_task_rule(&meanwhile);
    let stopped = Stopped::default();
    let stop_task = stop_task_rule(&stopped, || {});
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&run_task, &stop_task]);
    let (video, start) = alices_meeting(ecs).await;
    *meanwhile.lock().unwrap() = Some(Box::new(meanwhile_once(&video, a_stop_ends_the_new_recording)));

    let answer = start.handle(start_request()).await;

    assert!(answer.is_err(), "the start cannot record on a recording that has ended: {answer:?}");
    assert_eq!(*stopped.lock().unwrap(), [TASK], "its task is stopped by the undo");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_the_undo_cannot_stop_is_not_put_on_a_recording_a_stop_ended() {
    let meanwhile = support::Meanwhile::default();
    let run_task = run_task_rule(&meanwhile);
    let stop_task = mock!(aws_sdk_ecs::Client::stop_task)
        .then_error(|| StopTaskError::ServerException(ServerException::builder().message("ECS is down").build()));
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&run_task, &stop_task]);
    let (video, start) = alices_meeting(ecs).await;
    *meanwhile.lock().unwrap() = Some(Box::new(meanwhile_once(&video, a_stop_ends_the_new_recording)));

    assert!(start.handle(start_request()).await.is_err());

    let recording = recordings(&video.dynamodb, &video.name, MEETING, NOW).await.unwrap().remove(0);
    assert_eq!(recording.ended_at.as_deref(), Some(OTHER_STOP), "ended by the stop");
    assert_eq!(recording.task_arn, None, "an ended recording is not given the task afterwards");
    assert_eq!(stop_task.num_calls(), 1, "the undo tried to stop the task");
}

/// A `start-recording` like `start` but with another DynamoDB client.
fn start_with(start: &StartRecording, dynamodb: aws_sdk_dynamodb::Client) -> StartRecording {
    StartRecording {
        chime: start.chime.clone(),
        dynamodb,
        connect: start.connect.clone(),
        cluster: start.cluster.clone(),
        table: start.table.clone(),
        instance_id: start.instance_id.clone(),
        task_definition: start.task_definition.clone(),
        container_name: start.container_name.clone(),
        bucket: start.bucket.clone(),
        attendee_name: start.attendee_name.clone(),
        screen: start.screen,
        agent_app_url: start.agent_app_url.clone(),
        clock: start.clock.clone(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_starts_that_saw_the_same_stale_lock_take_it_over_once() {
    let run_task = run_task_rule(&support::Meanwhile::default());
    let stopped = Stopped::default();
    let stop_task = stop_task_rule(&stopped, || {});
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&run_task, &stop_task]);
    let (video, first) = alices_meeting(ecs).await;
    // A stale lock: its recording was stopped, and the stop's release of the lock was lost.
    video.put_recording(Some("task-0")).await;
    set_ended_by_another_stop(video.dynamodb.clone(), video.name.clone()).await;
    let mut lock = lock_key(MEETING);
    lock.insert("recordingId".into(), store::s("rec-1"));
    lock.insert("ttl".into(), store::ttl(NOW + time::Duration::hours(25)));
    video.dynamodb.put_item().table_name(&video.name).set_item(Some(lock)).send().await.unwrap();

    // The second start saw the stale lock; the first takes it over and starts before the second's
    // takeover is written.
    let first = Arc::new(first);
    let first_answer = Arc::new(Mutex::new(None));
    let interrupted = support::Meanwhile::default();
    *interrupted.lock().unwrap() = Some(Box::new({
        let (first, first_answer) = (first.clone(), first_answer.clone());
        move || {
            *first_answer.lock().unwrap() = Some(support::block_on_inside(first.handle(start_request())));
        }
    }));
    let sdk = video.cloud.sdk_config().await;
    let intercepted = support::interrupted_client(&sdk, ":stale", &interrupted, &support::Seen::default());
    let second = start_with(&first, intercepted);

    let second_answer = second.handle(start_request()).await;

    let first_answer = first_answer.lock().unwrap().take().expect("the first start ran during the second's takeover");
    assert!(first_answer.is_ok(), "the first start took the stale lock over: {first_answer:?}");
    assert_eq!(second_answer.unwrap_err().status, 409, "the second finds the lock taken, not stale any more");
    let live = recordings(&video.dynamodb, &video.name, MEETING, NOW).await.unwrap();
    assert_eq!(live.iter().filter(|r| r.ended_at.is_none()).count(), 1, "one recording in progress: {live:?}");
}

/// DynamoDB's answer when another request was writing one of a transaction's items at that moment.
const TRANSACTION_CONFLICT: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]}"#;
/// An error that is neither a lost race nor a conflict.
const VALIDATION_ERROR: &str =
    r#"{"__type":"com.amazon.coral.validate#ValidationException","message":"injected by the test"}"#;

/// Answers the first TransactWriteItems requests with the given errors (400s), as DynamoDB would; moto
/// never answers TransactionConflict. Such a request is sent to moto as a harmless DescribeLimits, so
/// nothing of it is written, and its answer replaced.
#[derive(Debug)]
struct TransactionErrors {
    answers: Mutex<std::collections::VecDeque<&'static str>>,
    hijacked: Mutex<Option<&'static str>>,
}

impl aws_sdk_dynamodb::config::Intercept for TransactionErrors {
    fn name(&self) -> &'static str {
        "TransactionErrors"
    }

    fn modify_before_transmit(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextMut<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        let headers = context.request_mut().headers_mut();
        let answer = if headers.get("x-amz-target").is_some_and(|t| t.ends_with(".TransactWriteItems")) {
            self.answers.lock().unwrap().pop_front()
        } else {
            None
        };
        if answer.is_some() {
            headers.insert("x-amz-target", "DynamoDB_20120810.DescribeLimits");
        }
        *self.hijacked.lock().unwrap() = answer;
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut aws_sdk_dynamodb::config::interceptors::BeforeDeserializationInterceptorContextMut<'_>,
        _: &aws_sdk_dynamodb::config::RuntimeComponents,
        _: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        if let Some(answer) = self.hijacked.lock().unwrap().take() {
            let response = context.response_mut();
            *response.status_mut() = 400.try_into()?;
            response.headers_mut().insert("content-type", "application/x-amz-json-1.0");
            *response.body_mut() = aws_smithy_types::body::SdkBody::from(answer);
        }
        Ok(())
    }
}

/// `start` with a DynamoDB client whose first transactions are answered with `errors`.
async fn start_meeting_errors(video: &VideoTable, start: &StartRecording, errors: &[&'static str]) -> StartRecording {
    let sdk = video.cloud.sdk_config().await;
    let interceptor =
        TransactionErrors { answers: Mutex::new(errors.iter().copied().collect()), hijacked: Mutex::new(None) };
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk).interceptor(interceptor).build(),
    );
    start_with(start, dynamodb)
}

#[tokio::test]
async fn a_lock_that_meets_transaction_conflicts_is_tried_three_times_and_other_errors_are_not_conflicts() {
    let run_task = run_task_rule(&support::Meanwhile::default());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&run_task]);
    let (video, start) = alices_meeting(ecs).await;
    let start_of = |id: &str| {
        let body = serde_json::json!({ "externalMeetingId": id }).to_string();
        support::request("start-recording", "/recording", Some(&body), Some(ALICE))
    };

    // Two conflicts: the third try takes the lock.
    let twice = start_meeting_errors(&video, &start, &[TRANSACTION_CONFLICT, TRANSACTION_CONFLICT]).await;
    assert_eq!(twice.handle(start_of(MEETING)).await.unwrap().message, "Recording started");
    assert_eq!(run_task.num_calls(), 1);

    // Three in a row: given up as taken (409).
    create_alices_meeting(&video, &start, "case-2").await;
    let thrice = start_meeting_errors(&video, &start, &[TRANSACTION_CONFLICT; 3]).await;
    assert_eq!(thrice.handle(start_of("case-2")).await.unwrap_err().status, 409);

    // Any other error is the store's failure (502, try again), never "a recording is in progress".
    create_alices_meeting(&video, &start, "case-3").await;
    let failing = start_meeting_errors(&video, &start, &[VALIDATION_ERROR]).await;
    assert_eq!(failing.handle(start_of("case-3")).await.unwrap_err().status, 502);
    assert_eq!(run_task.num_calls(), 1, "no task for a refused start");
}

#[tokio::test]
async fn a_second_start_while_one_records_is_a_409_and_the_lock_outlives_any_meeting() {
    let run_task = run_task_rule(&support::Meanwhile::default());
    let ecs = mock_client!(aws_sdk_ecs, RuleMode::MatchAny, &[&run_task]);
    let (video, start) = alices_meeting(ecs).await;
    start.handle(start_request()).await.unwrap();

    assert_eq!(start.handle(start_request()).await.unwrap_err().status, 409);

    let lock = video.dynamodb.get_item().table_name(&video.name).set_key(Some(lock_key(MEETING))).send().await;
    let lock = lock.unwrap().item.unwrap();
    assert_eq!(lock["ttl"], store::ttl(NOW + time::Duration::hours(25)), "25 hours: longer than any meeting");
    assert_eq!(run_task.num_calls(), 1);
}
