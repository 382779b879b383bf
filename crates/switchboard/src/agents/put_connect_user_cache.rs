//! `put-connect-user-cache` (`PUT /connect-user-cache`): caches the agent's Connect hierarchy and
//! security profiles, which later routes (recording playback) authorise against.
//!
//! Skipped (data `false`) while the cache is younger than 5 minutes; otherwise `DescribeUser`, and
//! `DescribeUserHierarchyGroup` when the user has a group, are stored with `ttl = now + 12 h` (data
//! `true`).

use std::sync::Arc;

use aws_config::SdkConfig;
use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::Request;

use crate::platform::connect_api::{connect_error, instance_id};
use crate::shared::connect_user::{connect_user_id, user_cache_key, GroupPlacement};
use crate::{
    edge::http::{ApiError, Claims, Reply},
    platform::{
        config::{ConfigError, Settings},
        store,
        time::{Clock, SystemClock},
    },
};

/// A cache younger than this is fresh enough: the agent-app calls on every page load.
const REFRESH_AFTER_SECONDS: i64 = 5 * 60;
/// How long a cache entry lives.
const CACHE_TTL_SECONDS: i64 = 12 * 60 * 60;

pub struct PutConnectUserCache {
    pub connect: aws_sdk_connect::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub table: String,
    pub instance_id: String,
    pub clock: Arc<dyn Clock>,
}

impl PutConnectUserCache {
    pub fn from_env(sdk: &SdkConfig, env: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: aws_sdk_connect::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: env.string("VIDEO_TABLE")?,
            instance_id: instance_id(env)?,
            clock: Arc::new(SystemClock),
        })
    }

    pub async fn handle(&self, request: Request) -> Result<Reply, ApiError> {
        let claims = Claims::from_request(&request);
        let id = connect_user_id(&claims)?;
        let now = self.clock.now().unix_timestamp();
        let key = user_cache_key(id);

        let cached = store::get_item(&self.dynamodb, &self.table, key.clone()).await.map_err(ApiError::dependency)?;
        let fresh = store::live(cached, self.clock.now())
            .and_then(|item| store::get_i64(&item, "createdAt"))
            .is_some_and(|created| now - created < REFRESH_AFTER_SECONDS);
        if fresh {
            return Reply::new("Connect user cache is fresh", &false);
        }

        let described = self
            .connect
            .describe_user()
            .instance_id(&self.instance_id)
            .user_id(id)
            .send()
            .await
            .map_err(|e| connect_error(e, || ApiError::not_found("no Connect user has the token's id")))?;
        let user = described.user().ok_or_else(|| ApiError::dependency("DescribeUser returned no user"))?;

        let mut item = key;
        item.insert("connectUserId".into(), store::s(id));
        let profiles = user.security_profile_ids().iter().map(|p| store::s(p.as_str())).collect();
        item.insert("securityProfileIds".into(), AttributeValue::L(profiles));
        if let Some(group_id) = user.hierarchy_group_id() {
            let group = self
                .connect
                .describe_user_hierarchy_group()
                .instance_id(&self.instance_id)
                .hierarchy_group_id(group_id)
                .send()
                .await
                .map_err(|e| {
                    connect_error(e, || ApiError::dependency(format!("hierarchy group {group_id} is missing")))
                })?;
            item.insert("hierarchyGroupId".into(), store::s(group_id));
            if let Some(group) = group.hierarchy_group() {
                item.insert("hierarchyGroup".into(), GroupPlacement::from_connect(group).to_attribute());
            }
        }
        item.insert("createdAt".into(), store::n(now));
        item.insert("ttl".into(), store::n(now + CACHE_TTL_SECONDS));
        self.dynamodb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| ApiError::dependency(store::StoreError::from_sdk("PutItem", e)))?;
        tracing::info!("Connect user cache stored");
        Reply::new("Connect user cache stored", &true)
    }
}
