//! `switchboard-local invoke`, run as a developer runs it: the built command, a function's debug
//! binary and a sample event, with no local cloud running and against a running one.

use std::{collections::BTreeMap, path::PathBuf, process::Output};

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;
use switchboard_local::{cloud::LocalCloud, cloud_file::CloudFile, fixture::Fixture, repo_root};

const SYDNEY: &str = "events/check-emergency/sydney.json";

/// Where the command looks for a running cloud: a path of the test's own, so that a developer's
/// `make dev` in this checkout does not decide what the test sees.
fn cloud_file(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("switchboard-invoke-{name}-{}.json", uuid::Uuid::new_v4()))
}

fn invoke(cloud_file: &std::path::Path, args: &[&str]) -> Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_switchboard-local"))
        .arg("invoke")
        .args(args)
        .current_dir(repo_root())
        .env("SWITCHBOARD_CLOUD_FILE", cloud_file)
        .env_remove("SWITCHBOARD_ECHO_LOGS")
        .output()
        .expect("switchboard-local runs");
    println!("stdout:\n{}", String::from_utf8_lossy(&output.stdout));
    println!("stderr:\n{}", String::from_utf8_lossy(&output.stderr));
    output
}

fn answer(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).expect("the answer on stdout is JSON")
}

#[test]
fn with_no_cloud_running_it_starts_one_for_the_invocation_and_prints_the_answer_and_the_logs() {
    let output = invoke(&cloud_file("none"), &["check-emergency", SYDNEY]);
    assert!(output.status.success());
    let result = answer(&output)["Result"].as_str().map(str::to_owned);
    assert!(matches!(result.as_deref(), Some("NOT_SET_UP" | "OK")), "{result:?}");
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("flow function answered"), "the function's log lines are on stderr");
}

#[test]
fn an_unknown_function_fails_naming_the_known_ones() {
    let output = invoke(&cloud_file("unknown"), &["check-emergencies", SYDNEY]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("unknown function \"check-emergencies\""), "{message}");
    // The known functions are listed (sorted), the near miss among them.
    assert!(message.contains("check-emergency, connect-associations"), "{message}");
    assert!(message.contains("one-time-pin"), "{message}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_missing_event_file_fails_naming_the_path() {
    let output = invoke(&cloud_file("missing"), &["check-emergency", "events/check-emergency/nowhere.json"]);
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("events/check-emergency/nowhere.json"), "{message}");
}

#[tokio::test]
async fn with_a_cloud_running_it_uses_its_services_and_its_function_environment() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let dynamodb = aws_sdk_dynamodb::Client::new(&cloud.sdk_config().await);
    dynamodb
        .put_item()
        .table_name(&cloud.fixture.emergency.table_name)
        .item("pk", AttributeValue::S("LOC#Sydney".into()))
        .item("sk", AttributeValue::S("STATE".into()))
        .item("emergency", AttributeValue::Bool(true))
        .item("emergencyType", AttributeValue::S("Fire alarm".into()))
        .item("updatedAt", AttributeValue::S("2025-01-01T00:00:00Z".into()))
        .send()
        .await
        .unwrap();
    let path = cloud_file("running");
    let mut file = CloudFile::describe(&cloud, "http://127.0.0.1:9".into());
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();

    // Only this cloud's table has Sydney in an emergency.
    let output = tokio::task::spawn_blocking({
        let path = path.clone();
        move || invoke(&path, &["check-emergency", SYDNEY])
    })
    .await
    .unwrap();
    assert!(output.status.success());
    let answer = answer(&output);
    assert_eq!((answer["Result"].as_str(), answer["Emergency"].as_str()), (Some("OK"), Some("true")), "{answer}");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("starting moto"));

    // A function that cannot start in the cloud's environment is a Lambda error: a failed command.
    file.function_env = BTreeMap::from([("AWS_REGION".to_owned(), cloud.fixture.region.clone())]);
    std::fs::write(&path, serde_json::to_string(&file).unwrap()).unwrap();
    let output = tokio::task::spawn_blocking({
        let path = path.clone();
        move || invoke(&path, &["check-emergency", SYDNEY])
    })
    .await
    .unwrap();
    assert!(!output.status.success());
    let message = String::from_utf8_lossy(&output.stderr);
    assert!(message.contains("check-emergency returned a Lambda error"), "{message}");
    assert!(message.contains("EMERGENCY_TABLE"), "the function's own log names what is missing: {message}");
    let _ = std::fs::remove_file(path);
}
