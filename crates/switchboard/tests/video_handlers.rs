//! The onboarding handlers through the real SDK clients against the local cloud, with an injected
//! clock where time matters (the user cache's 5-minute refresh and 12-hour TTL).

use std::{collections::BTreeMap, sync::Arc};

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::http::{HeaderMap, Method, Uri};
use switchboard::{agents::PutConnectUserCache, platform::time::ManualClock};
use switchboard_local::{
    cloud::{LocalCloud, HTTP_ROUTES},
    fixture::Fixture,
    gateway::http_api_event,
};
use time::macros::datetime;

const ALICE_CONNECT_ID: &str = "3f2504e0-4f89-41d3-9a0c-0305e82c3301";

/// The request API Gateway would pass for `PUT /connect-user-cache` with these verified claims.
fn cache_request(claims: &[(&str, &str)]) -> lambda_http::Request {
    let route = HTTP_ROUTES.iter().find(|r| r.function == "put-connect-user-cache").unwrap();
    let claims: BTreeMap<String, String> = claims.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let event = http_api_event(
        route,
        &Method::PUT,
        &Uri::from_static("/connect-user-cache"),
        &HeaderMap::new(),
        b"",
        Some(&claims),
        "123456789012",
    );
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

#[tokio::test]
async fn the_user_cache_is_skipped_for_5_minutes_and_lives_12_hours() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let sdk = cloud.sdk_config().await;
    let clock = ManualClock::new(datetime!(2026-11-23 09:00 UTC));
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let cache = PutConnectUserCache {
        connect: aws_sdk_connect::Client::from_conf(
            aws_sdk_connect::config::Builder::from(&sdk).endpoint_url(cloud.emulator.endpoint()).build(),
        ),
        dynamodb: dynamodb.clone(),
        table: cloud.fixture.video.table_name.clone(),
        instance_id: cloud.fixture.connect.instance_id.clone(),
        clock: Arc::new(clock.clone()),
    };
    let alice = [("cognito:username", "u-alice"), ("custom:connectUserId", ALICE_CONNECT_ID)];

    assert_eq!(cache.handle(cache_request(&alice)).await.unwrap().data, serde_json::json!(true));
    let written_at = clock.now_epoch();
    clock.advance(time::Duration::seconds(299));
    assert_eq!(cache.handle(cache_request(&alice)).await.unwrap().data, serde_json::json!(false));
    clock.advance(time::Duration::seconds(1));
    assert_eq!(cache.handle(cache_request(&alice)).await.unwrap().data, serde_json::json!(true));
    let refreshed_at = clock.now_epoch();
    assert_eq!(refreshed_at - written_at, 300);

    let key = format!("CUC#{ALICE_CONNECT_ID}");
    let item = dynamodb
        .get_item()
        .table_name(&cloud.fixture.video.table_name)
        .key("pk", AttributeValue::S(key.clone()))
        .key("sk", AttributeValue::S(key))
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    assert_eq!(item["ttl"], AttributeValue::N((refreshed_at + 12 * 3600).to_string()), "ttl = write time + 12 h");
    assert_eq!(item["createdAt"], AttributeValue::N(refreshed_at.to_string()));
    // The groups template.yaml declares, with the local instance's ids.
    let group_id = |name: &str| {
        let groups = &cloud.fixture.connect.hierarchy_groups;
        AttributeValue::S(groups.iter().find(|g| g.name == name).unwrap().id.clone())
    };
    assert_eq!(item["hierarchyGroupId"], group_id("Sydney video team"));
    let group = item["hierarchyGroup"].as_m().unwrap();
    assert_eq!(group["levelId"], AttributeValue::S("2".into()));
    let path = group["path"].as_m().unwrap();
    assert_eq!(path["levelOne"], group_id("APAC"));
    assert_eq!(path["levelTwo"], group_id("Sydney video team"));
    assert_eq!(item["securityProfileIds"].as_l().unwrap().len(), 2);

    // A user without a hierarchy group is cached without one; an unknown Connect user is a 404;
    // a token without the claim is a 400 naming it.
    let bob = [("cognito:username", "u-bob"), ("custom:connectUserId", "3f2504e0-4f89-41d3-9a0c-0305e82c3302")];
    assert_eq!(cache.handle(cache_request(&bob)).await.unwrap().data, serde_json::json!(true));
    let ghost = [("cognito:username", "u-x"), ("custom:connectUserId", "00000000-0000-0000-0000-000000000000")];
    assert_eq!(cache.handle(cache_request(&ghost)).await.unwrap_err().status, 404);
    let unbound = cache.handle(cache_request(&[("cognito:username", "u-alice")])).await.unwrap_err();
    assert_eq!(unbound.status, 400);
    assert!(unbound.message.starts_with("custom:connectUserId:"), "{}", unbound.message);
}
