//! Video call escalation (spec: `specs/video.md`). Each function's behaviour is in its own file:
//! - agent onboarding and the Connect user cache: [`ccp_login`], [`set_connect_user_id`],
//!   [`put_connect_user_cache`];
//! - meetings: [`create_meeting`], [`end_meeting`], [`create_attendee`], [`get_attendee_name`],
//!   [`get_attendee_join_data`] (what they share, the Chime objects and items, in [`meeting`]);
//! - chat and ad-hoc routes: [`start_chat`], [`adhoc_route`] (`create-adhoc-route` and the redeeming);
//! - recording: [`start_recording`], [`stop_recording`], [`get_recording_summary`] (HTTP),
//!   [`stop_recording_on_meeting_end`], [`prewarm_recording_task`] (EventBridge); what they share, the
//!   recording items, the lock and the stop, in [`recording`].

pub mod adhoc_route;
pub mod ccp_login;
pub mod create_attendee;
pub mod create_meeting;
pub mod end_meeting;
pub mod get_attendee_join_data;
pub mod get_attendee_name;
pub mod get_recording_summary;
pub mod meeting;
pub mod prewarm_recording_task;
pub mod put_connect_user_cache;
pub mod recording;
pub mod set_connect_user_id;
pub mod start_chat;
pub mod start_recording;
pub mod stop_recording;
pub mod stop_recording_on_meeting_end;

pub use adhoc_route::CreateAdhocRoute;
pub use ccp_login::CcpLogin;
pub use create_attendee::CreateAttendee;
pub use create_meeting::CreateMeeting;
pub use end_meeting::EndMeeting;
pub use get_attendee_join_data::GetAttendeeJoinData;
pub use get_attendee_name::GetAttendeeName;
pub use get_recording_summary::GetRecordingSummary;
pub use prewarm_recording_task::PrewarmRecordingTask;
pub use put_connect_user_cache::PutConnectUserCache;
pub use set_connect_user_id::SetConnectUserId;
pub use start_chat::StartChat;
pub use start_recording::StartRecording;
pub use stop_recording::StopRecording;
pub use stop_recording_on_meeting_end::StopRecordingOnMeetingEnd;

use crate::http::{ApiError, Claims};

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

/// The agent's Connect user id from the token (`custom:connectUserId`, which only
/// `set-connect-user-id` writes); a token without it is a 400 naming the claim and what to do.
pub fn connect_user_id(claims: &Claims) -> Result<&str, ApiError> {
    claims.get(set_connect_user_id::CONNECT_USER_ID_ATTRIBUTE).ok_or_else(|| {
        ApiError::bad_field(
            set_connect_user_id::CONNECT_USER_ID_ATTRIBUTE,
            "the token has no Connect user id; call /setConnectUserId first",
        )
    })
}

/// Whether `text` is an email address as the clients check it: one `@`, something on both sides, no
/// whitespace. (Deliverability is the mail system's business; this only refuses what cannot be one.)
pub fn is_email_address(text: &str) -> bool {
    let mut parts = text.split('@');
    matches!((parts.next(), parts.next(), parts.next()), (Some(local), Some(domain), None)
        if !local.is_empty() && !domain.is_empty())
        && !text.chars().any(char::is_whitespace)
        && text.len() <= 254
}

/// The longest name, title or label the video routes accept: shown in rosters and chat windows.
pub const MAX_TEXT: usize = 256;

/// A name or label a person reads (an attendee's name, a chat display name): trimmed, 1 to
/// [`MAX_TEXT`] characters, else a 400 naming `field`.
pub fn display_text<'a>(field: &str, raw: &'a str) -> Result<&'a str, ApiError> {
    let text = raw.trim();
    if text.is_empty() || text.chars().count() > MAX_TEXT {
        return Err(ApiError::bad_field(field, "must be 1 to 256 characters"));
    }
    Ok(text)
}

/// `VideoTable` keys.
pub mod keys {
    /// The key of an agent's Connect user cache item (`CUC#<id>` as both partition and sort key).
    pub fn user_cache(connect_user_id: &str) -> crate::store::Item {
        let key = format!("CUC#{connect_user_id}");
        crate::store::key(key.clone(), key)
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
    fn email_addresses_have_one_at_and_no_spaces() {
        for good in ["a@b", "jane.doe+test@example.com", "AWSSSO_agent@example.com"] {
            assert!(is_email_address(good), "{good}");
        }
        let long = format!("{}@b", "a".repeat(300));
        for bad in ["", "@b", "a@", "a@b@c", "a b@c", "a@b\u{a0}", "plain", long.as_str()] {
            assert!(!is_email_address(bad), "{bad:?}");
        }
    }

    #[test]
    fn display_text_is_trimmed_and_1_to_256_characters() {
        assert_eq!(display_text("f", "  Carol ").unwrap(), "Carol");
        assert_eq!(display_text("f", &"é".repeat(256)).unwrap().chars().count(), 256);
        for refused in ["", "   ", &"x".repeat(257)] {
            assert_eq!(display_text("f", refused).unwrap_err().message, "f: must be 1 to 256 characters");
        }
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
