//! The agent desktop pages (spec: `specs/desktop.md`). The pages themselves are static files in
//! `desktop/`; the back end they need is the existing agent API. This context holds the one function
//! that deploys them: [`publish_desktop`] (the `DesktopSite` custom resource).

pub mod publish_desktop;

pub use publish_desktop::PublishDesktop;
