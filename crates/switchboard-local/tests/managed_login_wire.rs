//! Managed login on the emulator's Cognito front, on the wire as a browser and a page's `fetch`
//! meet it: `/oauth2/authorize` (the app client's rules, PKCE), the login form with its cookies,
//! `/oauth2/token` for both grants with Cognito's error shapes, and tokens from moto that carry the
//! claims the HTTP API's JWT authorizer checks.

use reqwest::{header, redirect::Policy, Response, StatusCode, Url};
use serde_json::Value;
use switchboard_local::{
    cloud::LocalCloud,
    fixture::{Agent, Fixture},
};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
/// RFC 7636 appendix B: the S256 challenge of `VERIFIER`.
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SITE_ORIGIN: &str = "http://127.0.0.1:5555";
const FORM: &str = "application/x-www-form-urlencoded";

struct Browser {
    http: reqwest::Client,
    domain: String,
    callback: String,
    client_id: String,
    /// Cookies set by the domain, `name=value`.
    cookies: Vec<String>,
}

impl Browser {
    fn new(cloud: &LocalCloud) -> Self {
        Self {
            http: reqwest::Client::builder().redirect(Policy::none()).build().unwrap(),
            domain: cloud.emulator.endpoint(),
            callback: format!("http://{}/agent.html", cloud.desktop_addr),
            client_id: cloud.user_pool.desktop_client_id.clone(),
            cookies: Vec::new(),
        }
    }

    fn authorize_url(&self, overrides: &[(&str, &str)]) -> String {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.callback.as_str()),
            ("scope", "openid email"),
            ("state", "st-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ];
        for (key, value) in overrides {
            params.retain(|(k, _)| k != key);
            if !value.is_empty() {
                params.push((key, value));
            }
        }
        Url::parse_with_params(&format!("{}/oauth2/authorize", self.domain), &params).unwrap().into()
    }

    async fn get(&mut self, url: &str) -> Response {
        let url = if url.starts_with('/') { format!("{}{url}", self.domain) } else { url.to_owned() };
        let response = self.http.get(url).header(header::COOKIE, self.cookies.join("; ")).send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    async fn post_login(&mut self, action: &str, form: &[(&str, &str)], with_cookies: bool) -> Response {
        let mut request = self
            .http
            .post(format!("{}{action}", self.domain))
            .header(header::CONTENT_TYPE, FORM)
            .body(serde_urlencoded::to_string(form).unwrap());
        if with_cookies {
            request = request.header(header::COOKIE, self.cookies.join("; "));
        }
        let response = request.send().await.unwrap();
        self.keep_cookies(&response);
        response
    }

    fn keep_cookies(&mut self, response: &Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap().to_owned();
            let name = pair.split('=').next().unwrap().to_owned();
            self.cookies.retain(|c| !c.starts_with(&format!("{name}=")));
            self.cookies.push(pair);
        }
    }

    async fn token<F: serde::Serialize + ?Sized>(&self, form: &F) -> (StatusCode, Option<String>, Value) {
        let response = self
            .http
            .post(format!("{}/oauth2/token", self.domain))
            .header(header::ORIGIN, SITE_ORIGIN)
            .header(header::CONTENT_TYPE, FORM)
            .body(serde_urlencoded::to_string(form).unwrap())
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json;charset=UTF-8");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let cors = response.headers().get(header::ACCESS_CONTROL_ALLOW_ORIGIN).map(|v| v.to_str().unwrap().to_owned());
        (status, cors, response.json().await.unwrap())
    }
}

fn location(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND, "a redirect");
    response.headers()[header::LOCATION].to_str().unwrap().to_owned()
}

fn query(url: &str) -> Vec<(String, String)> {
    let base = Url::parse("http://relative.invalid").unwrap();
    let url = Url::options().base_url(Some(&base)).parse(url).unwrap();
    url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query(url).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// The value of the form's hidden `_csrf` field.
fn csrf_of(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).expect("a _csrf field") + marker.len();
    html[start..].split('"').next().unwrap().to_owned()
}

fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims::<Value>(jwt).unwrap()
}

/// The authorization code grant's form.
fn redeem<'a>(browser: &'a Browser, code: &'a str, verifier: &'a str) -> [(&'static str, &'a str); 5] {
    [
        ("grant_type", "authorization_code"),
        ("client_id", &browser.client_id),
        ("code", code),
        ("redirect_uri", &browser.callback),
        ("code_verifier", verifier),
    ]
}

/// Signs `agent` in through the form; the redirect back to the client.
async fn sign_in(browser: &mut Browser, agent: &Agent) -> String {
    let to_login = location(&browser.get(&browser.authorize_url(&[])).await);
    assert!(to_login.starts_with("/login?login="), "{to_login}");
    let form = browser.get(&to_login).await.text().await.unwrap();
    let csrf = csrf_of(&form);
    let answer = browser
        .post_login(&to_login, &[("_csrf", &csrf), ("username", &agent.email), ("password", &agent.password)], true)
        .await;
    location(&answer)
}

#[tokio::test]
async fn an_agent_signs_in_with_code_and_pkce_and_refreshes_as_with_cognito() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let alice = cloud.fixture.cognito.agents[0].clone();
    let mut browser = Browser::new(&cloud);

    // The form: Cognito's classic field names, our CSRF token in a cookie and the form.
    let to_login = location(&browser.get(&browser.authorize_url(&[])).await);
    let form = browser.get(&to_login).await;
    assert_eq!(form.status(), StatusCode::OK);
    assert_eq!(form.headers()[header::X_FRAME_OPTIONS], "DENY");
    let html = form.text().await.unwrap();
    for field in ["id=\"signInFormUsername\"", "id=\"signInFormPassword\"", "name=\"signInSubmitButton\""] {
        assert!(html.contains(field), "{field} in {html}");
    }
    let csrf = csrf_of(&html);
    assert!(browser.cookies.iter().any(|c| *c == format!("XSRF-TOKEN={csrf}")), "{:?}", browser.cookies);

    // A wrong password is the form again; a post without the CSRF cookie is refused.
    let wrong = browser
        .post_login(&to_login, &[("_csrf", &csrf), ("username", &alice.email), ("password", "nope")], true)
        .await;
    assert_eq!(wrong.status(), StatusCode::OK);
    assert!(wrong.text().await.unwrap().contains("Incorrect username or password."));
    let forged = browser
        .post_login(&to_login, &[("_csrf", &csrf), ("username", &alice.email), ("password", &alice.password)], false)
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    // The right password: back to the callback with a code and the state, and a session cookie.
    let back = location(
        &browser
            .post_login(&to_login, &[("_csrf", &csrf), ("username", &alice.email), ("password", &alice.password)], true)
            .await,
    );
    assert!(back.starts_with(&browser.callback), "{back}");
    assert_eq!(param(&back, "state").as_deref(), Some("st-1"));
    let code = param(&back, "code").unwrap();
    assert!(browser.cookies.iter().any(|c| c.starts_with("cognito=")), "{:?}", browser.cookies);

    // The code for tokens, with the verifier: moto's tokens, for the desktop client.
    let form = redeem(&browser, &code, VERIFIER);
    let (status, cors, tokens) = browser.token(&form).await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    assert_eq!(cors.as_deref(), Some(SITE_ORIGIN), "the page's origin may read the answer");
    assert_eq!((tokens["token_type"].as_str(), tokens["expires_in"].as_i64()), (Some("Bearer"), Some(3600)));
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["aud"], browser.client_id.as_str());
    assert_eq!(id["token_use"], "id");
    assert_eq!(id["email"], alice.email.as_str());
    assert_eq!(
        id["iss"],
        format!("https://cognito-idp.{}.amazonaws.com/{}", cloud.fixture.region, cloud.user_pool.pool_id)
    );
    let refresh_token = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The code is single use.
    let (status, _, error) = browser.token(&form).await;
    assert_eq!((status, &error), (StatusCode::BAD_REQUEST, &serde_json::json!({"error": "invalid_grant"})));

    // Within the session, authorize answers at once with a new code; a wrong verifier spends it.
    let again = location(&browser.get(&browser.authorize_url(&[("state", "st-2")])).await);
    assert!(again.starts_with(&browser.callback), "no form the second time: {again}");
    let second = param(&again, "code").unwrap();
    let wrong_verifier = redeem(&browser, &second, "a-different-verifier-of-forty-three-chars-xx");
    assert_eq!(browser.token(&wrong_verifier).await.2["error"], "invalid_grant");
    assert_eq!(browser.token(&redeem(&browser, &second, VERIFIER)).await.2["error"], "invalid_grant", "spent");

    // The refresh grant: a new ID token, no new refresh token (no rotation).
    let (status, _, refreshed) = browser
        .token(&[("grant_type", "refresh_token"), ("client_id", &browser.client_id), ("refresh_token", &refresh_token)])
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    assert!(refreshed.get("refresh_token").is_none(), "{refreshed}");
    assert_eq!(claims(refreshed["id_token"].as_str().unwrap())["email"], alice.email.as_str());
    let (_, _, refused) = browser
        .token(&[("grant_type", "refresh_token"), ("client_id", &browser.client_id), ("refresh_token", "revoked")])
        .await;
    assert_eq!(refused["error"], "invalid_grant");
}

#[tokio::test]
async fn requests_outside_the_clients_rules_get_cognitos_errors() {
    let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path()).unwrap()).await.unwrap();
    let mut browser = Browser::new(&cloud);

    // Before the redirect URI is trusted: Cognito's own error page.
    for (overrides, error) in [
        (vec![("client_id", "nosuchclient")], "invalid_client"),
        (vec![("redirect_uri", "http://127.0.0.1:1/elsewhere.html")], "redirect_mismatch"),
    ] {
        let to = location(&browser.get(&browser.authorize_url(&overrides)).await);
        assert_eq!(to, format!("/error?error={error}"));
        let page = browser.get(&to).await;
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.text().await.unwrap().contains(error));
    }
    // After: the error goes back to the client, with its state.
    for (overrides, error) in [
        (vec![("code_challenge", ""), ("code_challenge_method", "")], "invalid_request"),
        (vec![("code_challenge_method", "plain")], "invalid_request"),
        (vec![("response_type", "")], "invalid_request"),
        (vec![("response_type", "token")], "unauthorized_client"),
        (vec![("scope", "openid profile")], "invalid_scope"),
    ] {
        let to = location(&browser.get(&browser.authorize_url(&overrides)).await);
        assert!(to.starts_with(&browser.callback), "{overrides:?}: {to}");
        assert_eq!(param(&to, "error").as_deref(), Some(error), "{overrides:?}");
        assert_eq!(param(&to, "state").as_deref(), Some("st-1"));
    }

    // The token endpoint: 400 and Cognito's error codes.
    let id = browser.client_id.clone();
    for (form, error) in [
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", "nosuchclient"),
                ("code", "x"),
                ("redirect_uri", "x"),
            ],
            "invalid_client",
        ),
        (vec![("grant_type", "authorization_code"), ("code", "x")], "invalid_client"),
        (vec![("client_id", id.as_str())], "invalid_request"),
        (vec![("grant_type", "authorization_code"), ("client_id", id.as_str())], "invalid_request"),
        (vec![("grant_type", "refresh_token"), ("client_id", id.as_str())], "invalid_request"),
        (vec![("grant_type", "client_credentials"), ("client_id", id.as_str())], "unauthorized_client"),
        (vec![("grant_type", "password"), ("client_id", id.as_str())], "unsupported_grant_type"),
        (
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", id.as_str()),
                ("code", "never-issued"),
                ("redirect_uri", &browser.callback),
                ("code_verifier", VERIFIER),
            ],
            "invalid_grant",
        ),
    ] {
        let (status, _, answer) = browser.token(&form).await;
        assert_eq!((status, answer["error"].as_str()), (StatusCode::BAD_REQUEST, Some(error)), "{form:?}");
    }
    let json = browser
        .http
        .post(format!("{}/oauth2/token", browser.domain))
        .json(&serde_json::json!({"grant_type": "refresh_token"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);
    assert_eq!(json.json::<Value>().await.unwrap()["error"], "invalid_request", "the body must be a form");

    // A code issued for one redirect URI is refused for another.
    let alice = cloud.fixture.cognito.agents[0].clone();
    let back = sign_in(&mut browser, &alice).await;
    let code = param(&back, "code").unwrap();
    let (_, _, answer) = browser
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &id),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/x"),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(answer["error"], "invalid_grant");
}
