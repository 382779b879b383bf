//! Video call escalation (spec: `specs/video.md`): meetings and their attendees, the customer's chat
//! and the agents' ad-hoc routes into it. Each function's behaviour is in its own file:
//! - meetings: [`create_meeting`], [`end_meeting`], [`create_attendee`], [`get_attendee_name`],
//!   [`get_attendee_join_data`] (what they share with recording, the Chime objects and items, in
//!   [`crate::shared::meeting`]);
//! - chat and ad-hoc routes: [`start_chat`], [`adhoc_route`] (`create-adhoc-route` and the redeeming).
//!
//! Agent onboarding is [`crate::agents`], recording [`crate::recording`].

pub mod adhoc_route;
pub mod create_attendee;
pub mod create_meeting;
pub mod end_meeting;
pub mod get_attendee_join_data;
pub mod get_attendee_name;
pub mod start_chat;

pub use adhoc_route::CreateAdhocRoute;
pub use create_attendee::CreateAttendee;
pub use create_meeting::CreateMeeting;
pub use end_meeting::EndMeeting;
pub use get_attendee_join_data::GetAttendeeJoinData;
pub use get_attendee_name::GetAttendeeName;
pub use start_chat::StartChat;

use crate::edge::http::ApiError;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
