//! Calling the Amazon Connect API (the kernel's half of "Connect" that is not the flow edge): the
//! instance id from configuration, the shape of Connect ids, and one mapping of Connect's errors.
//! Every context that calls Connect imports these from here, never from another context.

use crate::{
    edge::http::ApiError,
    platform::config::{ConfigError, Settings},
};

/// The Connect instance id, `CONNECT_INSTANCE_ID`.
pub fn instance_id(env: &Settings) -> Result<String, ConfigError> {
    env.string("CONNECT_INSTANCE_ID")
}

/// Whether `id` looks like a Connect user or contact id (a UUID).
pub fn is_connect_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// Connect's "no such thing" codes. `GetFederationToken` answers `UserNotFoundException` when the
/// session name is no user of the instance; the describe operations answer `ResourceNotFoundException`.
const NOT_FOUND_CODES: &[&str] = &["ResourceNotFoundException", "UserNotFoundException"];

/// Turns a Connect SDK error into the API answer: a missing resource or user is `not_found`, anything
/// else a dependency failure.
pub fn connect_error<E>(error: aws_sdk_connect::error::SdkError<E>, not_found: impl FnOnce() -> ApiError) -> ApiError
where
    E: aws_sdk_connect::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    match &error {
        aws_sdk_connect::error::SdkError::ServiceError(e)
            if e.err().code().is_some_and(|code| NOT_FOUND_CODES.contains(&code)) =>
        {
            not_found()
        }
        _ => ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&error)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_ids_are_uuids() {
        assert!(is_connect_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301"));
        assert!(!is_connect_id("3f2504e0-4f89-41d3-9a0c-0305e82c330"));
        assert!(!is_connect_id("3f2504e0x4f89-41d3-9a0c-0305e82c3301"));
        assert!(!is_connect_id("zf2504e0-4f89-41d3-9a0c-0305e82c3301"));
    }

    fn service_error(
        code: &str,
    ) -> aws_sdk_connect::error::SdkError<aws_sdk_connect::operation::get_federation_token::GetFederationTokenError>
    {
        use aws_sdk_connect::operation::get_federation_token::GetFederationTokenError;
        let meta = aws_sdk_connect::error::ErrorMetadata::builder().code(code).build();
        aws_sdk_connect::error::SdkError::service_error(
            GetFederationTokenError::generic(meta),
            aws_smithy_runtime_api::http::Response::new(
                aws_smithy_runtime_api::http::StatusCode::try_from(404).unwrap(),
                aws_smithy_types::body::SdkBody::empty(),
            ),
        )
    }

    #[test]
    fn both_of_connects_not_found_codes_are_404_and_others_are_502() {
        let not_found = || ApiError::not_found("user not found");
        assert_eq!(connect_error(service_error("UserNotFoundException"), not_found).status, 404);
        assert_eq!(connect_error(service_error("ResourceNotFoundException"), not_found).status, 404);
        assert_eq!(connect_error(service_error("ThrottlingException"), not_found).status, 502);
    }
}
