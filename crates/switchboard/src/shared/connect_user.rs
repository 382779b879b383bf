//! The Connect user behind an agent's token, and the cache of Connect users in `VideoTable`: agents
//! writes both (`set-connect-user-id` the token's claim, `put-connect-user-cache` the cache item);
//! video and recording read them to authorise by the agent's Connect placement.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::AttributeValue;
use time::OffsetDateTime;

use crate::{
    edge::http::{ApiError, Claims},
    platform::store::{self, Item},
};

/// The Cognito attribute holding the agent's Connect user id (only `set-connect-user-id` writes it).
pub const CONNECT_USER_ID_ATTRIBUTE: &str = "custom:connectUserId";

/// The agent's Connect user id from the token (`custom:connectUserId`, which only
/// `set-connect-user-id` writes); a token without it is a 400 naming the claim and what to do.
pub fn connect_user_id(claims: &Claims) -> Result<&str, ApiError> {
    claims.get(CONNECT_USER_ID_ATTRIBUTE).ok_or_else(|| {
        ApiError::bad_field(CONNECT_USER_ID_ATTRIBUTE, "the token has no Connect user id; call /setConnectUserId first")
    })
}

/// The key of an agent's Connect user cache item (`CUC#<id>` as both partition and sort key).
pub fn user_cache_key(connect_user_id: &str) -> Item {
    let key = format!("CUC#{connect_user_id}");
    store::key(key.clone(), key)
}

/// Where an agent sits in the Connect hierarchy: their group, its level (`"1"`…`"5"`) and the group
/// id at each level of its path, as `put-connect-user-cache` stored them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupPlacement {
    pub id: String,
    pub level: String,
    /// `levelOne` … `levelFive` → group id.
    pub path: BTreeMap<String, String>,
}

/// The path's level names, by level id.
const LEVEL_NAMES: [(&str, &str); 5] =
    [("1", "levelOne"), ("2", "levelTwo"), ("3", "levelThree"), ("4", "levelFour"), ("5", "levelFive")];

impl GroupPlacement {
    /// The placement of a Connect hierarchy group (`DescribeUserHierarchyGroup`): its id, level and
    /// the group id at each level of its path that has one.
    pub fn from_connect(group: &aws_sdk_connect::types::HierarchyGroup) -> Self {
        let levels = group
            .hierarchy_path()
            .map(|p| [p.level_one(), p.level_two(), p.level_three(), p.level_four(), p.level_five()]);
        let path = LEVEL_NAMES
            .iter()
            .zip(levels.unwrap_or_default())
            .filter_map(|((_, name), level)| Some(((*name).to_owned(), level?.id()?.to_owned())))
            .collect();
        Self {
            id: group.id().unwrap_or_default().to_owned(),
            level: group.level_id().unwrap_or_default().to_owned(),
            path,
        }
    }

    pub fn from_attribute(value: &AttributeValue) -> Option<Self> {
        let map = value.as_m().ok()?;
        let text = |name: &str| map.get(name).and_then(|v| v.as_s().ok()).cloned();
        let path = map
            .get("path")
            .and_then(|p| p.as_m().ok())
            .map(|p| p.iter().filter_map(|(k, v)| Some((k.clone(), v.as_s().ok()?.clone()))).collect())
            .unwrap_or_default();
        Some(Self { id: text("id").filter(|id| !id.is_empty())?, level: text("levelId").unwrap_or_default(), path })
    }

    /// The map `put-connect-user-cache` stores as `hierarchyGroup` and a recording as `ownerGroup`.
    pub fn to_attribute(&self) -> AttributeValue {
        let path = self.path.iter().map(|(k, v)| (k.clone(), store::s(v))).collect();
        AttributeValue::M(
            [
                ("id".to_owned(), store::s(&self.id)),
                ("levelId".to_owned(), store::s(&self.level)),
                ("path".to_owned(), AttributeValue::M(path)),
            ]
            .into(),
        )
    }

    /// The group id at `level` of this placement's path.
    pub fn at_level(&self, level: &str) -> Option<&str> {
        let name = LEVEL_NAMES.iter().find(|(id, _)| *id == level).map(|(_, name)| *name)?;
        self.path.get(name).map(String::as_str)
    }
}

/// An agent's cached Connect user (`CUC#<connectUserId>`, written by `put-connect-user-cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedUser {
    pub security_profile_ids: Vec<String>,
    pub group: Option<GroupPlacement>,
}

/// The live cache of `connect_user_id`, or a 403 saying how to get one: the routes that authorise by
/// Connect placement never guess it.
pub async fn cached_user(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
    connect_user_id: &str,
    now: OffsetDateTime,
) -> Result<CachedUser, ApiError> {
    let item = store::get_item(dynamodb, table, user_cache_key(connect_user_id)).await.map_err(ApiError::dependency)?;
    let Some(item) = store::live(item, now) else {
        return Err(ApiError::forbidden(
            "no current Connect user cache for this agent; the agent-app refreshes it with PUT /connect-user-cache",
        ));
    };
    let security_profile_ids = item
        .get("securityProfileIds")
        .and_then(|v| v.as_l().ok())
        .map(|ids| ids.iter().filter_map(|id| id.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    // The group's summary, else at least its id (a cache written without the summary still places
    // the agent in a group: never as an agent without one).
    let group = item.get("hierarchyGroup").and_then(GroupPlacement::from_attribute).or_else(|| {
        store::get_str(&item, "hierarchyGroupId").map(|id| GroupPlacement {
            id: id.to_owned(),
            level: String::new(),
            path: BTreeMap::new(),
        })
    });
    Ok(CachedUser { security_profile_ids, group })
}

/// A placement by its group id, level and the group ids along its path from level one (for tests).
#[cfg(test)]
pub(crate) fn placement(id: &str, level: &str, path: &[&str]) -> GroupPlacement {
    GroupPlacement {
        id: id.into(),
        level: level.into(),
        path: LEVEL_NAMES.iter().zip(path).map(|((_, name), id)| ((*name).to_owned(), (*id).to_owned())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_group_is_placed_by_its_level_and_the_ids_along_its_path() {
        use aws_sdk_connect::types::{HierarchyGroup, HierarchyGroupSummary, HierarchyPath};
        let summary = |id: &str| HierarchyGroupSummary::builder().id(id).build();
        let group = HierarchyGroup::builder()
            .id("syd")
            .level_id("2")
            .hierarchy_path(HierarchyPath::builder().level_one(summary("apac")).level_two(summary("syd")).build())
            .build();
        assert_eq!(GroupPlacement::from_connect(&group), placement("syd", "2", &["apac", "syd"]));
        let bare = GroupPlacement::from_connect(&HierarchyGroup::builder().id("g").build());
        assert_eq!(bare, GroupPlacement { id: "g".into(), level: String::new(), path: BTreeMap::new() });
    }

    #[test]
    fn placements_round_trip_through_their_attribute() {
        let sydney = placement("syd", "2", &["apac", "syd"]);
        assert_eq!(GroupPlacement::from_attribute(&sydney.to_attribute()), Some(sydney));
        assert_eq!(GroupPlacement::from_attribute(&store::s("x")), None);
    }
}
