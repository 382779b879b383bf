//! The edges: the four ways an event reaches a function, each one envelope in and one answer out, so
//! a handler sees only its typed request.

pub mod connect;
pub mod custom_resource;
pub mod events;
pub mod http;
