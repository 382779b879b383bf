//! The contact-flow runner: plays flows written in the Amazon Connect flow language (Version
//! 2019-10-30) against the local functions, with a scripted caller, and writes a transcript.
//!
//! Placeholders in the flows resolve locally: `{{lambda:<function>}}` to the local function of that
//! name, `{{flow:<name>}}` to a flow in the same folder, `{{queue:<name>}}` to the fixture's queue,
//! `{{param:<key>}}` to the call's parameter or the flow's default in `contact-flows/flows.json`.
//! Contacts are voice calls (prompts spoken, DTMF input) or chats (prompts are messages).
//! An action the runner does not know stops the run with an error naming it.

mod call;
mod contact;
mod model;
mod runner;
mod transcript;

pub use call::{Call, CallInput, Channel};
pub use model::{
    Action, Flow, FlowEntry, FlowError, FlowLibrary, FlowManifest, FlowType, Placeholder, SUPPORTED_ACTIONS,
};
pub use runner::{Runner, Services};
pub use transcript::{Ending, Step, Transcript};
