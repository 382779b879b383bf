//! What two contexts share (DESIGN.md, "Where shared things live"): the Chime meeting items video
//! writes and recording reads, and the Connect user behind an agent's token with the cache agents
//! writes and recording reads.

pub mod connect_user;
pub mod meeting;
