//! What template.yaml declares that the local cloud must match: the HTTP API's routes and CORS,
//! the app clients' attributes, the names of secrets, tables, stack and pipelines, the functions'
//! timeouts. Tests in `tests/template.rs` check that the two agree.

use std::time::Duration;

use crate::{
    desktop,
    gateway::{Access, Cors, Route},
};

/// The HTTP API's routes, as template.yaml declares them (a test checks the two agree).
pub const HTTP_ROUTES: &[Route] = &[
    Route { method: "POST", path: "/start_communication", function: "start-session", access: Access::Iam },
    Route {
        method: "POST",
        path: "/session_result/{result_code}",
        function: "receive-auth-result",
        access: Access::Public,
    },
    Route { method: "GET", path: "/session_info/{contact_id}", function: "session-info", access: Access::Agent },
    Route { method: "POST", path: "/ccplogin", function: "ccp-login", access: Access::Agent },
    Route { method: "POST", path: "/setConnectUserId", function: "set-connect-user-id", access: Access::Agent },
    Route { method: "PUT", path: "/connect-user-cache", function: "put-connect-user-cache", access: Access::Agent },
    Route { method: "POST", path: "/meeting", function: "create-meeting", access: Access::Agent },
    Route { method: "DELETE", path: "/meeting", function: "end-meeting", access: Access::Agent },
    Route { method: "POST", path: "/attendee", function: "create-attendee", access: Access::Agent },
    Route { method: "GET", path: "/attendee-name", function: "get-attendee-name", access: Access::AgentPublic },
    Route {
        method: "GET",
        path: "/attendee-join-data",
        function: "get-attendee-join-data",
        access: Access::AgentPublic,
    },
    Route { method: "POST", path: "/adhoc", function: "create-adhoc-route", access: Access::Agent },
    Route { method: "POST", path: "/start", function: "start-chat", access: Access::AgentPublic },
    // The recording routes (the template declares them behind RecordingEnabled; the local cloud always has them).
    Route { method: "POST", path: "/recording", function: "start-recording", access: Access::Agent },
    Route { method: "DELETE", path: "/recording", function: "stop-recording", access: Access::Agent },
    Route { method: "GET", path: "/recording-summary", function: "get-recording-summary", access: Access::Agent },
    // The webhook's own API (the template declares its route behind WebhookEnabled).
    Route { method: "POST", path: "/github", function: "github-webhook", access: Access::Webhook },
];

/// The HTTP API's CORS configuration, as template.yaml declares it (a test checks the two agree);
/// the allowed origins are the `CorsAllowedOrigins` parameter there and [`cors_origins`] here.
/// The Amz headers are those Amplify adds when it SigV4-signs a request.
pub const CORS_ALLOW_HEADERS: &[&str] =
    &["Content-Type", "cognitoIdToken", "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-User-Agent"];
pub const CORS_ALLOW_METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "OPTIONS"];
pub const CORS_MAX_AGE_SECONDS: u32 = 600;
/// The origins the local HTTP API allows unless `SWITCHBOARD_CORS_ORIGINS` (comma-separated) says
/// otherwise: a web app's dev server on port 3000.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:3000,http://127.0.0.1:3000";

/// The local HTTP API's allowed origins: `SWITCHBOARD_CORS_ORIGINS`, else [`DEFAULT_CORS_ORIGINS`].
pub fn cors_origins() -> Vec<String> {
    parse_origins(&std::env::var("SWITCHBOARD_CORS_ORIGINS").unwrap_or_else(|_| DEFAULT_CORS_ORIGINS.to_owned()))
}

/// The agent-app's URL locally (the template's `AgentAppUrl`, which playback URLs must be under):
/// `SWITCHBOARD_AGENT_APP_URL`, else the first allowed origin (the agent-app's dev server).
pub fn agent_app_url() -> String {
    std::env::var("SWITCHBOARD_AGENT_APP_URL")
        .ok()
        .filter(|url| !url.trim().is_empty())
        .or_else(|| cors_origins().into_iter().next())
        .unwrap_or_else(|| "http://localhost:3000".to_owned())
}

fn parse_origins(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|origin| !origin.is_empty()).map(str::to_owned).collect()
}

/// The template's CORS configuration with `allow_origins`.
pub fn http_api_cors(allow_origins: Vec<String>) -> Cors {
    Cors {
        allow_origins,
        allow_headers: CORS_ALLOW_HEADERS.iter().map(|h| (*h).to_owned()).collect(),
        allow_methods: CORS_ALLOW_METHODS.iter().map(|m| (*m).to_owned()).collect(),
        max_age_seconds: CORS_MAX_AGE_SECONDS,
    }
}

/// The app client's attributes, as template.yaml declares them: `custom:connectUserId` and `email` are
/// readable but not writable, so only `set-connect-user-id` (an admin call) can set the id and only
/// admins can change the email the Connect username is derived from.
pub const CLIENT_READ_ATTRIBUTES: &[&str] = &["email", "email_verified", "name", "custom:connectUserId"];
pub const CLIENT_WRITE_ATTRIBUTES: &[&str] = &["name"];

/// The agent desktop's client (`DesktopUserPoolClient`): managed login with the authorization code
/// grant, the scopes `agent.html` asks for, its page as the callback.
pub const DESKTOP_CLIENT_SCOPES: &[&str] = &["openid", "email"];
/// The desktop client's token lifetimes (spec: ID token 1 h, refresh token 12 h).
pub const DESKTOP_ID_TOKEN_HOURS: i32 = 1;
pub const DESKTOP_REFRESH_TOKEN_HOURS: i32 = 12;

/// The Secrets Manager secret holding the PIN pepper (the template generates one per stack).
pub const PIN_PEPPER_SECRET: &str = "switchboard/emergency/pin-pepper";

/// The template's `PromptBucket` locally (made by the test of `PromptAudio`, which puts into it).
pub const LOCAL_PROMPT_BUCKET: &str = "switchboard-promptbucket-local";

/// The flows context's table (the template's `FlowsTable`).
pub const FLOWS_TABLE: &str = "switchboard-flows";
/// The function that deploys `contact-flows/` (the `ContactFlows` custom resource's provider).
pub const PROVISION_FLOWS_FUNCTION: &str = "provision-flows";
pub use crate::instance::LOCAL_STACK_NAME;

/// The GitHub webhook's secret (the template generates one per stack) and its local value, which
/// the sample events in `events/github-webhook/` are signed with.
pub const WEBHOOK_SECRET: &str = "switchboard/flows/github-webhook";
pub const LOCAL_WEBHOOK_SECRET_VALUE: &str = "local-webhook-secret";
/// The pipelines the webhook's default routes start for the default branches (`pipeline.yaml`'s
/// names for each environment): created in moto's CodePipeline.
pub const LOCAL_PIPELINES: &[&str] =
    &["switchboard-app-dev", "switchboard-app-prod", "switchboard-flows-dev", "switchboard-flows-prod"];

/// How long the local cloud lets a function run: Connect's limit for a flow's Lambda call.
pub const FUNCTION_TIMEOUT: Duration = Duration::from_secs(8);

/// An override (`<function>/LOCAL_TIMEOUT_SECONDS`) that sets how long the lambda host lets that
/// function run, in seconds, in place of [`function_timeout`]: what a test of the timeout path sets.
pub const TIMEOUT_OVERRIDE: &str = "LOCAL_TIMEOUT_SECONDS";

/// How long the local host lets `function` run: the template's timeout for the custom-resource
/// function (FunctionTimeouts: PublishDesktop), Connect's limit for every other.
pub fn function_timeout(function: &str) -> Duration {
    match function {
        desktop::PUBLISH_FUNCTION => Duration::from_secs(120),
        // It waits up to a minute for another deployment's lock (FunctionTimeouts: ProvisionFlows).
        PROVISION_FLOWS_FUNCTION => Duration::from_secs(120),
        // FunctionTimeouts: start-recording leaves the last 12 s of its 28 to its undo.
        "start-recording" => Duration::from_secs(28),
        "stop-recording" | "get-recording-summary" => Duration::from_secs(15),
        "stop-recording-on-meeting-end" | "prewarm-recording-task" => Duration::from_secs(60),
        _ => FUNCTION_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_origins, DEFAULT_CORS_ORIGINS};

    #[test]
    fn cors_origins_are_a_comma_separated_list() {
        assert_eq!(parse_origins(DEFAULT_CORS_ORIGINS), ["http://localhost:3000", "http://127.0.0.1:3000"]);
        assert_eq!(
            parse_origins(" https://a.example , ,https://b.example"),
            ["https://a.example", "https://b.example"]
        );
        assert!(parse_origins("").is_empty(), "an empty list allows no origin");
    }
}
