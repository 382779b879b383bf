//! `ccp-login` (`POST /ccplogin`, body `{"connectLoginByEmail": bool}`): federation tokens that sign
//! the agent into the Connect CCP.
//!
//! Assumes the federation role with the agent's Connect username as the session name (that is how
//! Connect's `GetFederationToken` knows which user is asking), then asks Connect for the tokens with
//! those credentials. Data: `{AccessToken, AccessTokenExpiration, RefreshToken,
//! RefreshTokenExpiration}`, expirations in epoch milliseconds (what the agent-app reads).

use aws_config::SdkConfig;
use aws_sdk_connect::config::Credentials;
use lambda_http::Request;
use serde::{Deserialize, Serialize};

use super::connect_username;
use crate::platform::connect_api::{connect_error, instance_id};
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::config::{ConfigError, Settings},
};

/// The federation role's session lasts the shortest time STS allows; the CCP refreshes with the
/// refresh token, not with these credentials.
const SESSION_SECONDS: i32 = 900;

pub struct CcpLogin {
    pub sts: aws_sdk_sts::Client,
    /// Base configuration for the Connect client built per request with the assumed credentials.
    pub sdk: SdkConfig,
    pub role_arn: String,
    pub instance_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CcpLoginBody {
    connect_login_by_email: bool,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct FederationTokens {
    pub access_token: String,
    pub access_token_expiration: i64,
    pub refresh_token: String,
    pub refresh_token_expiration: i64,
}

impl CcpLogin {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            sts: aws_sdk_sts::Client::new(sdk),
            sdk: sdk.clone(),
            role_arn: env.string("CCP_LOGIN_ROLE_ARN")?,
            instance_id: instance_id(env)?,
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let body: CcpLoginBody = json_body(&request)?;
        let username = connect_username(&claims, body.connect_login_by_email)?;
        if !is_session_name(&username) {
            return Err(ApiError::bad_field("email", "the Connect username cannot name an STS session"));
        }

        let assumed = self
            .sts
            .assume_role()
            .role_arn(&self.role_arn)
            .role_session_name(&username)
            .duration_seconds(SESSION_SECONDS)
            .send()
            .await
            .map_err(|e| ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
        let credentials =
            assumed.credentials().ok_or_else(|| ApiError::dependency("STS AssumeRole returned no credentials"))?;
        let connect = aws_sdk_connect::Client::from_conf(
            aws_sdk_connect::config::Builder::from(&self.sdk)
                .credentials_provider(Credentials::new(
                    credentials.access_key_id(),
                    credentials.secret_access_key(),
                    Some(credentials.session_token().to_owned()),
                    None,
                    "ccp-login-federation",
                ))
                .build(),
        );
        let federation = connect
            .get_federation_token()
            .instance_id(&self.instance_id)
            .send()
            .await
            .map_err(|e| connect_error(e, || ApiError::not_found("user not found")))?;
        let tokens = federation
            .credentials()
            .ok_or_else(|| ApiError::dependency("Connect GetFederationToken returned no credentials"))?;
        let millis = |at: Option<&aws_smithy_types::DateTime>| {
            at.map(|t| t.secs() * 1_000 + i64::from(t.subsec_nanos() / 1_000_000)).unwrap_or_default()
        };
        Reply::new(
            "federation tokens issued",
            &FederationTokens {
                access_token: tokens.access_token().unwrap_or_default().to_owned(),
                access_token_expiration: millis(tokens.access_token_expiration()),
                refresh_token: tokens.refresh_token().unwrap_or_default().to_owned(),
                refresh_token_expiration: millis(tokens.refresh_token_expiration()),
            },
        )
    }
}

/// STS session names: 2–64 characters of `[\w+=,.@-]`.
fn is_session_name(name: &str) -> bool {
    (2..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || "_+=,.@-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::is_session_name;

    #[test]
    fn session_names() {
        assert!(is_session_name("alice_video@example.com"));
        assert!(!is_session_name("a"));
        assert!(!is_session_name("alice smith@example.com"));
        assert!(!is_session_name(&"a".repeat(65)));
    }
}
