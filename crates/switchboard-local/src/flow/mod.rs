//! The contact-flow runner: plays flows written in the Amazon Connect flow language (Version
//! 2019-10-30) against the local functions, with a scripted caller, and writes a transcript.
//!
//! Placeholders in the flows resolve locally: `{{lambda:<function>}}` to the local function of that
//! name, `{{flow:<name>}}` to a flow in the same folder, `{{queue:<name>}}` to the fixture's queue,
//! `{{param:<key>}}` to the call's parameter or the flow's default in `contact-flows/flows.json`,
//! `{{bot:<name>}}` to the bot the template declares under that name, `{{prompt:<name>}}` to a prompt.
//! Contacts are voice calls (prompts spoken, DTMF input, words for bots) or chats (prompts are messages).
//! The runner never aborts on a valid flow: every action type of the flow language either plays as
//! modelled or takes its error branch with a line in the transcript (`docs/flow-actions.md`).

mod call;
mod contact;
mod interactions;
mod model;
mod runner;
mod transcript;

pub use call::{Call, CallInput, Channel};
pub use model::{
    action_type, action_types, Action, ActionType, Flow, FlowEntry, FlowError, FlowLibrary, FlowManifest, FlowType,
    Placeholder, MODELLED_ACTIONS,
};
pub use runner::{Runner, Services};
pub use transcript::{Ending, Step, Transcript};
