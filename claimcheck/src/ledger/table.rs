//! Creating the ledger table as Terraform does in AWS (`infra/ledger.tf`): for local mode and
//! tests only (the `provision` feature); a deployment's table comes from Terraform.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{Ledger, LedgerError, PENDING_INDEX, STATUS_INDEX, TTL_ATTRIBUTE};

impl Ledger {
    /// Creates the table with its status and pending indexes and TTL, as Terraform does in AWS (for local
    /// runs and tests). Succeeds if the table exists already.
    pub async fn create_table(&self) -> Result<(), LedgerError> {
        let key = |name: &str, key_type| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(|e| build_error("CreateTable", e))
        };
        let attribute = |name: &str, kind| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(kind)
                .build()
                .map_err(|e| build_error("CreateTable", e))
        };
        let index = GlobalSecondaryIndex::builder()
            .index_name(STATUS_INDEX)
            .key_schema(key("status_shard", KeyType::Hash)?)
            .key_schema(key("updated_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::KeysOnly)
                    .build(),
            )
            .build()
            .map_err(|e| build_error("CreateTable", e))?;
        let pending_index = GlobalSecondaryIndex::builder()
            .index_name(PENDING_INDEX)
            .key_schema(key("pending_owner", KeyType::Hash)?)
            .key_schema(key("created_at", KeyType::Range)?)
            .projection(
                Projection::builder()
                    .projection_type(ProjectionType::Include)
                    .non_key_attributes("url_expires_at")
                    .build(),
            )
            .build()
            .map_err(|e| build_error("CreateTable", e))?;
        let created = self
            .ddb
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("id", KeyType::Hash)?)
            .attribute_definitions(attribute("id", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("status_shard", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("updated_at", ScalarAttributeType::N)?)
            .attribute_definitions(attribute("pending_owner", ScalarAttributeType::S)?)
            .attribute_definitions(attribute("created_at", ScalarAttributeType::N)?)
            .global_secondary_indexes(index)
            .global_secondary_indexes(pending_index)
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(LedgerError::dynamo("CreateTable", e)),
        }
        let ttl = TimeToLiveSpecification::builder()
            .attribute_name(TTL_ATTRIBUTE)
            .enabled(true)
            .build()
            .map_err(|e| build_error("UpdateTimeToLive", e))?;
        self.ddb
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(ttl)
            .send()
            .await
            .map_err(|e| LedgerError::dynamo("UpdateTimeToLive", e))?;
        Ok(())
    }
}

fn build_error(operation: &'static str, e: aws_sdk_dynamodb::error::BuildError) -> LedgerError {
    LedgerError::Dynamo {
        operation,
        message: e.to_string(),
        transient: false,
        source: Box::new(e),
    }
}
