//! Amazon Connect (restJson1): users, hierarchy groups, contacts and federation tokens from the fixture.

use axum::{
    extract::{Path, State},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use super::{aws_error, Emulator, LocalContact};

fn connect_not_found(what: &str) -> Response {
    aws_error(StatusCode::NOT_FOUND, "ResourceNotFoundException", &format!("{what} not found"))
}

fn check_instance(state: &Emulator, instance_id: &str) -> Result<(), Box<Response>> {
    let known = &state.fixture.connect.instance_id;
    if instance_id == known || instance_id.ends_with(&format!("instance/{known}")) {
        Ok(())
    } else {
        Err(Box::new(connect_not_found(&format!("Instance {instance_id}"))))
    }
}

/// Connect `DescribeContact`: `GET /contacts/{InstanceId}/{ContactId}`, for registered contacts.
pub(super) async fn describe_contact(
    State(state): State<Emulator>,
    Path((instance_id, contact_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let contact = state.contacts.lock().ok().and_then(|c| c.get(&contact_id).cloned());
    let Some(contact) = contact else {
        return connect_not_found(&format!("Contact {contact_id}"));
    };
    let transferred = contact.contact_id != contact.initial_contact_id;
    let mut answer = json!({"Contact": {
        "Arn": format!("{}/contact/{}", state.fixture.instance_arn(), contact.contact_id),
        "Id": contact.contact_id,
        "InitialContactId": contact.initial_contact_id,
        "Channel": "VOICE",
        "InitiationMethod": if transferred { "TRANSFER" } else { "INBOUND" },
        "InitiationTimestamp": time::OffsetDateTime::now_utc().unix_timestamp(),
    }});
    if transferred {
        answer["Contact"]["PreviousContactId"] = json!(contact.initial_contact_id);
    }
    if let Some(agent) = &contact.agent_id {
        answer["Contact"]["AgentInfo"] = json!({"Id": agent});
    }
    Json(answer).into_response()
}

/// Local only: registers (or updates) a contact for `DescribeContact`.
pub(super) async fn register_contact(State(state): State<Emulator>, Json(contact): Json<LocalContact>) -> StatusCode {
    if let Ok(mut contacts) = state.contacts.lock() {
        contacts.insert(contact.contact_id.clone(), contact);
    }
    StatusCode::NO_CONTENT
}

/// Connect `DescribeUser`: `GET /users/{InstanceId}/{UserId}`.
pub(super) async fn describe_user(
    State(state): State<Emulator>,
    Path((instance_id, user_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let Some(user) = state.fixture.connect.users.iter().find(|u| u.id == user_id) else {
        return connect_not_found(&format!("User {user_id}"));
    };
    let arn = format!("{}/agent/{}", state.fixture.instance_arn(), user.id);
    Json(json!({"User": {
        "Id": user.id,
        "Arn": arn,
        "Username": user.username,
        "IdentityInfo": {"Email": user.username},
        "PhoneConfig": {"PhoneType": "SOFT_PHONE", "AutoAccept": false, "AfterContactWorkTimeLimit": 0},
        "SecurityProfileIds": user.security_profile_ids,
        "RoutingProfileId": "00000000-0000-0000-0000-00000000beef",
        "HierarchyGroupId": user.hierarchy_group_id,
        "Tags": {}
    }}))
    .into_response()
}

/// Connect `DescribeUserHierarchyGroup`: `GET /user-hierarchy-groups/{InstanceId}/{HierarchyGroupId}`.
pub(super) async fn describe_user_hierarchy_group(
    State(state): State<Emulator>,
    Path((instance_id, group_id)): Path<(String, String)>,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let groups = &state.fixture.connect.hierarchy_groups;
    let Some(group) = groups.iter().find(|g| g.id == group_id) else {
        return connect_not_found(&format!("Hierarchy group {group_id}"));
    };
    let arn = |id: &str| format!("{}/agent-group/{id}", state.fixture.instance_arn());
    let mut path = serde_json::Map::new();
    for (level, id) in ["LevelOne", "LevelTwo", "LevelThree", "LevelFour", "LevelFive"].iter().zip(&group.path) {
        let name = groups.iter().find(|g| &g.id == id).map(|g| g.name.as_str()).unwrap_or_default();
        path.insert((*level).to_owned(), json!({"Id": id, "Arn": arn(id), "Name": name}));
    }
    Json(json!({"HierarchyGroup": {
        "Id": group.id, "Arn": arn(&group.id), "Name": group.name, "LevelId": group.level_id,
        "HierarchyPath": path, "Tags": {}
    }}))
    .into_response()
}

/// Connect `GetFederationToken`: `GET /user/federate/{InstanceId}`. The user is the one whose
/// username is the session name of the assumed role that signed the request.
pub(super) async fn get_federation_token(
    State(state): State<Emulator>,
    Path(instance_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    if let Err(response) = check_instance(&state, &instance_id) {
        return *response;
    }
    let session = match caller_session_name(&state, &headers).await {
        Ok(Some(session)) => session,
        Ok(None) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "UserNotFoundException",
                "GetFederationToken must be called with the credentials of an assumed role named after the user",
            )
        }
        Err(problem) => return aws_error(StatusCode::INTERNAL_SERVER_ERROR, "InternalServiceException", &problem),
    };
    // Connect answers a session name that names no user of the instance with UserNotFoundException.
    let Some(user) = state.fixture.connect.users.iter().find(|u| u.username.eq_ignore_ascii_case(&session)) else {
        return aws_error(StatusCode::NOT_FOUND, "UserNotFoundException", "User not found");
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    Json(json!({
        "Credentials": {
            "AccessToken": format!("local-access-{}", uuid::Uuid::new_v4()),
            "AccessTokenExpiration": now + 12 * 3600,
            "RefreshToken": format!("local-refresh-{}", uuid::Uuid::new_v4()),
            "RefreshTokenExpiration": now + 30 * 24 * 3600
        },
        "SignInUrl": format!("https://localhost/connect/federate/{}", state.fixture.connect.instance_id),
        "UserArn": format!("{}/agent/{}", state.fixture.instance_arn(), user.id),
        "UserId": user.id
    }))
    .into_response()
}

/// The access key id in a SigV4 `Authorization` header.
fn access_key_id(headers: &HeaderMap) -> Option<String> {
    let authorization = headers.get("authorization")?.to_str().ok()?;
    let credential = authorization.split("Credential=").nth(1)?;
    credential.split('/').next().map(str::to_owned)
}

/// Asks moto's STS who holds the request's access key; the session name of an assumed role, if any.
async fn caller_session_name(state: &Emulator, headers: &HeaderMap) -> Result<Option<String>, String> {
    let (Some(moto), Some(key)) = (&state.moto, access_key_id(headers)) else {
        return Ok(None);
    };
    // moto identifies the caller by the access key in the credential scope and does not check
    // signatures, so a request naming the key is enough.
    let response = state
        .http
        .post(format!("{moto}/"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential={key}/20260101/{}/sts/aws4_request, SignedHeaders=host, Signature=0",
                state.fixture.region
            ),
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body("Action=GetCallerIdentity&Version=2011-06-15")
        .send()
        .await
        .map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    let text = response.text().await.map_err(|e| format!("STS GetCallerIdentity: {e}"))?;
    // The one field needed from the XML answer: <Arn>arn:aws:sts::…:assumed-role/<role>/<session></Arn>.
    let arn = text.split("<Arn>").nth(1).and_then(|rest| rest.split("</Arn>").next()).unwrap_or_default();
    Ok(arn.contains(":assumed-role/").then(|| arn.rsplit('/').next().unwrap_or_default().to_owned()))
}
