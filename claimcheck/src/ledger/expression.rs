//! The conditional `UpdateItem` of a state change: the update expression, its attribute names
//! and values, built from the target state and the [`Changes`].

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Changes, Item, Status, TTL_ATTRIBUTE};

/// An update expression with its placeholders, ready for `UpdateItem`.
pub(super) struct Update {
    /// `SET ... [ADD ...] [REMOVE ...]`.
    pub expression: String,
    /// `#name` placeholders: every field goes through one, as some (`size`) are DynamoDB
    /// reserved words.
    pub names: HashMap<String, String>,
    /// `:value` placeholders, including `:from0…` for the allowed source states.
    pub values: Item,
}

impl Update {
    /// Moves payload `id` to `to` at `now` (epoch ms) with `changes`, the TTL set to `ttl`
    /// (epoch s), its status index key with it (set, or removed for a state the index leaves
    /// out); the source states become `:from0`, `:from1`, … for the caller's condition.
    pub fn new(
        id: &str,
        to: Status,
        from: &[Status],
        changes: &Changes,
        now: i64,
        ttl: i64,
    ) -> Self {
        let mut sets = vec![
            "#status = :to".to_owned(),
            "updated_at = :now_set".into(),
            format!("{TTL_ATTRIBUTE} = :ttl"),
        ];
        let mut values = Item::from([
            (":to".into(), s(to.as_str())),
            (":now_set".into(), n(now)),
            (":ttl".into(), n(ttl)),
        ]);
        for (i, status) in from.iter().enumerate() {
            values.insert(format!(":from{i}"), s(status.as_str()));
        }
        let mut names = HashMap::from([("#status".to_owned(), "status".to_owned())]);
        let shard = super::status_shard(to, id);
        if let Some(shard) = &shard {
            sets.push("status_shard = :status_shard".into());
            values.insert(":status_shard".into(), s(shard));
        }
        let mut set = |field: &str, value: AttributeValue| {
            sets.push(format!("#{field} = :{field}"));
            names.insert(format!("#{field}"), field.to_owned());
            values.insert(format!(":{field}"), value);
        };
        if let Some(size) = changes.size {
            set("size", n(size));
        }
        if let Some(sha) = &changes.sha256 {
            set("sha256", s(sha));
        }
        if let Some(e_tag) = &changes.e_tag {
            set("e_tag", s(e_tag));
        }
        if let Some(message_id) = &changes.message_id {
            set("message_id", s(message_id));
        }
        if let Some(error) = &changes.last_error {
            set("last_error", s(error));
        }
        if let Some(at) = changes.completing_at {
            set("completing_at", n(at));
        }
        if let Some((owner, until)) = &changes.lease {
            set("lease_owner", s(owner));
            set("lease_expires_at", n(*until));
        }
        if changes.last_error.is_some() {
            // The first cause stays: later failures only replace the last one.
            sets.push("#first_error = if_not_exists(#first_error, :last_error)".into());
            names.insert("#first_error".into(), "first_error".into());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        let counters: Vec<&str> = [
            ("attempts :one", changes.count_attempt),
            ("redrives :one", changes.count_redrive),
            ("redrives :minus_one", changes.uncount_redrive),
        ]
        .into_iter()
        .filter_map(|(add, wanted)| wanted.then_some(add))
        .collect();
        if !counters.is_empty() {
            expression.push_str(&format!(" ADD {}", counters.join(", ")));
            if changes.count_attempt || changes.count_redrive {
                values.insert(":one".into(), n(1));
            }
            if changes.uncount_redrive {
                values.insert(":minus_one".into(), n(-1));
            }
        }
        let mut removes = Vec::new();
        if changes.release_lease {
            removes.extend(["lease_owner", "lease_expires_at"]);
        }
        if changes.clear_last_error && changes.last_error.is_none() {
            removes.push("last_error");
        }
        if changes.clear_completing && changes.completing_at.is_none() {
            removes.push("completing_at");
        }
        // Leaving `pending` leaves the sparse pending index (removing an absent attribute is
        // a no-op).
        if to != Status::Pending {
            removes.push("pending_owner");
        }
        // Leaving the listed states leaves the status index.
        if shard.is_none() {
            removes.push("status_shard");
        }
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        Self {
            expression,
            names,
            values,
        }
    }

    /// Adds the caller's own `:name` values (used by its condition).
    pub fn with_values(mut self, extra: &[(&str, AttributeValue)]) -> Self {
        for (name, value) in extra {
            self.values.insert((*name).to_owned(), value.clone());
        }
        self
    }
}

/// `:from0, :from1, …`: the placeholders of `count` source states.
pub(super) fn placeholders(prefix: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!(":{prefix}{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A DynamoDB string.
pub(super) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

/// A DynamoDB number.
pub(super) fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}
