//! The desktop site in the local cloud, over HTTP: the bucket published into moto, the CloudFront
//! stand-in's behaviours (each page with its policy's headers, the local origins substituted; the
//! API behind `/api/*` without its prefix), S3's answers through the Origin Access Control, and the
//! fake CCP origin.

use reqwest::{header, StatusCode};
use serde_json::Value;
use switchboard_local::{
    cloud::LocalCloud,
    desktop::{self, publish, DesktopOptions},
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
    let mut cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    // No functions: the API's authorizer answers before any would run.
    cloud.start_gateway("http://127.0.0.1:9".into()).await.unwrap();
    cloud.start_desktop(DesktopOptions::default()).await.unwrap();
    let site = cloud.desktop.as_ref().unwrap();
    let origin = site.origin();
    let ccp = site.ccp.origin();
    let cognito = cloud.emulator.endpoint();

    // Everything was put into the fresh bucket; publishing the same set again puts nothing.
    for key in [
        "agent.html",
        "audio-only.html",
        "in-session.html",
        "js/agent.js",
        "i18n/en.json",
        "config.json",
        publish::STREAMS_KEY,
    ] {
        assert!(site.published.put.iter().any(|k| k == key), "{key} not published: {:?}", site.published.put);
    }
    assert!(site.published.put.iter().all(|k| !k.starts_with("test/") && !k.contains("node_modules")));
    let s3 = cloud.s3_client().await;
    let mut assets = publish::desktop_assets(&desktop::desktop_dir()).unwrap();
    assets.push(publish::Asset::new("config.json", serde_json::to_vec_pretty(&site.config).unwrap()).unwrap());
    s3.put_object().bucket(&site.bucket).key("old.html").body(b"stale".to_vec().into()).send().await.unwrap();
    let again = publish::publish(&s3, &site.bucket, &cloud.fixture.region, &assets).await.unwrap();
    assert_eq!(again, publish::Published { put: vec![], deleted: vec!["old.html".into()] });

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

    // /api/* reaches the HTTP API without the prefix: its authorizer answers, with no page policy.
    let api = get(&format!("{origin}/api/session_info/4a573372-1f28-4e26-b97b-000000000001")).await;
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header_of(&api, "www-authenticate"), "Bearer");
    assert!(header_of(&api, "content-security-policy").is_empty());
    assert_eq!(api.json::<Value>().await.unwrap()["message"], "Unauthorized");
    assert_eq!(get(&format!("{origin}/api/no-such-route")).await.status(), StatusCode::NOT_FOUND);

    // The fake CCP: framable by the site only, with Streams' bundle beside it.
    let frame = get(&site.ccp.ccp_url()).await;
    assert_eq!(header_of(&frame, "content-security-policy"), format!("frame-ancestors {origin}"));
    let page = frame.text().await.unwrap();
    assert!(page.contains("connect-streams-min.js") && page.contains("content=\"answer\""), "{page}");
    let bundle = get(&format!("{ccp}/ccp-v2/connect-streams-min.js")).await;
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.text().await.unwrap().contains("initCCP"));
}
