//! The desktop site in the local cloud, over HTTP: the bucket published into moto by `publish-desktop`
//! (run as the `DesktopSite` custom resource's Create), the CloudFront
//! stand-in's behaviours (each page with its policy's headers, the local origins substituted; the
//! API behind `/api/*` without its prefix), S3's answers through the Origin Access Control, and the
//! fake CCP origin.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{header, StatusCode};
use serde_json::Value;
use switchboard_local::{
    cloud::{self, LocalCloud},
    desktop::DesktopOptions,
    fixture::Fixture,
};

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.unwrap()
}

fn header_of(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn the_stand_in_serves_the_bucket_with_each_pages_headers_and_proxies_the_api() {
    let fixture = Fixture::load(&Fixture::default_path()).unwrap();
    let mut cloud = LocalCloud::with_fleet(fixture, cloud::debug_binaries(), BTreeMap::new()).await.unwrap();
    cloud.start_desktop(DesktopOptions::default()).await.unwrap();
    let site = cloud.desktop.as_ref().unwrap();
    let origin = site.origin();
    let ccp = site.ccp.origin();
    let cognito = cloud.emulator.endpoint();

    // The fresh bucket holds the layer's files and config.json, nothing else from desktop/.
    assert_eq!(site.published["Status"], "SUCCESS", "{}", site.published);
    let s3 = cloud.s3_client().await;
    let listed = s3.list_objects_v2().bucket(&site.bucket).send().await.unwrap();
    let keys: BTreeSet<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    for key in [
        "agent.html",
        "audio-only.html",
        "in-session.html",
        "js/agent.js",
        "i18n/en.json",
        "config.json",
        "vendor/connect-streams-min.js",
    ] {
        assert!(keys.contains(key), "{key} not published: {keys:?}");
    }
    assert!(
        keys.iter().all(|k| !k.starts_with("test/") && !k.contains("node_modules") && !k.ends_with(".md")),
        "{keys:?}"
    );
    let put: usize = site.published["Data"]["ObjectsPut"].as_str().unwrap().parse().unwrap();
    assert_eq!(put + 1, keys.len(), "every object but the publish state was put: {keys:?}");

    // Each page has its own policy; the stack's origins are the local ones.
    let agent = get(&format!("{origin}/agent.html")).await;
    assert_eq!(agent.status(), StatusCode::OK);
    assert_eq!(header_of(&agent, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header_of(&agent, "cache-control"), "no-cache");
    let csp = header_of(&agent, "content-security-policy");
    assert!(csp.contains(&format!("connect-src 'self' {cognito};")), "{csp}");
    assert!(csp.contains(&format!("frame-src {ccp};")) && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(
        header_of(&agent, "permissions-policy"),
        format!("microphone=(self \"{ccp}\"), camera=(), geolocation=()")
    );
    assert!(header_of(&agent, "strict-transport-security").starts_with("max-age=31536000"), "one year");
    assert_eq!(header_of(&agent, "x-content-type-options"), "nosniff");
    assert_eq!(header_of(&agent, "referrer-policy"), "no-referrer");
    assert_eq!(header_of(&agent, "cross-origin-opener-policy"), "same-origin-allow-popups");
    let etag = header_of(&agent, "etag");
    assert!(agent.text().await.unwrap().contains("js/agent.js"));

    let in_session = get(&format!("{origin}/in-session.html")).await;
    assert_eq!(header_of(&in_session, "permissions-policy"), "microphone=(), camera=(), geolocation=()");
    assert!(header_of(&in_session, "content-security-policy").contains("connect-src 'self';"), "no Cognito");
    let audio = get(&format!("{origin}/audio-only.html")).await;
    assert!(header_of(&audio, "permissions-policy").starts_with(&format!("microphone=(self \"{ccp}\")")));

    // Modules, texts and config.json take the default behaviour.
    let module = get(&format!("{origin}/js/panel.js")).await;
    assert_eq!(header_of(&module, "content-type"), "text/javascript; charset=utf-8");
    assert!(header_of(&module, "content-security-policy").contains(&cognito));
    let config: Value = get(&format!("{origin}/config.json")).await.json().await.unwrap();
    assert_eq!(config["ccpUrl"], format!("{ccp}/ccp-v2/"));
    assert_eq!(config["cognito"]["domain"], cognito.as_str());
    assert_eq!(config["cognito"]["clientId"], cloud.user_pool.desktop_client_id.as_str());
    assert_eq!(
        get(&format!("{origin}/")).await.text().await.unwrap(),
        get(&format!("{origin}/agent.html")).await.text().await.unwrap(),
        "the default root object"
    );

    // ETag revalidation; a missing key is S3's AccessDenied (no ListBucket), with the policy's headers.
    let revalidated = reqwest::Client::new()
        .get(format!("{origin}/agent.html"))
        .header(header::IF_NONE_MATCH, &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    let missing = get(&format!("{origin}/secret.html")).await;
    assert_eq!(missing.status(), StatusCode::FORBIDDEN);
    assert!(!header_of(&missing, "content-security-policy").is_empty());
    assert!(missing.text().await.unwrap().contains("<Code>AccessDenied</Code>"));
    let post = reqwest::Client::new().post(format!("{origin}/agent.html")).send().await.unwrap();
    assert_eq!(post.status(), StatusCode::FORBIDDEN, "the bucket behaviours allow GET and HEAD only");

    // /api/* reaches the HTTP API without the prefix: its authorizer answers, under the strictest
    // policy (the in-session page's: no microphone), since every behaviour has one.
    let api = get(&format!("{origin}/api/session_info/4a573372-1f28-4e26-b97b-000000000001")).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&api, "www-authenticate"), "Bearer");
    assert!(header_of(&api, "content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header_of(&api, "permissions-policy"), "microphone=(), camera=(), geolocation=()");
    assert_eq!(api.json::<Value>().await.unwrap()["message"], "Unauthorized");
    assert_eq!(get(&format!("{origin}/api/no-such-route")).await.status(), StatusCode::NOT_FOUND);

    // The fake CCP: framable by the site and the agent-app's origins only, with Streams' bundle beside it.
    let frame = get(&site.ccp.ccp_url()).await;
    let agent_app = switchboard_local::cloud::cors_origins().join(" ");
    assert_eq!(header_of(&frame, "content-security-policy"), format!("frame-ancestors {origin} {agent_app}"));
    let page = frame.text().await.unwrap();
    assert!(page.contains("connect-streams-min.js") && page.contains("content=\"answer\""), "{page}");
    let bundle = get(&format!("{ccp}/ccp-v2/connect-streams-min.js")).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.text().await.unwrap().contains("initCCP"));
}
