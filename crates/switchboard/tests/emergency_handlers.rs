//! The emergency functions' handlers through the real SDK clients against the local cloud (moto for
//! DynamoDB, our emulator for Pinpoint), with an injected clock so expiry is tested without sleeping.
//! Faults the local services cannot produce are injected with aws-smithy-mocks.

use std::{collections::HashMap, sync::Arc};

use aws_sdk_dynamodb::types::AttributeValue;
use switchboard::{
    edge::connect::{ContactFlowEvent, FlowResult},
    emergency::{
        keys, one_time_pin::SmsSettings, pin::Pepper, settings::Names, settings::PinPolicy, CheckEmergency, OneTimePin,
        UpdateEmergency, VerifyPin,
    },
    platform::{deadline::Deadline, time::ManualClock},
};
use switchboard_local::{cloud::LocalCloud, fixture::Fixture};
use time::macros::datetime;

mod support;

const ADMIN: &str = "+61412345678";
/// Where the handlers' clocks start: the start of a send window.
const START: time::OffsetDateTime = datetime!(2026-11-23 09:00 UTC);

struct Harness {
    cloud: LocalCloud,
    dynamodb: aws_sdk_dynamodb::Client,
    pinpoint: aws_sdk_pinpoint::Client,
    clock: ManualClock,
    table: String,
}

impl Harness {
    async fn start() -> Self {
        let fixture = Fixture::load(&Fixture::default_path()).expect("fixture");
        let cloud = LocalCloud::services(fixture).await.expect("local cloud");
        let sdk = cloud.sdk_config().await;
        let pinpoint = aws_sdk_pinpoint::Client::from_conf(
            aws_sdk_pinpoint::config::Builder::from(&sdk).endpoint_url(cloud.emulator.endpoint()).build(),
        );
        Self {
            table: cloud.fixture.emergency.table_name.clone(),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            pinpoint,
            clock: ManualClock::new(START),
            cloud,
        }
    }

    fn one_time_pin(&self) -> OneTimePin {
        OneTimePin {
            dynamodb: self.dynamodb.clone(),
            pinpoint: self.pinpoint.clone(),
            table: self.table.clone(),
            sms: SmsSettings {
                application_id: self.cloud.fixture.pinpoint.application_id.clone(),
                sender_id: Some("Switchbrd".into()),
                origination_number: None,
            },
            policy: PinPolicy::default(),
            pepper: switchboard::platform::prefetch::Prefetched::ready(pepper()),
            clock: Arc::new(self.clock.clone()),
        }
    }

    fn verify_pin(&self) -> VerifyPin {
        VerifyPin {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            policy: PinPolicy::default(),
            pepper: switchboard::platform::prefetch::Prefetched::ready(pepper()),
            clock: Arc::new(self.clock.clone()),
        }
    }

    fn check(&self) -> CheckEmergency {
        CheckEmergency {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            locations: Names::new(self.cloud.fixture.emergency.locations.clone()),
        }
    }

    fn update(&self) -> UpdateEmergency {
        update_with(self.dynamodb.clone(), &self.table, &self.cloud.fixture, &self.clock)
    }

    /// The PIN in the newest SMS to `phone`.
    fn last_pin(&self, phone: &str) -> String {
        let outbox = self.cloud.emulator.outbox();
        let sms = outbox.iter().rev().find(|s| s.to == phone).expect("an SMS to the admin");
        sms.body.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6).expect("a 6-digit PIN").to_owned()
    }

    async fn item(&self, pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
        self.dynamodb
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(pk.into()))
            .key("sk", AttributeValue::S(sk.into()))
            .consistent_read(true)
            .send()
            .await
            .expect("get item")
            .item
    }

    /// Sends and verifies a PIN for `contact`, as the authentication flow does.
    async fn verified_admin(&self, contact: &str) {
        let sent = self.one_time_pin().handle(event(contact, ADMIN, &[]), deadline()).await.unwrap();
        assert_eq!(sent.code(), "SENT");
        let pin = self.last_pin(ADMIN);
        let verified = self.verify_pin().handle(event(contact, ADMIN, &[("pin", &pin)]), deadline()).await.unwrap();
        assert_eq!(verified.code(), "VERIFIED");
    }
}

fn pepper() -> Pepper {
    Pepper::new(b"the handler tests' pepper".to_vec()).unwrap()
}

/// What Connect gives an invocation: Switchboard's whole 7 s.
fn deadline() -> Deadline {
    Deadline::after(Deadline::MAX)
}

fn update_with(
    dynamodb: aws_sdk_dynamodb::Client,
    table: &str,
    fixture: &Fixture,
    clock: &ManualClock,
) -> UpdateEmergency {
    UpdateEmergency {
        dynamodb,
        table: table.to_owned(),
        locations: Names::new(fixture.emergency.locations.clone()),
        emergency_types: Names::new(fixture.emergency.types.clone()),
        admin_session_seconds: 900,
        clock: Arc::new(clock.clone()),
    }
}

fn event(contact: &str, caller: &str, parameters: &[(&str, &str)]) -> ContactFlowEvent {
    let parameters: HashMap<&str, &str> = parameters.iter().copied().collect();
    serde_json::from_value(serde_json::json!({
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "ContactId": contact, "InitialContactId": contact, "Channel": "VOICE",
                "CustomerEndpoint": {"Address": caller, "Type": "TELEPHONE_NUMBER"},
                "SystemEndpoint": {"Address": "+61255501000", "Type": "TELEPHONE_NUMBER"}
            },
            "Parameters": parameters
        }
    }))
    .expect("event")
}

fn assert_result(result: &FlowResult, code: &str, pairs: &[(&str, &str)]) {
    assert_eq!(result.code(), code, "{result:?}");
    for (key, value) in pairs {
        assert_eq!(result.get(key), Some(*value), "{key} in {result:?}");
    }
}

#[tokio::test]
async fn pin_is_sent_only_to_enabled_admin_mobiles_and_never_returned_or_stored() {
    let h = Harness::start().await;
    let send = h.one_time_pin();

    let sent = send.handle(event("c-sent", ADMIN, &[]), deadline()).await.unwrap();
    assert_result(&sent, "SENT", &[("PinLength", "6"), ("ExpiresInSeconds", "120")]);
    let pin = h.last_pin(ADMIN);
    let sms = h.cloud.emulator.outbox();
    assert_eq!(sms.len(), 1);
    assert_eq!(sms[0].body, format!("Your one-time PIN is {pin}. It expires in 2 minutes."));
    assert_eq!(sms[0].message_type.as_deref(), Some("TRANSACTIONAL"));
    assert_eq!(sms[0].sender_id.as_deref(), Some("Switchbrd"));
    let output = serde_json::to_string(&sent).unwrap();
    assert!(!output.contains(&pin), "the PIN must not be in the output: {output}");
    let challenge = h.item("OTP#c-sent", "CHALLENGE").await.expect("challenge stored");
    for value in challenge.values() {
        assert!(!format!("{value:?}").contains(&pin), "the PIN must not be stored: {value:?}");
    }
    assert_eq!(challenge["phone"], AttributeValue::S(ADMIN.into()));
    assert_eq!(challenge["attempts"], AttributeValue::N("0".into()));
    // The PIN expires after its 120 s; the item lives on for the 900 s admin session a verification opens.
    let sent_at = START.unix_timestamp();
    assert_eq!(challenge["expiresAt"], AttributeValue::N((sent_at + 120).to_string()));
    assert_eq!(challenge["ttl"], AttributeValue::N((sent_at + 120 + 900).to_string()));
    // The stored item alone does not give the PIN away: HMAC keyed by the stored salt alone (what a
    // copy of the table allows) does not reproduce the hash; the pepper is needed.
    let (AttributeValue::S(salt), AttributeValue::S(stored)) = (&challenge["salt"], &challenge["pinHash"]) else {
        panic!("salt and hash are strings")
    };
    use hmac::{KeyInit, Mac};
    let mut salt_only = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(salt.as_bytes()).unwrap();
    salt_only.update(pin.as_bytes());
    assert_ne!(&hex::encode(salt_only.finalize().into_bytes()), stored, "a salt-only HMAC must not match");
    assert!(switchboard::emergency::pin::matches(&pepper(), salt, &pin, stored));

    // Not E.164, unknown and disabled admins: NOT_ADMIN and no SMS.
    for number in ["0412345678", "+61400555666", "+61499999999"] {
        let result = send.handle(event("c-x", number, &[]), deadline()).await.unwrap();
        assert_result(&result, "NOT_ADMIN", &[]);
    }
    // The parameter wins over the caller id.
    let result = send.handle(event("c-y", ADMIN, &[("phoneNumber", "+61400555666")]), deadline()).await.unwrap();
    assert_result(&result, "NOT_ADMIN", &[]);
    assert_eq!(h.cloud.emulator.outbox().len(), 1, "no SMS for refused numbers");
    assert!(h.item("OTP#c-x", "CHALLENGE").await.is_none());

    // A landline admin is told so.
    let result = send.handle(event("c-land", "+61298765432", &[]), deadline()).await.unwrap();
    assert_result(&result, "NOT_MOBILE", &[("PhoneType", "LANDLINE")]);

    // An SMS that is not delivered: SMS_FAILED and no challenge left behind.
    let result = send.handle(event("c-fail", "+61400000999", &[]), deadline()).await.unwrap();
    assert_result(&result, "SMS_FAILED", &[]);
    assert!(h.item("OTP#c-fail", "CHALLENGE").await.is_none());

    // No contact id: the flow gets INVALID_INPUT naming it.
    let no_contact: ContactFlowEvent = serde_json::from_value(serde_json::json!({"Details": {}})).unwrap();
    assert_result(&send.handle(no_contact, deadline()).await.unwrap(), "INVALID_INPUT", &[("Field", "ContactId")]);
}

#[tokio::test]
async fn sends_are_rate_limited_per_number_and_window() {
    let h = Harness::start().await;
    let send = h.one_time_pin();
    for i in 0..3 {
        assert_result(&send.handle(event(&format!("c-{i}"), ADMIN, &[]), deadline()).await.unwrap(), "SENT", &[]);
    }
    assert_result(&send.handle(event("c-3", ADMIN, &[]), deadline()).await.unwrap(), "RATE_LIMITED", &[]);
    // The window is the clock's quarter hour, not a span from each send: ten minutes on, still refused.
    h.clock.advance(time::Duration::seconds(600));
    assert_result(&send.handle(event("c-3b", ADMIN, &[]), deadline()).await.unwrap(), "RATE_LIMITED", &[]);
    assert_eq!(h.cloud.emulator.outbox().len(), 3);
    // The window's counter lives until the window ends, and no longer.
    let window_start = START.unix_timestamp();
    let counter = h.item(&keys::rate(ADMIN), &keys::rate_window(window_start)).await.expect("the window's counter");
    assert_eq!(counter["count"], AttributeValue::N("3".into()));
    assert_eq!(counter["ttl"], AttributeValue::N((window_start + 900).to_string()));
    // Another admin has their own window.
    assert_result(&send.handle(event("c-4", "+61412000111", &[]), deadline()).await.unwrap(), "SENT", &[]);
    // The next window opens again.
    h.clock.advance(time::Duration::seconds(900));
    assert_result(&send.handle(event("c-5", ADMIN, &[]), deadline()).await.unwrap(), "SENT", &[]);
}

#[tokio::test]
async fn pins_verify_once_expire_and_lock_after_three_wrong_tries() {
    let h = Harness::start().await;
    let (send, verify) = (h.one_time_pin(), h.verify_pin());

    // Right PIN (with the # the caller pressed): VERIFIED, then never again (replay).
    send.handle(event("c-ok", ADMIN, &[]), deadline()).await.unwrap();
    let pin = h.last_pin(ADMIN);
    assert_result(
        &verify.handle(event("c-ok", ADMIN, &[("pin", &format!("{pin}#"))]), deadline()).await.unwrap(),
        "VERIFIED",
        &[],
    );
    assert_result(
        &verify.handle(event("c-ok", ADMIN, &[("pin", &pin)]), deadline()).await.unwrap(),
        "NO_CHALLENGE",
        &[],
    );

    // Three wrong PINs lock the challenge; the right one is refused after that.
    send.handle(event("c-lock", ADMIN, &[]), deadline()).await.unwrap();
    let pin = h.last_pin(ADMIN);
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", wrong)]), deadline()).await.unwrap(),
        "WRONG_PIN",
        &[("AttemptsLeft", "2")],
    );
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", "12")]), deadline()).await.unwrap(),
        "WRONG_PIN",
        &[("AttemptsLeft", "1")],
    );
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", wrong)]), deadline()).await.unwrap(),
        "LOCKED",
        &[("AttemptsLeft", "0")],
    );
    assert_result(&verify.handle(event("c-lock", ADMIN, &[("pin", &pin)]), deadline()).await.unwrap(), "LOCKED", &[]);
    let challenge = h.item("OTP#c-lock", "CHALLENGE").await.unwrap();
    assert_eq!(challenge["attempts"], AttributeValue::N("3".into()), "tries stop counting at the limit");

    // A PIN keyed after its expiry: EXPIRED.
    h.clock.advance(time::Duration::seconds(900)); // a fresh rate window too
    send.handle(event("c-late", ADMIN, &[]), deadline()).await.unwrap();
    let pin = h.last_pin(ADMIN);
    h.clock.advance(time::Duration::seconds(120));
    assert_result(&verify.handle(event("c-late", ADMIN, &[("pin", &pin)]), deadline()).await.unwrap(), "EXPIRED", &[]);

    // A new PIN for the same contact replaces the old one.
    send.handle(event("c-again", ADMIN, &[]), deadline()).await.unwrap();
    let first = h.last_pin(ADMIN);
    send.handle(event("c-again", ADMIN, &[]), deadline()).await.unwrap();
    let second = h.last_pin(ADMIN);
    if first != second {
        assert_result(
            &verify.handle(event("c-again", ADMIN, &[("pin", &first)]), deadline()).await.unwrap(),
            "WRONG_PIN",
            &[],
        );
    }
    assert_result(
        &verify.handle(event("c-again", ADMIN, &[("pin", &second)]), deadline()).await.unwrap(),
        "VERIFIED",
        &[],
    );

    // No challenge at all.
    assert_result(
        &verify.handle(event("c-none", ADMIN, &[("pin", "123456")]), deadline()).await.unwrap(),
        "NO_CHALLENGE",
        &[],
    );
}

#[tokio::test]
async fn updates_need_a_verified_admin_and_valid_input_and_are_audited() {
    let h = Harness::start().await;
    let (update, check) = (h.update(), h.check());
    let set_sydney = [("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")];

    // Unknown and never-set locations.
    assert_result(
        &check.handle(event("c", ADMIN, &[("location", "Atlantis")]), deadline()).await.unwrap(),
        "UNKNOWN_LOCATION",
        &[("Emergency", "false")],
    );
    assert_result(
        &check.handle(event("c", ADMIN, &[("location", "Sydney")]), deadline()).await.unwrap(),
        "NOT_SET_UP",
        &[("Emergency", "false")],
    );

    // No verified challenge: UNAUTHORIZED and nothing written.
    assert_result(&update.handle(event("c-anon", ADMIN, &set_sydney), deadline()).await.unwrap(), "UNAUTHORIZED", &[]);
    h.one_time_pin().handle(event("c-unverified", ADMIN, &[]), deadline()).await.unwrap();
    assert_result(
        &update.handle(event("c-unverified", ADMIN, &set_sydney), deadline()).await.unwrap(),
        "UNAUTHORIZED",
        &[],
    );
    assert!(h.item("LOC#Sydney", "STATE").await.is_none());

    h.verified_admin("c-admin").await;
    for (params, field) in [
        (vec![("location", "Atlantis"), ("action", "set"), ("emergencyType", "Fire Alarm")], "location"),
        (vec![("location", "Sydney"), ("action", "explode")], "action"),
        (vec![("location", "Sydney"), ("action", "set"), ("emergencyType", "Alien Invasion")], "emergencyType"),
        (vec![("location", "Sydney"), ("action", "set")], "emergencyType"),
    ] {
        let result = update.handle(event("c-admin", ADMIN, &params), deadline()).await.unwrap();
        assert_result(&result, "INVALID_INPUT", &[("Field", field)]);
    }
    assert!(h.item("LOC#Sydney", "STATE").await.is_none(), "invalid input writes nothing");

    // Set (case-insensitive input, stored in the configured spelling), then remove.
    let result = update
        .handle(
            event("c-admin", ADMIN, &[("location", "sydney"), ("action", "SET"), ("emergencyType", "fire alarm")]),
            deadline(),
        )
        .await
        .unwrap();
    assert_result(&result, "UPDATED", &[("Emergency", "true"), ("EmergencyType", "Fire Alarm")]);
    assert_result(
        &check.handle(event("c-customer", "+61400111222", &[("location", "Sydney")]), deadline()).await.unwrap(),
        "OK",
        &[("Emergency", "true"), ("EmergencyType", "Fire Alarm"), ("UpdatedAt", "2026-11-23T09:00:00Z")],
    );
    h.clock.advance(time::Duration::seconds(60));
    let result = update
        .handle(event("c-admin", ADMIN, &[("location", "Sydney"), ("action", "remove")]), deadline())
        .await
        .unwrap();
    assert_result(&result, "UPDATED", &[("Emergency", "false"), ("EmergencyType", "No Emergency")]);

    let audit = h
        .dynamodb
        .query()
        .table_name(&h.table)
        .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
        .expression_attribute_values(":pk", AttributeValue::S("LOC#Sydney".into()))
        .expression_attribute_values(":audit", AttributeValue::S("AUDIT#".into()))
        .send()
        .await
        .unwrap();
    let entries = audit.items();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["previousEmergency"], AttributeValue::Bool(false));
    assert_eq!(entries[0]["emergencyType"], AttributeValue::S("Fire Alarm".into()));
    assert_eq!(entries[1]["previousEmergencyType"], AttributeValue::S("Fire Alarm".into()));
    assert_eq!(entries[1]["updatedBy"], AttributeValue::S(ADMIN.into()));
    assert_eq!(entries[1]["contactId"], AttributeValue::S("c-admin".into()));

    // The admin session ends ADMIN_SESSION_SECONDS after verification.
    h.clock.advance(time::Duration::seconds(900));
    assert_result(&update.handle(event("c-admin", ADMIN, &set_sydney), deadline()).await.unwrap(), "UNAUTHORIZED", &[]);
}

#[tokio::test]
async fn a_dynamodb_fault_during_update_is_a_lambda_error_and_writes_nothing() {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let fixture = Fixture::load(&Fixture::default_path()).unwrap();
    let clock = ManualClock::new(START);
    let (verified_challenge, enabled_admin, no_state) = admin_verified_for_a_sydney_never_set(clock.now_epoch());
    // Throttled, then a server error on every retry: the SDK retries the whole transaction, which
    // DynamoDB applies all-or-nothing, and gives up.
    let faulty_transaction = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#.into()),
        )
        .http_status(500, Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#.into()))
        .times(2)
        .output(|| TransactWriteItemsOutput::builder().build()) // never reached: the SDK stops after 3 attempts
        .build();
    let dynamodb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&verified_challenge, &enabled_admin, &no_state, &faulty_transaction]
    );
    let update = update_with(dynamodb, "EmergencyTable", &fixture, &clock);

    let error = update
        .handle(
            event("c-admin", ADMIN, &[("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")]),
            deadline(),
        )
        .await
        .expect_err("a DynamoDB fault must be a Lambda error, so the flow takes its Error branch");
    let message = error.to_string();
    assert!(message.contains("TransactWriteItems"), "{message}");
    assert_eq!(faulty_transaction.num_calls(), 3, "throttling and 500s are retried, then reported");
    // Every write goes through the one transaction: a state put without its audit entry (or the
    // reverse) is impossible. Any other write call would have failed this mock client (no rule).
    assert_eq!(verified_challenge.num_calls(), 1);
}

/// What update-emergency reads before it writes, for contact `c-admin`: a challenge verified 10 s
/// before `now`, the admin (enabled), and no state for Sydney yet.
fn admin_verified_for_a_sydney_never_set(
    now: i64,
) -> (aws_smithy_mocks::Rule, aws_smithy_mocks::Rule, aws_smithy_mocks::Rule) {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    use aws_smithy_mocks::mock;
    let verified_challenge = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.key().and_then(|k| k.get("pk")) == Some(&AttributeValue::S("OTP#c-admin".into())))
        .then_output(move || {
            GetItemOutput::builder()
                .item("pk", AttributeValue::S("OTP#c-admin".into()))
                .item("sk", AttributeValue::S("CHALLENGE".into()))
                .item("phone", AttributeValue::S(ADMIN.into()))
                .item("salt", AttributeValue::S("00".into()))
                .item("pinHash", AttributeValue::S("00".into()))
                .item("attempts", AttributeValue::N("1".into()))
                .item("expiresAt", AttributeValue::N((now + 60).to_string()))
                .item("verifiedAt", AttributeValue::N((now - 10).to_string()))
                .build()
        });
    let no_state = mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.key().and_then(|k| k.get("pk")) == Some(&AttributeValue::S("LOC#Sydney".into())))
        .then_output(|| GetItemOutput::builder().build());
    (verified_challenge, enabled_admin_rule(), no_state)
}

/// The admin item, enabled.
fn enabled_admin_rule() -> aws_smithy_mocks::Rule {
    use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
    aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|r| r.key().and_then(|k| k.get("pk")) == Some(&AttributeValue::S(format!("ADMIN#{ADMIN}"))))
        .then_output(|| {
            GetItemOutput::builder()
                .item("pk", AttributeValue::S(format!("ADMIN#{ADMIN}")))
                .item("sk", AttributeValue::S("ADMIN".into()))
                .item("enabled", AttributeValue::Bool(true))
                .build()
        })
}

#[tokio::test]
async fn an_admin_disabled_after_verifying_cannot_update() {
    let h = Harness::start().await;
    h.verified_admin("c-fired").await;
    h.dynamodb
        .update_item()
        .table_name(&h.table)
        .key("pk", AttributeValue::S(format!("ADMIN#{ADMIN}")))
        .key("sk", AttributeValue::S("ADMIN".into()))
        .update_expression("SET enabled = :no")
        .expression_attribute_values(":no", AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    let set_sydney = [("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")];
    assert_result(
        &h.update().handle(event("c-fired", ADMIN, &set_sydney), deadline()).await.unwrap(),
        "UNAUTHORIZED",
        &[],
    );
    assert!(h.item("LOC#Sydney", "STATE").await.is_none(), "nothing was written");
}

#[tokio::test]
async fn an_update_that_meets_a_transaction_conflict_reads_again_and_retries() {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let fixture = Fixture::load(&Fixture::default_path()).unwrap();
    let clock = ManualClock::new(START);
    let (verified_challenge, enabled_admin, no_state) = admin_verified_for_a_sydney_never_set(clock.now_epoch());
    // Another admin's transaction was writing the same state item at that moment.
    let conflict_then_success = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#TransactionCanceledException","message":"Transaction cancelled, please refer cancellation reasons for specific reasons [TransactionConflict, None]","CancellationReasons":[{"Code":"TransactionConflict","Message":"Transaction is ongoing for the item"},{"Code":"None"}]}"#.into()),
        )
        .output(|| TransactWriteItemsOutput::builder().build())
        .build();
    let dynamodb = mock_client!(
        aws_sdk_dynamodb,
        RuleMode::MatchAny,
        &[&verified_challenge, &enabled_admin, &no_state, &conflict_then_success]
    );
    let update = update_with(dynamodb, "EmergencyTable", &fixture, &clock);
    let result = update
        .handle(
            event("c-admin", ADMIN, &[("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")]),
            deadline(),
        )
        .await
        .expect("a transaction conflict is a lost race: read again and retry, not a Lambda error");
    assert_result(&result, "UPDATED", &[("Emergency", "true"), ("EmergencyType", "Fire Alarm")]);
    assert_eq!(conflict_then_success.num_calls(), 2, "one conflict, one retry");
    assert_eq!(no_state.num_calls(), 2, "the state is read again before the retry");
}

/// An HTTP client whose every answer takes `delay`: a slow dependency. aws-smithy-mocks supplies the
/// modelled outputs (its interceptor replaces this client's placeholder answer), so the SDK's own
/// time-outs and the handler's deadline see real waiting.
fn slow_http_client(delay: std::time::Duration) -> aws_smithy_runtime_api::client::http::SharedHttpClient {
    use aws_smithy_runtime_api::client::{
        http::{http_client_fn, HttpConnector, HttpConnectorFuture, SharedHttpConnector},
        orchestrator::{HttpRequest, HttpResponse},
    };
    #[derive(Debug)]
    struct Slow(std::time::Duration);
    impl HttpConnector for Slow {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            let delay = self.0;
            HttpConnectorFuture::new(async move {
                tokio::time::sleep(delay).await;
                Ok(HttpResponse::new(
                    aws_smithy_runtime_api::http::StatusCode::try_from(418).unwrap(),
                    aws_smithy_types::body::SdkBody::from("slow"),
                ))
            })
        }
    }
    http_client_fn(move |_, _| SharedHttpConnector::new(Slow(delay)))
}

/// `one-time-pin` against DynamoDB and Pinpoint that each take `delay` per call: what it answers,
/// how long it took, and how many SMS it sent.
async fn one_time_pin_with_slow_dependencies(
    delay: std::time::Duration,
) -> (Result<FlowResult, String>, std::time::Duration, usize) {
    use aws_sdk_dynamodb::operation::{
        delete_item::DeleteItemOutput, get_item::GetItemOutput, put_item::PutItemOutput, update_item::UpdateItemOutput,
    };
    use aws_sdk_pinpoint::{
        operation::{phone_number_validate::PhoneNumberValidateOutput, send_messages::SendMessagesOutput},
        types::{DeliveryStatus, MessageResponse, MessageResult, NumberValidateResponse},
    };
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let admin = enabled_admin_rule();
    let slot = mock!(aws_sdk_dynamodb::Client::update_item).then_output(|| UpdateItemOutput::builder().build());
    let challenge = mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build());
    let removed = mock!(aws_sdk_dynamodb::Client::delete_item).then_output(|| DeleteItemOutput::builder().build());
    let no_item = mock!(aws_sdk_dynamodb::Client::get_item).then_output(|| GetItemOutput::builder().build());
    let validate = mock!(aws_sdk_pinpoint::Client::phone_number_validate).then_output(|| {
        PhoneNumberValidateOutput::builder()
            .number_validate_response(NumberValidateResponse::builder().phone_type("MOBILE").build())
            .build()
    });
    let sms = mock!(aws_sdk_pinpoint::Client::send_messages).then_output(|| {
        let delivered = MessageResult::builder().delivery_status(DeliveryStatus::Successful).status_code(200).build();
        SendMessagesOutput::builder()
            .message_response(MessageResponse::builder().application_id("app").result(ADMIN, delivered).build())
            .build()
    });
    let timeouts = switchboard::platform::aws::connect_timeouts();
    let dynamodb =
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&admin, &slot, &challenge, &removed, &no_item], |c| c
            .http_client(slow_http_client(delay))
            .timeout_config(timeouts.clone()));
    let pinpoint = mock_client!(aws_sdk_pinpoint, RuleMode::MatchAny, &[&validate, &sms], |c| c
        .http_client(slow_http_client(delay))
        .timeout_config(timeouts.clone()));
    let function = OneTimePin {
        dynamodb,
        pinpoint,
        table: "EmergencyTable".into(),
        sms: SmsSettings { application_id: "app".into(), sender_id: None, origination_number: None },
        policy: PinPolicy::default(),
        pepper: switchboard::platform::prefetch::Prefetched::ready(pepper()),
        clock: Arc::new(ManualClock::new(START)),
    };
    let started = std::time::Instant::now();
    // What Connect grants: 8 s, so the function's deadline is 7 s.
    let answer = function.handle(event("c-slow", ADMIN, &[]), deadline()).await.map_err(|e| e.to_string());
    (answer, started.elapsed(), sms.num_calls())
}

#[tokio::test]
async fn under_a_slow_dependency_one_time_pin_answers_in_time_and_sends_no_sms_it_cannot_report() {
    // Every call takes 1.5 s: admin, phone type, rate slot and challenge use 6 s of the 7, so the SMS
    // (which needs a whole attempt, 2 s) is not started. Without the deadline the six calls took 9 s
    // and the SMS went out after Connect had given up.
    let (answer, elapsed, sms_sent) =
        one_time_pin_with_slow_dependencies(std::time::Duration::from_millis(1_500)).await;
    let error = answer.expect_err("the flow takes its Error branch");
    assert!(error.contains("DeadlineExceeded") && error.contains("SendMessages"), "{error}");
    assert!(elapsed < std::time::Duration::from_secs(7), "answered after {elapsed:?}");
    assert_eq!(sms_sent, 0, "no SMS the caller would never hear about");
}

#[tokio::test]
async fn a_merely_slow_dependency_still_gets_the_pin_sent_in_time() {
    let (answer, elapsed, sms_sent) = one_time_pin_with_slow_dependencies(std::time::Duration::from_millis(600)).await;
    assert_result(&answer.expect("sent"), "SENT", &[]);
    assert!(elapsed < std::time::Duration::from_secs(7), "answered after {elapsed:?}");
    assert_eq!(sms_sent, 1);
}

/// The pepper is fetched once per process, from the first event on; when that fails, the call that needed it is a `ConfigError`
/// Lambda error that costs the caller no try, and the next call fetches it again and verifies.
#[tokio::test]
async fn a_pepper_that_cannot_be_fetched_fails_the_call_without_costing_a_try() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use switchboard::{
        edge::connect::FlowFault,
        platform::{config::ConfigError, prefetch::Prefetched},
    };
    let h = Harness::start().await;
    h.one_time_pin().handle(event("c-fetch", ADMIN, &[]), deadline()).await.unwrap();
    let pin = h.last_pin(ADMIN);

    // Secrets Manager refuses until `available` is set.
    let available = Arc::new(AtomicBool::new(false));
    let secret = available.clone();
    let verify = VerifyPin {
        pepper: Prefetched::start(move || {
            let available = secret.load(Ordering::SeqCst);
            async move {
                if available {
                    Ok(pepper())
                } else {
                    Err(ConfigError::Malformed { name: "PIN_PEPPER".into(), reason: "AccessDenied".into() })
                }
            }
        }),
        ..h.verify_pin()
    };
    let failed = verify.handle(event("c-fetch", ADMIN, &[("pin", &pin)]), deadline()).await.unwrap_err();
    assert_eq!(failed.kind(), "ConfigError");
    assert!(failed.to_string().contains("PIN_PEPPER"), "{failed}");
    let challenge = h.item("OTP#c-fetch", "CHALLENGE").await.unwrap();
    assert_eq!(challenge["attempts"], AttributeValue::N("0".into()), "no try was counted");

    available.store(true, Ordering::SeqCst);
    let verified = verify.handle(event("c-fetch", ADMIN, &[("pin", &pin)]), deadline()).await.unwrap();
    assert_eq!(verified.code(), "VERIFIED");
}

/// A second call for the same contact stored a newer challenge while the first call's SMS failed:
/// the first call's clean-up deletes its own challenge only, and the newer one stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_send_deletes_its_own_challenge_never_a_newer_one() {
    let h = Harness::start().await;
    let sdk = h.cloud.sdk_config().await;
    let (dynamodb, newer) = support::interrupted_by(&sdk, &h.table, ":salt", |dynamodb, table, _| async move {
        let newer_challenge = dynamodb
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S("OTP#c-fail".into()))
            .item("sk", AttributeValue::S("CHALLENGE".into()))
            .item("salt", AttributeValue::S("the-newer-calls-salt".into()));
        newer_challenge.send().await.unwrap();
    });
    let mut send = h.one_time_pin();
    send.dynamodb = dynamodb;

    let result = send.handle(event("c-fail", "+61400000999", &[]), deadline()).await.unwrap();

    assert_result(&result, "SMS_FAILED", &[]);
    assert!(newer.lock().unwrap().is_none(), "the newer challenge was stored just before the clean-up");
    let challenge = h.item("OTP#c-fail", "CHALLENGE").await.expect("the newer challenge stays");
    assert_eq!(challenge["salt"], AttributeValue::S("the-newer-calls-salt".into()));
}

impl Harness {
    /// `update-emergency` whose first transaction waits for `meanwhile` (another admin's update) to run.
    async fn update_interrupted_by(&self, meanwhile: &support::Meanwhile) -> UpdateEmergency {
        let sdk = self.cloud.sdk_config().await;
        let dynamodb = support::interrupted_client(&sdk, "TransactItems", meanwhile, &support::Seen::default());
        update_with(dynamodb, &self.table, &self.cloud.fixture, &self.clock)
    }

    /// Another admin's update of Sydney to `emergency_type`, run to completion from inside a request.
    fn another_admins_update(&self, contact: &'static str, emergency_type: &'static str) -> support::Meanwhile {
        let update = self.update();
        let meanwhile = support::Meanwhile::default();
        *meanwhile.lock().unwrap() = Some(Box::new(move || {
            let set = [("location", "Sydney"), ("action", "set"), ("emergencyType", emergency_type)];
            let result = support::block_on_inside(update.handle(event(contact, ADMIN, &set), deadline()));
            assert_eq!(result.unwrap().code(), "UPDATED", "the other admin's update");
        }));
        meanwhile
    }

    /// The audit entry `contact`'s update of Sydney wrote at the clock's time.
    async fn audit(&self, contact: &str) -> HashMap<String, AttributeValue> {
        let now = switchboard::platform::time::Clock::now(&self.clock);
        let sk = keys::audit(&switchboard::platform::time::rfc3339(now), contact);
        self.item(&keys::location("Sydney"), &sk).await.expect("the audit entry")
    }
}

/// Two admins update a location at the same moment, the first time (no state yet) and later: the one
/// whose write comes second reads the state again and its audit names what it really replaced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_updates_each_audit_the_state_they_replaced() {
    let h = Harness::start().await;
    h.verified_admin("c-a").await;
    h.verified_admin("c-b").await;
    let set = |emergency_type| [("location", "Sydney"), ("action", "set"), ("emergencyType", emergency_type)];

    // Sydney never set: B's first update lands between A's read and A's write.
    let b_first = h.another_admins_update("c-b", "Severe Weather");
    let a = h.update_interrupted_by(&b_first).await;
    let result = a.handle(event("c-a", ADMIN, &set("Fire Alarm")), deadline()).await.unwrap();
    assert_result(&result, "UPDATED", &[("Emergency", "true"), ("EmergencyType", "Fire Alarm")]);
    assert!(b_first.lock().unwrap().is_none(), "B updated first");
    assert_eq!(h.audit("c-a").await["previousEmergencyType"], AttributeValue::S("Severe Weather".into()));

    // Later: B again, between A's read of the state and A's write.
    h.clock.advance(time::Duration::seconds(60));
    let b_again = h.another_admins_update("c-b", "Facility Issue");
    let a = h.update_interrupted_by(&b_again).await;
    let result =
        a.handle(event("c-a", ADMIN, &[("location", "Sydney"), ("action", "remove")]), deadline()).await.unwrap();
    assert_result(&result, "UPDATED", &[("Emergency", "false")]);
    assert!(b_again.lock().unwrap().is_none(), "B updated first");
    let audit = h.audit("c-a").await;
    assert_eq!(audit["previousEmergencyType"], AttributeValue::S("Facility Issue".into()), "not Fire Alarm");
    let state = h.item(&keys::location("Sydney"), keys::STATE).await.unwrap();
    assert_eq!(state["emergency"], AttributeValue::Bool(false));
}

/// The audit entry's key is the update's time (to the millisecond) and contact: a second update by
/// the same contact at that very moment fails rather than replacing the first entry.
#[tokio::test]
async fn an_audit_entry_is_never_overwritten() {
    let h = Harness::start().await;
    h.verified_admin("c-a").await;
    let update = h.update();
    let set = [("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")];
    assert_result(
        &update.handle(event("c-a", ADMIN, &set), deadline()).await.unwrap(),
        "UPDATED",
        &[("Emergency", "true"), ("EmergencyType", "Fire Alarm")],
    );

    let again = update.handle(event("c-a", ADMIN, &[("location", "Sydney"), ("action", "remove")]), deadline()).await;

    assert!(again.is_err(), "{again:?}");
    let audit = h.audit("c-a").await;
    assert_eq!(audit["emergencyType"], AttributeValue::S("Fire Alarm".into()), "the first entry stands");
    let state = h.item(&keys::location("Sydney"), keys::STATE).await.unwrap();
    assert_eq!(state["emergency"], AttributeValue::Bool(true), "nothing of the refused update is written");
}
