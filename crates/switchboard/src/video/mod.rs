//! Video call escalation (spec: `specs/video.md`). This part: agent onboarding and the Connect user
//! cache, the first HTTP functions behind the agent JWT authorizer. Each function's behaviour is in
//! its own file: [`ccp_login`], [`set_connect_user_id`], [`put_connect_user_cache`].

pub mod ccp_login;
pub mod put_connect_user_cache;
pub mod set_connect_user_id;

pub use ccp_login::CcpLogin;
pub use put_connect_user_cache::PutConnectUserCache;
pub use set_connect_user_id::SetConnectUserId;

use crate::{
    config::{ConfigError, Settings},
    http::{ApiError, Claims},
};

/// The Amazon Connect username of the agent behind a token: the `email` claim with the first `+` of
/// its local part replaced by `_` when `by_email` (Connect usernames cannot hold `+`), else the
/// Cognito username.
pub fn connect_username(claims: &Claims, by_email: bool) -> Result<String, ApiError> {
    if !by_email {
        return Ok(claims.require("cognito:username")?.to_owned());
    }
    let email = claims.require("email")?;
    let (local, domain) = email
        .split_once('@')
        .ok_or_else(|| ApiError::bad_field("email", "the token's email claim is not an email address"))?;
    Ok(format!("{}@{domain}", local.replacen('+', "_", 1)))
}

/// The Connect instance id, `CONNECT_INSTANCE_ID`.
pub fn instance_id(env: &Settings) -> Result<String, ConfigError> {
    env.string("CONNECT_INSTANCE_ID")
}

/// Whether `id` looks like a Connect user id (a UUID).
pub fn is_connect_user_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// `VideoTable` keys.
pub mod keys {
    pub fn user_cache(connect_user_id: &str) -> String {
        format!("CUC#{connect_user_id}")
    }
}

/// Turns a Connect SDK error into the API answer: a missing resource is `not_found`, anything else a
/// dependency failure.
pub(crate) fn connect_error<E>(
    error: aws_sdk_connect::error::SdkError<E>,
    not_found: impl FnOnce() -> ApiError,
) -> ApiError
where
    E: aws_sdk_connect::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        aws_sdk_connect::error::SdkError::ServiceError(e) if e.err().code() == Some("ResourceNotFoundException") => {
            not_found()
        }
        _ => ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> Claims {
        Claims::from_pairs(pairs)
    }

    #[test]
    fn connect_username_by_email_replaces_only_the_first_plus_of_the_local_part() {
        let c = claims(&[("email", "alice+video+x@ex+ample.com"), ("cognito:username", "u-1")]);
        assert_eq!(connect_username(&c, true).unwrap(), "alice_video+x@ex+ample.com");
        assert_eq!(connect_username(&c, false).unwrap(), "u-1");
        assert_eq!(connect_username(&claims(&[("email", "bob@example.com")]), true).unwrap(), "bob@example.com");
        assert_eq!(connect_username(&claims(&[("email", "nobody")]), true).unwrap_err().status, 400);
        assert_eq!(connect_username(&claims(&[]), true).unwrap_err().status, 403);
    }

    #[test]
    fn connect_user_ids_are_uuids() {
        assert!(is_connect_user_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(!is_connect_user_id("3f2504e0-4f89-41d3-9a0c-0305e82c330"));
        assert!(!is_connect_user_id("3f2504e0x4f89-41d3-9a0c-0305e82c3301"));
        assert!(!is_connect_user_id("zf2504e0-4f89-41d3-9a0c-0305e82c3301"));
    }
}
