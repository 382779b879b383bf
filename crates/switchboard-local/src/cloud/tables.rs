//! DynamoDB tables as the template declares them, and the rows a test adds to them.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    TimeToLiveSpecification,
};

use super::error::{seed_error, CloudError};
use crate::fixture::Admin;

/// A table keyed `pk`/`sk` (strings), on demand, TTL on `ttl`: the layout every Switchboard table uses.
pub async fn create_pk_sk_table(dynamodb: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), CloudError> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| seed_error(table, e))
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder().attribute_name(name).key_type(kind).build().map_err(|e| seed_error(table, e))
    };
    dynamodb
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(|e| seed_error(table, e))?;
    dynamodb
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name("ttl")
                .enabled(true)
                .build()
                .map_err(|e| seed_error(table, e))?,
        )
        .send()
        .await
        .map_err(|e| seed_error(table, e))?;
    Ok(())
}

/// Adds (or replaces) an emergency admin on the allow-list in `table`.
pub async fn put_admin(dynamodb: &aws_sdk_dynamodb::Client, table: &str, admin: &Admin) -> Result<(), CloudError> {
    dynamodb
        .put_item()
        .table_name(table)
        .item("pk", AttributeValue::S(format!("ADMIN#{}", admin.phone)))
        .item("sk", AttributeValue::S("ADMIN".into()))
        .item("name", AttributeValue::S(admin.name.clone()))
        .item("enabled", AttributeValue::Bool(admin.enabled))
        .send()
        .await
        .map_err(|e| seed_error("admin", e))?;
    Ok(())
}
