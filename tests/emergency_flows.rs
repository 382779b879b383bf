//! The emergency context end to end: the real flows, played by the flow runner, invoking the real
//! function binaries, which call moto and the emulator through the real SDK clients.

use aws_sdk_dynamodb::types::AttributeValue;
use switchboard_fleet_tests::Fleet;
use switchboard_local::flow::{Ending, Step};

const ADMIN: &str = "+61412345678";
const SYDNEY_LINE: &str = "+61255501000";
const MANILA_LINE: &str = "+63255501000";
const CUSTOMER: &str = "+61400111222";

const AUTH: &str = "emergency/Emergency_Authentication";
const DEMO: &str = "emergency/Emergency_Demo";

#[tokio::test]
async fn admin_sets_sydney_into_an_emergency_and_customers_hear_it() {
    let fleet = Fleet::start().await;

    // The admin calls, gets the PIN by SMS, keys it, picks Sydney (1), set (1), severe weather (1),
    // then hangs up at "update another location" (no input).
    let admin = fleet.call(AUTH, ADMIN, "+61255509999", &["sms", "1", "1", "1"]).await;
    assert_eq!(admin.result_codes("one-time-pin"), ["SENT"]);
    let outbox = fleet.cloud.emulator.outbox();
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].to, ADMIN);
    let pin: String = outbox[0].body.chars().filter(char::is_ascii_digit).take(6).collect();
    assert!(admin.steps.contains(&Step::Input { digits: pin.clone() }), "the runner keyed the PIN from the SMS");
    assert_eq!(admin.result_codes("verify-pin"), ["VERIFIED"]);
    assert!(admin.steps.contains(&Step::Flow { name: "emergency/Emergency_Update".into() }));
    assert_eq!(admin.result_codes("check-emergency"), ["NOT_SET_UP"]);
    let update = admin.results_of("update-emergency");
    assert_eq!(update.len(), 1);
    assert_eq!(update[0]["Result"], "UPDATED");
    assert_eq!(update[0]["EmergencyType"], "Severe Weather");
    assert!(admin.heard("Done. Sydney is now set to: Severe Weather."), "{admin}");
    assert_eq!(admin.ending, Some(Ending::Disconnected));

    // A customer calling Sydney hears the emergency message, presses 1 and is queued.
    let sydney = fleet.call(DEMO, CUSTOMER, SYDNEY_LINE, &["1"]).await;
    assert!(sydney.heard("Due to a Severe Weather at our Sydney centre, wait times are much longer"), "{sydney}");
    assert_eq!(sydney.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));

    // A customer calling Manila queues normally.
    let manila = fleet.call(DEMO, CUSTOMER, MANILA_LINE, &[]).await;
    assert_eq!(manila.result_codes("check-emergency"), ["NOT_SET_UP"]);
    assert!(!manila.heard("wait times are much longer"), "{manila}");
    assert_eq!(manila.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));

    // The audit entry exists, with the admin and the previous state.
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let audit = dynamodb
        .query()
        .table_name(&fleet.cloud.fixture.emergency.table_name)
        .key_condition_expression("pk = :pk AND begins_with(sk, :audit)")
        .expression_attribute_values(":pk", AttributeValue::S("LOC#Sydney".into()))
        .expression_attribute_values(":audit", AttributeValue::S("AUDIT#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(audit.items().len(), 1);
    let entry = &audit.items()[0];
    assert_eq!(entry["updatedBy"], AttributeValue::S(ADMIN.into()));
    assert_eq!(entry["previousEmergency"], AttributeValue::Bool(false));
    assert_eq!(entry["emergency"], AttributeValue::Bool(true));
    assert_eq!(entry["emergencyType"], AttributeValue::S("Severe Weather".into()));

    // The PIN is in no function output and in no log line.
    for step in &admin.steps {
        if let Step::Invoke { result: Some(result), .. } = step {
            assert!(result.values().all(|v| !v.contains(&pin)), "PIN in a function output: {result:?}");
        }
    }
    let logs = fleet.logs();
    assert!(logs.iter().any(|l| l.contains("PIN sent")), "the functions' logs were captured: {logs:#?}");
    for line in &logs {
        assert!(!line.contains(&pin), "PIN in a log line: {line}");
        assert!(!line.contains(ADMIN), "unmasked admin number in a log line: {line}");
    }
}

#[tokio::test]
async fn refused_admins_are_told_why_and_get_no_sms() {
    let fleet = Fleet::start().await;

    let stranger = fleet.call(AUTH, "+61400555666", "+61255509999", &[]).await;
    assert_eq!(stranger.result_codes("one-time-pin"), ["NOT_ADMIN"]);
    assert!(stranger.heard("Please call from your registered phone."), "{stranger}");
    assert_eq!(stranger.ending, Some(Ending::Disconnected));

    let landline = fleet.call(AUTH, "+61298765432", "+61255509999", &[]).await;
    assert_eq!(landline.result_codes("one-time-pin"), ["NOT_MOBILE"]);
    assert!(landline.heard("not a mobile phone"), "{landline}");

    let unreachable = fleet.call(AUTH, "+61400000999", "+61255509999", &[]).await;
    assert_eq!(unreachable.result_codes("one-time-pin"), ["SMS_FAILED"]);
    assert!(unreachable.heard("could not send a text message"), "{unreachable}");

    assert!(fleet.cloud.emulator.outbox().is_empty(), "no SMS for refused callers");
    // No challenge was left behind for the failed SMS (nor for anyone else).
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    let challenges = dynamodb
        .scan()
        .table_name(&fleet.cloud.fixture.emergency.table_name)
        .filter_expression("begins_with(pk, :otp)")
        .expression_attribute_values(":otp", AttributeValue::S("OTP#".into()))
        .send()
        .await
        .unwrap();
    assert_eq!(challenges.count(), 0);
}

#[tokio::test]
async fn three_wrong_pins_lock_and_the_fourth_request_is_rate_limited() {
    let fleet = Fleet::start().await;
    let manager = "+61412000111";

    // "1" can never match a 6-digit PIN.
    let locked = fleet.call(AUTH, manager, "+61255509999", &["1#", "1#", "1#", "sms"]).await;
    assert_eq!(locked.result_codes("verify-pin"), ["WRONG_PIN", "WRONG_PIN", "LOCKED"]);
    assert!(locked.heard("You have 2 tries left."), "{locked}");
    assert!(locked.heard("no tries are left"), "{locked}");
    assert!(!locked.steps.iter().any(|s| matches!(s, Step::Flow { name } if name.ends_with("Emergency_Update"))));

    fleet.call(AUTH, manager, "+61255509999", &[]).await;
    fleet.call(AUTH, manager, "+61255509999", &[]).await;
    let fourth = fleet.call(AUTH, manager, "+61255509999", &[]).await;
    assert_eq!(fourth.result_codes("one-time-pin"), ["RATE_LIMITED"]);
    assert!(fourth.heard("Too many PINs"), "{fourth}");
    assert_eq!(fleet.cloud.emulator.outbox().len(), 3);
}

#[tokio::test]
async fn the_update_flow_reached_without_a_pin_changes_nothing() {
    let fleet = Fleet::start().await;
    // As if a phone number were attached to Emergency_Update by mistake: the server refuses.
    let intruder = fleet.call("emergency/Emergency_Update", ADMIN, "+61255509999", &["1", "1", "2"]).await;
    assert_eq!(intruder.result_codes("update-emergency"), ["UNAUTHORIZED"]);
    assert!(intruder.heard("Please call the administration line again."), "{intruder}");
    let customer = fleet.call(DEMO, CUSTOMER, SYDNEY_LINE, &[]).await;
    assert_eq!(customer.result_codes("check-emergency"), ["NOT_SET_UP"]);
    assert_eq!(customer.ending, Some(Ending::Queued { queue: "BasicQueue".into() }));
}

#[tokio::test]
async fn flow_logs_never_see_the_pin_keyed_or_passed_to_verify_pin() {
    let fleet = Fleet::start().await;
    // A wrong PIN first (the retry loop must stay unlogged too), then the right one.
    let admin = fleet.call(AUTH, ADMIN, "+61255509999", &["000000", "sms"]).await;
    assert_eq!(admin.result_codes("verify-pin").last(), Some(&"VERIFIED"), "{admin}");
    let steps = admin.with_flow_logging();
    let pin_steps: Vec<_> = steps
        .iter()
        .filter(|(_, step)| {
            matches!(step, Step::Input { .. })
                || matches!(step, Step::Invoke { function, .. } if function == "verify-pin")
        })
        .collect();
    assert_eq!(pin_steps.len(), 4, "two PINs keyed, two verify-pin calls: {admin}");
    for (logged, step) in pin_steps {
        assert!(!logged, "flow logging is on for {step:?}");
    }
    let (logged_send, _) = steps
        .iter()
        .find(|(_, step)| matches!(step, Step::Invoke { function, .. } if function == "one-time-pin"))
        .unwrap();
    assert!(logged_send, "logging is on before the PIN is involved");
    let (logged_after, _) = steps
        .iter()
        .find(|(_, step)| matches!(step, Step::Flow { name } if name == "emergency/Emergency_Update"))
        .unwrap();
    assert!(logged_after, "logging is back on once the PIN is verified");
}

/// A fault's Lambda error names its kind (what an operator searches the logs for), not a Rust type
/// path, and keeps its message: a stored location state without its `emergency` flag is a StoreError.
#[tokio::test]
async fn a_malformed_stored_state_is_a_lambda_error_named_store_error() {
    let fleet = Fleet::start().await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&fleet.cloud.sdk_config().await);
    dynamodb
        .put_item()
        .table_name(&fleet.cloud.fixture.emergency.table_name)
        .item("pk", AttributeValue::S("LOC#Sydney".into()))
        .item("sk", AttributeValue::S("STATE".into()))
        .item("emergencyType", AttributeValue::S("Fire Alarm".into()))
        .send()
        .await
        .unwrap();
    let event: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(switchboard_local::repo_root().join("events/check-emergency/sydney.json")).unwrap(),
    )
    .unwrap();
    let lambda = switchboard_local::lambda_host::InvokeClient::new(fleet.cloud.fleet().unwrap().endpoint());
    let error = lambda.invoke("check-emergency", &event).await.expect_err("a Lambda error");
    let body: serde_json::Value = serde_json::from_str(error.split_once(": ").unwrap().1).unwrap();
    assert_eq!(body["errorType"], "StoreError", "{error}");
    assert_eq!(
        body["errorMessage"],
        "DynamoDB GetItem failed: stored item is malformed: location state without emergency"
    );
    // The failure's log line names the kind and the contact, to find it from a contact id.
    let logged = fleet.logs().into_iter().find(|l| l.contains("flow function failed")).expect("a failure line");
    assert!(
        logged.contains(r#""kind":"StoreError""#)
            && logged.contains(r#""contact_id":"7d1c9e2b-5a3f-4c8e-b0d2-6f4a1e9c3b01""#),
        "{logged}"
    );
}
