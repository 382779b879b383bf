//! What can go wrong starting and seeding the local cloud.

use crate::{desktop::DesktopError, lambda_host::HostError, moto::MotoError};

#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    #[error(transparent)]
    Moto(#[from] MotoError),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("emulator: {0}")]
    Emulator(std::io::Error),
    #[error("seeding {what} failed: {detail}")]
    Seed { what: String, detail: String },
    #[error("cannot list the functions in {path}: {source}")]
    Functions { path: String, source: std::io::Error },
    #[error("the desktop site: {0}")]
    Desktop(#[from] DesktopError),
}

pub(crate) fn seed_error(what: &str, error: impl std::error::Error + 'static) -> CloudError {
    CloudError::Seed { what: what.to_owned(), detail: error_chain(&error) }
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    text
}
