//! `publish-desktop` as CloudFormation drives it: the `DesktopSite` custom resource's Create,
//! Update and Delete through the real binary, answered at the ResponseURL (the emulator's), against
//! the bucket and a distribution in moto. The local cloud's `start_desktop` is the Create.

use std::collections::BTreeMap;

use serde_json::{json, Value};
use switchboard::desktop::publish_desktop::STATE_KEY;
use switchboard_fleet_tests::Fleet;
use switchboard_local::{cloud::LocalCloud, desktop};

/// Every object with what changes when it is written again: key → (ETag, last modified).
async fn objects(cloud: &LocalCloud, bucket: &str) -> BTreeMap<String, (String, String)> {
    let listed = cloud.s3_client().await.list_objects_v2().bucket(bucket).send().await.unwrap();
    listed
        .contents()
        .iter()
        .map(|o| {
            let key = o.key().unwrap().to_owned();
            (key, (o.e_tag().unwrap_or_default().to_owned(), format!("{:?}", o.last_modified())))
        })
        .collect()
}

async fn invalidations(cloud: &LocalCloud, distribution_id: &str) -> i32 {
    let cloudfront = aws_sdk_cloudfront::Client::new(&cloud.sdk_config().await);
    let listed = cloudfront.list_invalidations().distribution_id(distribution_id).send().await.unwrap();
    listed.invalidation_list().map(|l| l.quantity()).unwrap_or_default()
}

async fn config(cloud: &LocalCloud, bucket: &str) -> Value {
    desktop::read_config(&cloud.s3_client().await, bucket).await.unwrap()
}

fn data(answer: &Value, key: &str) -> String {
    answer["Data"][key].as_str().unwrap_or_else(|| panic!("no {key} in {answer}")).to_owned()
}

/// An Update or Delete of the `DesktopSite` resource (physical id: the bucket), and its answer.
async fn request(cloud: &LocalCloud, kind: &str, properties: Value, bucket: &str, old: Value) -> Value {
    let answer = cloud
        .custom_resource(desktop::PUBLISH_FUNCTION, kind, desktop::SITE_RESOURCE, properties, Some((bucket, old)))
        .await
        .unwrap();
    println!("{kind} answered {answer}");
    answer
}

#[tokio::test]
async fn the_site_is_published_once_changes_are_published_and_delete_empties_the_bucket() {
    let mut fleet = Fleet::start().await;
    fleet.cloud.start_desktop(desktop::DesktopOptions::default()).await.unwrap();
    let cloud = &fleet.cloud;
    let site = cloud.desktop.as_ref().unwrap();
    let (bucket, distribution) = (site.bucket.clone(), site.distribution_id.clone());
    let properties = desktop::site_properties(
        &bucket,
        &distribution,
        &site.ccp,
        &cloud.emulator.endpoint(),
        &cloud.user_pool.desktop_client_id,
        None,
    );
    let update = |properties: Value, old: Value| request(cloud, "Update", properties, &bucket, old);

    // The Create put every object and made one invalidation; the physical id is the bucket.
    assert_eq!(site.published["Status"], "SUCCESS", "{}", site.published);
    assert_eq!(site.published["PhysicalResourceId"], bucket.as_str());
    assert_eq!(invalidations(cloud, &distribution).await, 1);
    let published = objects(cloud, &bucket).await;

    // The same set again (a stack update that changed nothing here): nothing put, nothing invalidated.
    let again = update(properties.clone(), properties.clone()).await;
    assert_eq!(again["Status"], "SUCCESS");
    assert_eq!((data(&again, "ObjectsPut"), data(&again, "ObjectsDeleted")), ("0".into(), "0".into()));
    assert_eq!(data(&again, "InvalidationId"), "");
    assert_eq!(objects(cloud, &bucket).await, published, "no object was written again");
    assert_eq!(invalidations(cloud, &distribution).await, 1);

    // A changed parameter and a stray object: config.json alone is put, the stray deleted, one invalidation.
    let s3 = cloud.s3_client().await;
    s3.put_object().bucket(&bucket).key("old.html").body(b"stale".to_vec().into()).send().await.unwrap();
    let mut dutch = properties.clone();
    dutch["Locale"] = json!("nl");
    let changed = update(dutch.clone(), properties.clone()).await;
    assert_eq!(changed["Status"], "SUCCESS");
    assert_eq!((data(&changed, "ObjectsPut"), data(&changed, "ObjectsDeleted")), ("1".into(), "1".into()));
    assert!(!data(&changed, "InvalidationId").is_empty());
    assert_eq!(invalidations(cloud, &distribution).await, 2);
    assert_eq!(config(cloud, &bucket).await["locale"], "nl");
    assert!(!objects(cloud, &bucket).await.contains_key("old.html"));

    // A run that wrote the objects but failed before its invalidation left no record of the set:
    // the retry has nothing to put and still invalidates.
    s3.delete_object().bucket(&bucket).key(STATE_KEY).send().await.unwrap();
    let retried = update(dutch.clone(), dutch.clone()).await;
    assert_eq!(data(&retried, "ObjectsPut"), "0");
    assert!(!data(&retried, "InvalidationId").is_empty());
    assert_eq!(invalidations(cloud, &distribution).await, 3);

    // A bad parameter fails the update naming the property, and writes nothing.
    let before = objects(cloud, &bucket).await;
    let mut german = dutch.clone();
    german["Locale"] = json!("de");
    let refused = update(german, dutch.clone()).await;
    assert_eq!(refused["Status"], "FAILED");
    let reason = refused["Reason"].as_str().unwrap();
    assert!(reason.starts_with("ResourceProperties.Locale:"), "{reason}");
    assert_eq!(refused["PhysicalResourceId"], bucket.as_str(), "a failed update keeps the resource");
    assert_eq!(objects(cloud, &bucket).await, before);
    let mut untyped = dutch.clone();
    untyped["Poll"] = json!("fast");
    let refused = update(untyped, dutch.clone()).await;
    assert!(refused["Reason"].as_str().unwrap().starts_with("ResourceProperties.Poll"), "{refused}");

    // Delete empties the bucket (CloudFormation then deletes it); again, and with properties that
    // never made a resource, it is still a success.
    let delete = |properties: Value| request(cloud, "Delete", properties, &bucket, json!({}));
    assert_eq!(delete(dutch.clone()).await["Status"], "SUCCESS");
    assert!(objects(cloud, &bucket).await.is_empty());
    assert_eq!(delete(dutch.clone()).await["Status"], "SUCCESS");
    assert_eq!(delete(json!({"Bucket": 7})).await["Status"], "SUCCESS");

    // Nothing the function logged names the answer's presigned URL.
    for line in fleet.logs() {
        assert!(!line.contains("custom-resource-responses"), "the ResponseURL in a log line: {line}");
    }
}
