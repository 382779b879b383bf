//! Agent onboarding (spec: `specs/video.md`, "Agent onboarding"): an agent signed in to the
//! agent-app gets Connect CCP tokens ([`ccp_login`]), binds their Connect user to their Cognito user
//! once ([`set_connect_user_id`]) and keeps a cache of their Connect placement fresh
//! ([`put_connect_user_cache`]), which video and recording authorise by
//! ([`crate::shared::connect_user`]).

pub mod ccp_login;
pub mod put_connect_user_cache;
pub mod set_connect_user_id;

pub use ccp_login::CcpLogin;
pub use put_connect_user_cache::PutConnectUserCache;
pub use set_connect_user_id::SetConnectUserId;

use crate::edge::http::{ApiError, Claims};

/// The Amazon Connect username of the agent behind a token: the `email` claim with the first `+` of
/// its local part replaced by `_` when `by_email` (Connect usernames cannot hold `+`), else the
/// Cognito username.
///
/// The email is trusted only when Cognito says it is verified (`email_verified` is `"true"`): an
/// unverified email is whatever the user typed, and deriving the Connect user from it would let an
/// agent who sets a colleague's address be federated as that colleague (403).
pub fn connect_username(claims: &Claims, by_email: bool) -> Result<String, ApiError> {
    if !by_email {
        return Ok(claims.require("cognito:username")?.to_owned());
    }
    let email = claims.require("email")?;
    if claims.get("email_verified") != Some("true") {
        tracing::warn!("refused a Connect username derived from an unverified email");
        return Err(ApiError::forbidden("the token's email is not verified"));
    }
    let (local, domain) = email
        .split_once('@')
        .ok_or_else(|| ApiError::bad_field("email", "the token's email claim is not an email address"))?;
    Ok(format!("{}@{domain}", local.replacen('+', "_", 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(pairs: &[(&str, &str)]) -> Claims {
        Claims::from_pairs(pairs)
    }

    #[test]
    fn connect_username_by_email_replaces_only_the_first_plus_of_the_local_part() {
        let c =
            claims(&[("email", "alice+video+x@ex+ample.com"), ("email_verified", "true"), ("cognito:username", "u-1")]);
        assert_eq!(connect_username(&c, true).unwrap(), "alice_video+x@ex+ample.com");
        assert_eq!(connect_username(&c, false).unwrap(), "u-1");
        let bob = claims(&[("email", "bob@example.com"), ("email_verified", "true")]);
        assert_eq!(connect_username(&bob, true).unwrap(), "bob@example.com");
        let nobody = claims(&[("email", "nobody"), ("email_verified", "true")]);
        assert_eq!(connect_username(&nobody, true).unwrap_err().status, 400);
        assert_eq!(connect_username(&claims(&[]), true).unwrap_err().status, 403);
    }

    #[test]
    fn an_unverified_email_never_names_a_connect_user() {
        for verified in [None, Some("false"), Some("False"), Some(""), Some("1")] {
            let mut pairs = vec![("email", "bob@example.com"), ("cognito:username", "u-1")];
            if let Some(value) = verified {
                pairs.push(("email_verified", value));
            }
            let refused = connect_username(&claims(&pairs), true).unwrap_err();
            assert_eq!(refused.status, 403, "email_verified = {verified:?}");
            assert_eq!(connect_username(&claims(&pairs), false).unwrap(), "u-1", "the username path is unaffected");
        }
    }
}
