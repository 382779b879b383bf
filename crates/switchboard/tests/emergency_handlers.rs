//! The emergency functions' handlers through the real SDK clients against the local cloud (moto for
//! DynamoDB, our emulator for Pinpoint), with an injected clock so expiry is tested without sleeping.
//! Faults the local services cannot produce are injected with aws-smithy-mocks.

use std::{collections::HashMap, sync::Arc};

use aws_sdk_dynamodb::types::AttributeValue;
use switchboard::{
    connect::{ContactFlowEvent, FlowResult},
    emergency::{
        one_time_pin::SmsSettings, settings::Names, settings::PinPolicy, CheckEmergency, OneTimePin, UpdateEmergency,
        VerifyPin,
    },
    time::ManualClock,
};
use switchboard_local::{cloud::LocalCloud, fixture::Fixture};
use time::macros::datetime;

const ADMIN: &str = "+61412345678";

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
            clock: ManualClock::new(datetime!(2026-11-23 09:00 UTC)),
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
            clock: Arc::new(self.clock.clone()),
        }
    }

    fn verify_pin(&self) -> VerifyPin {
        VerifyPin {
            dynamodb: self.dynamodb.clone(),
            table: self.table.clone(),
            policy: PinPolicy::default(),
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
        let sent = self.one_time_pin().handle(event(contact, ADMIN, &[])).await.unwrap();
        assert_eq!(sent.code(), "SENT");
        let pin = self.last_pin(ADMIN);
        let verified = self.verify_pin().handle(event(contact, ADMIN, &[("pin", &pin)])).await.unwrap();
        assert_eq!(verified.code(), "VERIFIED");
    }
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

    let sent = send.handle(event("c-sent", ADMIN, &[])).await.unwrap();
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

    // Not E.164, unknown and disabled admins: NOT_ADMIN and no SMS.
    for number in ["0412345678", "+61400555666", "+61499999999"] {
        let result = send.handle(event("c-x", number, &[])).await.unwrap();
        assert_result(&result, "NOT_ADMIN", &[]);
    }
    // The parameter wins over the caller id.
    let result = send.handle(event("c-y", ADMIN, &[("phoneNumber", "+61400555666")])).await.unwrap();
    assert_result(&result, "NOT_ADMIN", &[]);
    assert_eq!(h.cloud.emulator.outbox().len(), 1, "no SMS for refused numbers");
    assert!(h.item("OTP#c-x", "CHALLENGE").await.is_none());

    // A landline admin is told so.
    let result = send.handle(event("c-land", "+61298765432", &[])).await.unwrap();
    assert_result(&result, "NOT_MOBILE", &[("PhoneType", "LANDLINE")]);

    // An SMS that is not delivered: SMS_FAILED and no challenge left behind.
    let result = send.handle(event("c-fail", "+61400000999", &[])).await.unwrap();
    assert_result(&result, "SMS_FAILED", &[]);
    assert!(h.item("OTP#c-fail", "CHALLENGE").await.is_none());

    // No contact id: the flow gets INVALID_INPUT naming it.
    let no_contact: ContactFlowEvent = serde_json::from_value(serde_json::json!({"Details": {}})).unwrap();
    assert_result(&send.handle(no_contact).await.unwrap(), "INVALID_INPUT", &[("Field", "ContactId")]);
}

#[tokio::test]
async fn sends_are_rate_limited_per_number_and_window() {
    let h = Harness::start().await;
    let send = h.one_time_pin();
    for i in 0..3 {
        assert_result(&send.handle(event(&format!("c-{i}"), ADMIN, &[])).await.unwrap(), "SENT", &[]);
    }
    assert_result(&send.handle(event("c-3", ADMIN, &[])).await.unwrap(), "RATE_LIMITED", &[]);
    assert_eq!(h.cloud.emulator.outbox().len(), 3);
    // Another admin has their own window.
    assert_result(&send.handle(event("c-4", "+61412000111", &[])).await.unwrap(), "SENT", &[]);
    // The next window opens again.
    h.clock.advance(time::Duration::seconds(900));
    assert_result(&send.handle(event("c-5", ADMIN, &[])).await.unwrap(), "SENT", &[]);
}

#[tokio::test]
async fn pins_verify_once_expire_and_lock_after_three_wrong_tries() {
    let h = Harness::start().await;
    let (send, verify) = (h.one_time_pin(), h.verify_pin());

    // Right PIN (with the # the caller pressed): VERIFIED, then never again (replay).
    send.handle(event("c-ok", ADMIN, &[])).await.unwrap();
    let pin = h.last_pin(ADMIN);
    assert_result(&verify.handle(event("c-ok", ADMIN, &[("pin", &format!("{pin}#"))])).await.unwrap(), "VERIFIED", &[]);
    assert_result(&verify.handle(event("c-ok", ADMIN, &[("pin", &pin)])).await.unwrap(), "NO_CHALLENGE", &[]);

    // Three wrong PINs lock the challenge; the right one is refused after that.
    send.handle(event("c-lock", ADMIN, &[])).await.unwrap();
    let pin = h.last_pin(ADMIN);
    let wrong = if pin == "000000" { "111111" } else { "000000" };
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", wrong)])).await.unwrap(),
        "WRONG_PIN",
        &[("AttemptsLeft", "2")],
    );
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", "12")])).await.unwrap(),
        "WRONG_PIN",
        &[("AttemptsLeft", "1")],
    );
    assert_result(
        &verify.handle(event("c-lock", ADMIN, &[("pin", wrong)])).await.unwrap(),
        "LOCKED",
        &[("AttemptsLeft", "0")],
    );
    assert_result(&verify.handle(event("c-lock", ADMIN, &[("pin", &pin)])).await.unwrap(), "LOCKED", &[]);
    let challenge = h.item("OTP#c-lock", "CHALLENGE").await.unwrap();
    assert_eq!(challenge["attempts"], AttributeValue::N("3".into()), "tries stop counting at the limit");

    // A PIN keyed after its expiry: EXPIRED.
    h.clock.advance(time::Duration::seconds(900)); // a fresh rate window too
    send.handle(event("c-late", ADMIN, &[])).await.unwrap();
    let pin = h.last_pin(ADMIN);
    h.clock.advance(time::Duration::seconds(120));
    assert_result(&verify.handle(event("c-late", ADMIN, &[("pin", &pin)])).await.unwrap(), "EXPIRED", &[]);

    // A new PIN for the same contact replaces the old one.
    send.handle(event("c-again", ADMIN, &[])).await.unwrap();
    let first = h.last_pin(ADMIN);
    send.handle(event("c-again", ADMIN, &[])).await.unwrap();
    let second = h.last_pin(ADMIN);
    if first != second {
        assert_result(&verify.handle(event("c-again", ADMIN, &[("pin", &first)])).await.unwrap(), "WRONG_PIN", &[]);
    }
    assert_result(&verify.handle(event("c-again", ADMIN, &[("pin", &second)])).await.unwrap(), "VERIFIED", &[]);

    // No challenge at all.
    assert_result(&verify.handle(event("c-none", ADMIN, &[("pin", "123456")])).await.unwrap(), "NO_CHALLENGE", &[]);
}

#[tokio::test]
async fn updates_need_a_verified_admin_and_valid_input_and_are_audited() {
    let h = Harness::start().await;
    let (update, check) = (h.update(), h.check());
    let set_sydney = [("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")];

    // Unknown and never-set locations.
    assert_result(
        &check.handle(event("c", ADMIN, &[("location", "Atlantis")])).await.unwrap(),
        "UNKNOWN_LOCATION",
        &[("Emergency", "false")],
    );
    assert_result(
        &check.handle(event("c", ADMIN, &[("location", "Sydney")])).await.unwrap(),
        "NOT_SET_UP",
        &[("Emergency", "false")],
    );

    // No verified challenge: UNAUTHORIZED and nothing written.
    assert_result(&update.handle(event("c-anon", ADMIN, &set_sydney)).await.unwrap(), "UNAUTHORIZED", &[]);
    h.one_time_pin().handle(event("c-unverified", ADMIN, &[])).await.unwrap();
    assert_result(&update.handle(event("c-unverified", ADMIN, &set_sydney)).await.unwrap(), "UNAUTHORIZED", &[]);
    assert!(h.item("LOC#Sydney", "STATE").await.is_none());

    h.verified_admin("c-admin").await;
    for (params, field) in [
        (vec![("location", "Atlantis"), ("action", "set"), ("emergencyType", "Fire Alarm")], "location"),
        (vec![("location", "Sydney"), ("action", "explode")], "action"),
        (vec![("location", "Sydney"), ("action", "set"), ("emergencyType", "Alien Invasion")], "emergencyType"),
        (vec![("location", "Sydney"), ("action", "set")], "emergencyType"),
    ] {
        let result = update.handle(event("c-admin", ADMIN, &params)).await.unwrap();
        assert_result(&result, "INVALID_INPUT", &[("Field", field)]);
    }
    assert!(h.item("LOC#Sydney", "STATE").await.is_none(), "invalid input writes nothing");

    // Set (case-insensitive input, stored in the configured spelling), then remove.
    let result = update
        .handle(event("c-admin", ADMIN, &[("location", "sydney"), ("action", "SET"), ("emergencyType", "fire alarm")]))
        .await
        .unwrap();
    assert_result(&result, "UPDATED", &[("Emergency", "true"), ("EmergencyType", "Fire Alarm")]);
    assert_result(
        &check.handle(event("c-customer", "+61400111222", &[("location", "Sydney")])).await.unwrap(),
        "OK",
        &[("Emergency", "true"), ("EmergencyType", "Fire Alarm"), ("UpdatedAt", "2026-11-23T09:00:00Z")],
    );
    h.clock.advance(time::Duration::seconds(60));
    let result = update.handle(event("c-admin", ADMIN, &[("location", "Sydney"), ("action", "remove")])).await.unwrap();
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
    assert_result(&update.handle(event("c-admin", ADMIN, &set_sydney)).await.unwrap(), "UNAUTHORIZED", &[]);
}

#[tokio::test]
async fn a_dynamodb_fault_during_update_is_a_lambda_error_and_writes_nothing() {
    use aws_sdk_dynamodb::operation::{get_item::GetItemOutput, transact_write_items::TransactWriteItemsOutput};
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    let fixture = Fixture::load(&Fixture::default_path()).unwrap();
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let now = clock.now_epoch();
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
    let dynamodb =
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&verified_challenge, &no_state, &faulty_transaction]);
    let update = update_with(dynamodb, "EmergencyTable", &fixture, &clock);

    let error = update
        .handle(event("c-admin", ADMIN, &[("location", "Sydney"), ("action", "set"), ("emergencyType", "Fire Alarm")]))
        .await
        .expect_err("a DynamoDB fault must be a Lambda error, so the flow takes its Error branch");
    let message = error.to_string();
    assert!(message.contains("TransactWriteItems"), "{message}");
    assert_eq!(faulty_transaction.num_calls(), 3, "throttling and 500s are retried, then reported");
    // Every write goes through the one transaction: a state put without its audit entry (or the
    // reverse) is impossible. Any other write call would have failed this mock client (no rule).
    assert_eq!(verified_challenge.num_calls(), 1);
}
