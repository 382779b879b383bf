//! `connect-associations` (custom resource `ConnectAssociations`): associates Lambda functions and
//! Lex V2 bot aliases from outside the stack with the instance, so flows can name them (the stack's
//! own functions have `AWS::Connect::IntegrationAssociation`).
//!
//! Create/Update: every page of `ListLambdaFunctions` and `ListBots` (V2); each listed ARN that is
//! not associated is associated (`AssociateLambdaFunction`, `AssociateBot`) and recorded as ours;
//! one that already was is recorded as adopted. Additions come before removals, so a flow that moves
//! from one function to another never sees neither. An ARN no longer listed (Update) is
//! disassociated only if we associated it; an adopted one is only forgotten. Delete disassociates
//! what we associated. A `ResourceNotFoundException` on a disassociation is done: someone removed it
//! first. Items: `ASSOC#<instanceId>` / `<arn>` with `kind` and `adopted`.

use std::collections::{BTreeMap, BTreeSet};

use aws_config::SdkConfig;
use aws_sdk_connect::types::LexV2Bot;
use aws_smithy_types::error::display::DisplayErrorContext;
use serde::{Deserialize, Deserializer};

use super::provision_flows::{associated_bot_aliases, associated_lambdas, instance_id, FlowsError};
use crate::{
    edge::custom_resource::{Envelopes, Outcome, Request},
    platform::{
        config::{ConfigError, Settings},
        store::{self, StoreError},
    },
};

/// The `ConnectAssociations` resource's properties.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct AssociationProperties {
    pub instance_id: String,
    /// Lambda function ARNs (a list, or CloudFormation's comma-joined string).
    #[serde(default, deserialize_with = "arn_list")]
    pub external_lambda_arns: Vec<String>,
    /// Lex V2 bot alias ARNs.
    #[serde(default, deserialize_with = "arn_list")]
    pub lex_bot_alias_arns: Vec<String>,
}

fn arn_list<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Arns {
        Joined(String),
        List(Vec<String>),
    }
    let arns = match Arns::deserialize(deserializer)? {
        Arns::Joined(joined) => joined.split(',').map(str::to_owned).collect(),
        Arns::List(list) => list,
    };
    Ok(arns.into_iter().map(|a| a.trim().to_owned()).filter(|a| !a.is_empty()).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Lambda,
    Bot,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Lambda => "lambda",
            Self::Bot => "bot",
        }
    }
}

pub struct ConnectAssociations {
    connect: aws_sdk_connect::Client,
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    instance_id: String,
}

impl ConnectAssociations {
    pub fn from_env(sdk: &SdkConfig, settings: &Settings) -> Result<Self, ConfigError> {
        Ok(Self {
            connect: aws_sdk_connect::Client::new(sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(sdk),
            table: settings.string("FLOWS_TABLE")?,
            instance_id: instance_id(&settings.string("CONNECT_INSTANCE_ID")?),
        })
    }

    pub async fn handle(
        &self,
        request: Request<AssociationProperties>,
        _envelopes: Envelopes,
    ) -> Result<Outcome, FlowsError> {
        let physical_resource_id = format!("connect-associations-{}", self.instance_id);
        let properties = request.properties();
        if instance_id(&properties.instance_id) != self.instance_id {
            return Err(FlowsError::Refused(format!(
                "InstanceId {} is not the instance this function manages",
                properties.instance_id
            )));
        }
        let wanted: BTreeMap<String, Kind> = match &request {
            Request::Delete { .. } => BTreeMap::new(),
            _ => wanted(properties),
        };
        let (associated, adopted) = self.add(&wanted).await?;
        let removed = self.remove(&wanted).await?;
        let data = BTreeMap::from([
            ("Associated".to_owned(), associated.to_string()),
            ("Adopted".to_owned(), adopted.to_string()),
            ("Disassociated".to_owned(), removed.to_string()),
        ]);
        let physical_resource_id = match &request {
            Request::Update { physical_resource_id, .. } | Request::Delete { physical_resource_id, .. } => {
                physical_resource_id.clone()
            }
            Request::Create { .. } => physical_resource_id,
        };
        Ok(Outcome { physical_resource_id, data })
    }

    /// Associates what is missing; records each wanted ARN (ours or adopted).
    async fn add(&self, wanted: &BTreeMap<String, Kind>) -> Result<(usize, usize), FlowsError> {
        let present = self.associated().await?;
        let recorded = self.recorded().await?;
        let (mut associated, mut adopted) = (0, 0);
        for (arn, kind) in wanted {
            // Recorded and still there: nothing to do. Recorded but gone (removed by hand): again.
            if recorded.contains_key(arn) && present.contains(arn) {
                continue;
            }
            let ours = !present.contains(arn);
            if ours {
                self.associate(arn, *kind).await?;
                associated += 1;
            } else {
                adopted += 1;
            }
            let mut item = store::key(self.pk(), arn);
            item.insert("kind".into(), store::s(kind.as_str()));
            item.insert("adopted".into(), aws_sdk_dynamodb::types::AttributeValue::Bool(!ours));
            self.dynamodb
                .put_item()
                .table_name(&self.table)
                .set_item(Some(item))
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("PutItem", e))?;
        }
        Ok((associated, adopted))
    }

    /// Disassociates recorded ARNs no longer wanted, if ours; forgets them either way.
    async fn remove(&self, wanted: &BTreeMap<String, Kind>) -> Result<usize, FlowsError> {
        let mut removed = 0;
        for (arn, (kind, adopted)) in self.recorded().await? {
            if wanted.contains_key(&arn) {
                continue;
            }
            if !adopted {
                self.disassociate(&arn, kind).await?;
                removed += 1;
            }
            self.dynamodb
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(store::key(self.pk(), &arn)))
                .send()
                .await
                .map_err(|e| StoreError::from_sdk("DeleteItem", e))?;
        }
        Ok(removed)
    }

    fn pk(&self) -> String {
        format!("ASSOC#{}", self.instance_id)
    }

    /// Every Lambda and Lex V2 alias associated with the instance now.
    async fn associated(&self) -> Result<BTreeSet<String>, FlowsError> {
        let lambdas = associated_lambdas(&self.connect, &self.instance_id).await?;
        let aliases = associated_bot_aliases(&self.connect, &self.instance_id).await?;
        Ok(lambdas.into_iter().chain(aliases).collect())
    }

    async fn recorded(&self) -> Result<BTreeMap<String, (Kind, bool)>, FlowsError> {
        let items = store::query_partition(&self.dynamodb, &self.table, &self.pk()).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let arn = store::get_str(&item, "sk")?.to_owned();
                let kind = if store::get_str(&item, "kind") == Some("bot") { Kind::Bot } else { Kind::Lambda };
                Some((arn, (kind, store::get_bool(&item, "adopted").unwrap_or(true))))
            })
            .collect())
    }

    async fn associate(&self, arn: &str, kind: Kind) -> Result<(), FlowsError> {
        let result = match kind {
            Kind::Lambda => self
                .connect
                .associate_lambda_function()
                .instance_id(&self.instance_id)
                .function_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| DisplayErrorContext(&e).to_string()),
            Kind::Bot => self
                .connect
                .associate_bot()
                .instance_id(&self.instance_id)
                .lex_v2_bot(LexV2Bot::builder().alias_arn(arn).build())
                .send()
                .await
                .map(|_| ())
                .map_err(|e| DisplayErrorContext(&e).to_string()),
        };
        result.map_err(|e| FlowsError::Dependency(format!("associating {arn}: {e}")))
    }

    async fn disassociate(&self, arn: &str, kind: Kind) -> Result<(), FlowsError> {
        let not_found = |code: Option<&str>| code == Some("ResourceNotFoundException");
        use aws_smithy_types::error::metadata::ProvideErrorMetadata as _;
        let result = match kind {
            Kind::Lambda => match self
                .connect
                .disassociate_lambda_function()
                .instance_id(&self.instance_id)
                .function_arn(arn)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if not_found(e.code()) => Ok(()),
                Err(e) => Err(DisplayErrorContext(&e).to_string()),
            },
            Kind::Bot => match self
                .connect
                .disassociate_bot()
                .instance_id(&self.instance_id)
                .lex_v2_bot(LexV2Bot::builder().alias_arn(arn).build())
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if not_found(e.code()) => Ok(()),
                Err(e) => Err(DisplayErrorContext(&e).to_string()),
            },
        };
        result.map_err(|e| FlowsError::Dependency(format!("disassociating {arn}: {e}")))
    }
}

fn wanted(properties: &AssociationProperties) -> BTreeMap<String, Kind> {
    let lambdas = properties.external_lambda_arns.iter().map(|arn| (arn.clone(), Kind::Lambda));
    let bots = properties.lex_bot_alias_arns.iter().map(|arn| (arn.clone(), Kind::Bot));
    lambdas.chain(bots).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_come_as_a_list_or_cloudformations_joined_string() {
        let joined: AssociationProperties = serde_json::from_value(serde_json::json!({
            "InstanceId": "i", "ExternalLambdaArns": "arn:a, arn:b,", "LexBotAliasArns": ""
        }))
        .unwrap();
        assert_eq!(joined.external_lambda_arns, ["arn:a", "arn:b"]);
        assert!(joined.lex_bot_alias_arns.is_empty());
        let listed: AssociationProperties =
            serde_json::from_value(serde_json::json!({"InstanceId": "i", "LexBotAliasArns": ["arn:bot"]})).unwrap();
        assert_eq!(wanted(&listed), BTreeMap::from([("arn:bot".to_owned(), Kind::Bot)]));
    }
}
