//! The instance's integrations: `ListLambdaFunctions`, `AssociateLambdaFunction`,
//! `DisassociateLambdaFunction`, `ListBots`, `AssociateBot` and `DisassociateBot`. A `ClientToken`
//! of a call that succeeded makes its retry succeed again.

use axum::{
    extract::{Path, RawQuery, State},
    response::Response,
};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    store::Bot,
    wire::{
        check_length, check_one_of, conflict, invalid_parameter, invalid_request, not_found, query_pairs, query_value,
        respond, respond_empty, store, with_next_token, PageRequest, MAX_INTEGRATION_RESULTS,
    },
};
use crate::emulator::{connect::check_instance, parse_request, Emulator};

/// Connect `ListLambdaFunctions`: `GET /instance/{InstanceId}/lambda-functions`, in association order.
pub(in crate::emulator) async fn list_lambda_functions(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_lambda_functions_op(&state, &instance_id, query.as_deref()))
}

fn list_lambda_functions_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let page = PageRequest::parse(
        &pairs,
        "lambda-functions",
        MAX_INTEGRATION_RESULTS,
        state.fixture.connect.page_size,
        invalid_parameter,
    )?;
    let (functions, token) = page.page(&store(state)?.lambda_functions);
    Ok(with_next_token(json!({"LambdaFunctions": functions}), token))
}

/// A Lambda function ARN (`arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`) in
/// the instance's region, as Connect requires of the functions a flow invokes.
fn check_lambda_arn(arn: &str, region: &str) -> Result<(), Box<Response>> {
    check_length("FunctionArn", arn, 1, 140, invalid_parameter)?;
    let bad = || invalid_parameter(&format!("FunctionArn {arn:?} is not a Lambda function ARN"));
    let parts: Vec<&str> = arn.split(':').collect();
    let name_ok = |name: &str| {
        (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let qualifier_ok = |q: &str| {
        q == "$LATEST" || (!q.is_empty() && q.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    };
    let well_formed = match parts.as_slice() {
        ["arn", partition, "lambda", arn_region, account, "function", name, qualifier @ ..] => {
            partition.starts_with("aws")
                && !arn_region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && name_ok(name)
                && match qualifier {
                    [] => true,
                    [q] => qualifier_ok(q),
                    _ => false,
                }
        }
        _ => false,
    };
    if !well_formed {
        return Err(bad());
    }
    if parts[3] != region {
        return Err(invalid_parameter(&format!("FunctionArn {arn:?} is not in the instance's region {region}")));
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AssociateLambdaRequest {
    function_arn: Option<String>,
    client_token: Option<String>,
}

/// Connect `AssociateLambdaFunction`: `PUT /instance/{InstanceId}/lambda-function`.
pub(in crate::emulator) async fn associate_lambda_function(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(associate_lambda_function_op(&state, &instance_id, &body))
}

fn associate_lambda_function_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let request: AssociateLambdaRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let arn = request.function_arn.ok_or_else(|| invalid_parameter("FunctionArn is required"))?;
    check_lambda_arn(&arn, &state.fixture.region)?;
    let mut store = store(state)?;
    let token = request.client_token.map(|t| format!("associate-lambda/{arn}/{t}"));
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    if store.lambda_functions.contains(&arn) {
        return Err(conflict(&format!("{arn} is already associated with the instance")));
    }
    store.lambda_functions.push(arn);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `DisassociateLambdaFunction`: `DELETE /instance/{InstanceId}/lambda-function?functionArn=`.
pub(in crate::emulator) async fn disassociate_lambda_function(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond_empty(disassociate_lambda_function_op(&state, &instance_id, query.as_deref()))
}

fn disassociate_lambda_function_op(
    state: &Emulator,
    instance_id: &str,
    query: Option<&str>,
) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let pairs = query_pairs(query, invalid_parameter)?;
    let arn = query_value(&pairs, "functionArn").ok_or_else(|| invalid_parameter("functionArn is required"))?;
    check_length("functionArn", arn, 1, 140, invalid_parameter)?;
    let mut store = store(state)?;
    let token = query_value(&pairs, "clientToken").map(|t| format!("disassociate-lambda/{arn}/{t}"));
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    let Some(index) = store.lambda_functions.iter().position(|f| f == arn) else {
        return Err(not_found(&format!("Lambda function {arn} associated with the instance")));
    };
    store.lambda_functions.remove(index);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `ListBots`: `GET /instance/{InstanceId}/bots?lexVersion=V1|V2`.
pub(in crate::emulator) async fn list_bots(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    respond(list_bots_op(&state, &instance_id, query.as_deref()))
}

fn list_bots_op(state: &Emulator, instance_id: &str, query: Option<&str>) -> Result<Value, Box<Response>> {
    check_instance(state, instance_id)?;
    // ListBots models no InvalidParameterException: its bad input is an InvalidRequestException.
    let pairs = query_pairs(query, invalid_request)?;
    let version = query_value(&pairs, "lexVersion").ok_or_else(|| invalid_request("lexVersion is required"))?;
    check_one_of("lexVersion", version, &["V1", "V2"], invalid_request)?;
    let page =
        PageRequest::parse(&pairs, "bots", MAX_INTEGRATION_RESULTS, state.fixture.connect.page_size, invalid_request)?;
    let store = store(state)?;
    let bots: Vec<Value> = store.bots.iter().filter(|b| b.lex_version() == version).map(Bot::config).collect();
    let (bots, token) = page.page(&bots);
    Ok(with_next_token(json!({"LexBots": bots}), token))
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct BotRequest {
    lex_bot: Option<LexBot>,
    lex_v2_bot: Option<LexV2Bot>,
    client_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LexBot {
    name: Option<String>,
    lex_region: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LexV2Bot {
    alias_arn: Option<String>,
}

/// A Lex V2 bot alias ARN: `arn:aws:lex:<region>:<account>:bot-alias/<bot id>/<alias id>`.
fn is_lex_v2_alias_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.split(':').collect();
    let id_ok = |id: &str| (1..=10).contains(&id.len()) && id.chars().all(|c| c.is_ascii_alphanumeric());
    match parts.as_slice() {
        ["arn", partition, "lex", region, account, resource] => {
            partition.starts_with("aws")
                && !region.is_empty()
                && account.len() == 12
                && account.chars().all(|c| c.is_ascii_digit())
                && match resource.split('/').collect::<Vec<_>>().as_slice() {
                    ["bot-alias", bot, alias] => id_ok(bot) && id_ok(alias),
                    _ => false,
                }
        }
        _ => false,
    }
}

/// The bot a request names: exactly one of `LexBot` and `LexV2Bot`.
fn requested_bot(body: &[u8]) -> Result<(Bot, Option<String>), Box<Response>> {
    let request: BotRequest = parse_request(body).map_err(|m| invalid_request(&m))?;
    let bot = match (request.lex_bot, request.lex_v2_bot) {
        (Some(bot), None) => {
            let name = bot.name.ok_or_else(|| invalid_request("LexBot.Name is required"))?;
            check_length("LexBot.Name", &name, 1, 50, invalid_request)?;
            let region = bot.lex_region.ok_or_else(|| invalid_request("LexBot.LexRegion is required"))?;
            check_length("LexBot.LexRegion", &region, 1, 60, invalid_request)?;
            Bot::V1 { name, region }
        }
        (None, Some(bot)) => {
            let alias_arn = bot.alias_arn.ok_or_else(|| invalid_request("LexV2Bot.AliasArn is required"))?;
            check_length("LexV2Bot.AliasArn", &alias_arn, 1, 100, invalid_request)?;
            if !is_lex_v2_alias_arn(&alias_arn) {
                return Err(invalid_request(&format!("LexV2Bot.AliasArn {alias_arn:?} is not a Lex V2 bot alias ARN")));
            }
            Bot::V2 { alias_arn }
        }
        _ => return Err(invalid_request("Exactly one of LexBot and LexV2Bot is required")),
    };
    Ok((bot, request.client_token))
}

fn bot_token(operation: &str, bot: &Bot, token: Option<String>) -> Option<String> {
    token.map(|t| format!("{operation}/{bot:?}/{t}"))
}

/// Connect `AssociateBot`: `PUT /instance/{InstanceId}/bot`.
pub(in crate::emulator) async fn associate_bot(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(associate_bot_op(&state, &instance_id, &body))
}

fn associate_bot_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let (bot, token) = requested_bot(body)?;
    let token = bot_token("associate-bot", &bot, token);
    let mut store = store(state)?;
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    if store.bots.contains(&bot) {
        return Err(conflict("The bot is already associated with the instance"));
    }
    store.bots.push(bot);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

/// Connect `DisassociateBot`: `POST /instance/{InstanceId}/bot`.
pub(in crate::emulator) async fn disassociate_bot(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    respond_empty(disassociate_bot_op(&state, &instance_id, &body))
}

fn disassociate_bot_op(state: &Emulator, instance_id: &str, body: &[u8]) -> Result<(), Box<Response>> {
    check_instance(state, instance_id)?;
    let (bot, token) = requested_bot(body)?;
    let token = bot_token("disassociate-bot", &bot, token);
    let mut store = store(state)?;
    if token.as_ref().is_some_and(|t| store.client_tokens.contains(t)) {
        return Ok(());
    }
    let Some(index) = store.bots.iter().position(|b| b == &bot) else {
        return Err(not_found("Bot associated with the instance"));
    };
    store.bots.remove(index);
    store.client_tokens.extend(token);
    store.writes += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_are_checked() {
        assert!(check_lambda_arn("arn:aws:lambda:ap-southeast-2:123456789012:function:verify-pin", "ap-southeast-2")
            .is_ok());
        assert!(
            check_lambda_arn("arn:aws:lambda:ap-southeast-2:123456789012:function:v:$LATEST", "ap-southeast-2").is_ok()
        );
        assert!(check_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:v", "ap-southeast-2").is_err());
        assert!(check_lambda_arn("verify-pin", "ap-southeast-2").is_err());
        assert!(is_lex_v2_alias_arn("arn:aws:lex:ap-southeast-2:123456789012:bot-alias/LOCALBOT01/TSTALIASID"));
        assert!(!is_lex_v2_alias_arn("arn:aws:lex:ap-southeast-2:123456789012:bot/LOCALBOT01"));
    }
}
