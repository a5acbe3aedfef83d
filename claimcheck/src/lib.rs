#![doc = include_str!("../README.md")]
//!
//! ## Modules
//!
//! One module per noun of the protocol:
//! - [`pointer`](mod@pointer): the message body that stands in for an offloaded payload;
//! - [`size_attribute`]: the reserved attribute that marks a body as a pointer;
//! - [`offload`]: when a body goes to S3, and which sends are refused;
//! - [`receipt_handle`]: handles with the pointer embedded, and their restoration;
//! - [`multipart`]: multipart uploads through the API: part plans and completion checks;
//! - [`object_key`]: generated keys under a validated prefix;
//! - [`payload_store`]: payload bytes in S3, streamed both ways, and presigned requests;
//! - [`extended_client`]: send, receive, delete and visibility over SQS, plus Lambda records;
//! - [`content_type`]: media types compared by essence;
//! - [`checksum`]: SHA-256 in the forms S3 and the ledger use;
//! - `admission` (feature `ledger`): an uploaded object checked and queued as a payload;
//! - `ledger` (feature `ledger`): the DynamoDB record of every payload, changed only by
//!   conditional writes;
//! - `repair` (feature `ledger`): DLQ redrive and the reconcile pass, for the redriver and
//!   the CLI;
//! - [`sqs_limits`]: SQS's quotas, named once;
//! - [`status`]: where a payload is in the pipeline;
//! - [`api`]: the HTTP API's request and response bodies;
//! - `http_api` (feature `http-api`): the API handlers' plumbing;
//! - `principal` (feature `http-api`): who calls the API, and who may read which payload;
//! - `local_endpoint` (feature `provision`): what the local AWS endpoint leaves out;
//! - [`processor`]: what a consumer does with each payload, and the verifying default;
//! - [`metrics`]: CloudWatch metrics in the Embedded Metric Format, a line per flush;
//! - [`sdk_config`]: the one SDK configuration every client shares.

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "ledger")]
pub mod admission;
pub mod api;
pub mod checksum;
pub mod content_type;
pub mod extended_client;
#[cfg(feature = "http-api")]
pub mod http_api;
#[cfg(feature = "ledger")]
pub mod ledger;
#[cfg(feature = "provision")]
pub mod local_endpoint;
pub mod message_attributes;
pub mod metrics;
pub mod multipart;
pub mod object_key;
pub mod offload;
pub mod payload_store;
pub mod pointer;
#[cfg(feature = "http-api")]
pub mod principal;
pub mod processor;
pub mod receipt_handle;
#[cfg(feature = "ledger")]
pub mod repair;
pub mod sdk_config;
pub mod sdk_error;
pub mod settings;
pub mod size_attribute;
pub mod sqs_limits;
pub mod status;

pub use extended_client::{ClientError, ExtendedClient, ExtendedClientConfig};
pub use message_attributes::{AttributeValue, MessageAttribute, MessageAttributes};
pub use payload_store::{PayloadStore, StoreError};
pub use pointer::PayloadPointer;
