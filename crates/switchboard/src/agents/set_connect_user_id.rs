//! `set-connect-user-id` (`POST /setConnectUserId`, body `{connectLoginByEmail, connectUserId}`): binds
//! the agent's Cognito user to their Connect user, once.
//!
//! The app client cannot write `custom:connectUserId` (the template leaves it out of the client's
//! write attributes), so this admin call is the only way in, and it only accepts the Connect user
//! whose username is the caller's own. Data: `{connectUserId}`.

use aws_config::SdkConfig;
use aws_sdk_cognitoidentityprovider::types::AttributeType;
use lambda_http::Request;
use serde::Deserialize;

use super::connect_username;
use crate::platform::connect_api::{connect_error, instance_id, is_connect_id};
use crate::shared::connect_user::CONNECT_USER_ID_ATTRIBUTE;
use crate::{
    edge::http::{json_body, ApiError, Claims, Reply},
    platform::config::{ConfigError, Settings},
};

pub struct SetConnectUserId {
    pub connect: aws_sdk_connect::Client,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub instance_id: String,
    pub user_pool_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SetConnectUserIdBody {
    connect_login_by_email: bool,
    connect_user_id: String,
}

impl SetConnectUserId {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: aws_sdk_connect::Client::new(sdk),
            cognito: aws_sdk_cognitoidentityprovider::Client::new(sdk),
            instance_id: instance_id(env)?,
            user_pool_id: env.string("COGNITO_USER_POOL_ID")?,
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        if claims.get(CONNECT_USER_ID_ATTRIBUTE).is_some() {
            return Err(ApiError::bad_field(CONNECT_USER_ID_ATTRIBUTE, "the token already has a Connect user id"));
        }
        let body: SetConnectUserIdBody = json_body(&request)?;
        let id = body.connect_user_id.trim();
        if !is_connect_id(id) {
            return Err(ApiError::bad_field("connectUserId", "must be a Connect user id (a UUID)"));
        }
        let username = connect_username(&claims, body.connect_login_by_email)?;
        let cognito_username = claims.require("cognito:username")?;

        let described =
            self.connect.describe_user().instance_id(&self.instance_id).user_id(id).send().await.map_err(|e| {
                connect_error(e, || ApiError::bad_field("connectUserId", &format!("no Connect user has the id {id}")))
            })?;
        let owner = described.user().and_then(|u| u.username()).unwrap_or_default();
        if !owner.eq_ignore_ascii_case(&username) {
            tracing::warn!("refused a Connect user id that belongs to another user");
            return Err(ApiError::bad_field("connectUserId", &format!("{id} is not your Connect user")));
        }

        let attribute =
            AttributeType::builder().name(CONNECT_USER_ID_ATTRIBUTE).value(id).build().map_err(ApiError::dependency)?;
        self.cognito
            .admin_update_user_attributes()
            .user_pool_id(&self.user_pool_id)
            .username(cognito_username)
            .user_attributes(attribute)
            .send()
            .await
            .map_err(|e| ApiError::dependency(aws_smithy_types::error::display::DisplayErrorContext(&e)))?;
        tracing::info!("Connect user id set");
        Reply::new("Connect user id set", &serde_json::json!({"connectUserId": id}))
    }
}
