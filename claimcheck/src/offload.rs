//! The offload decision: when a message's body goes to S3, and which sends are refused.
//!
//! A message is offloaded when `always_through_s3` is set, or when its body's UTF-8 bytes plus
//! its attributes' bytes are strictly greater than the threshold (default 262144). The Java
//! library's rules are applied on every send, large or not, so a message that would be refused
//! once it grew is refused from the start: an empty body, more than 9 user attributes (SQS
//! allows 10 and one is reserved), a reserved attribute name from the caller, or attributes
//! that alone exceed the threshold.

use crate::message_attributes::{MessageAttributes, attributes_wire_size, name_problem};
use crate::size_attribute::is_reserved;

/// SQS's original message size limit, still the safe default for queues created before 2025.
pub const DEFAULT_THRESHOLD: usize = 262_144;
/// SQS's message size limit since August 2025; the largest threshold we accept.
pub const MAX_THRESHOLD: usize = crate::sqs_limits::MAX_MESSAGE_BYTES;
/// SQS allows 10 attributes; an offloaded message needs one for the size.
pub const MAX_USER_ATTRIBUTES: usize = crate::sqs_limits::MAX_MESSAGE_ATTRIBUTES - 1;

/// Why a message may not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendRuleError {
    /// The body is empty; SQS and the Java library refuse empty messages.
    #[error("message body must not be empty")]
    EmptyBody,
    /// More than [`MAX_USER_ATTRIBUTES`] message attributes.
    #[error("{count} message attributes exceed the maximum of {MAX_USER_ATTRIBUTES}")]
    TooManyAttributes {
        /// How many attributes the message has.
        count: usize,
    },
    /// The caller used a reserved size attribute name (`ExtendedPayloadSize` or
    /// `SQSLargePayloadSize`); carries the name.
    #[error("message attribute name {0:?} is reserved for the extended client")]
    ReservedAttributeName(String),
    /// A message attribute SQS would refuse: a name against its naming rules, or an empty
    /// value (checked before anything is uploaded or sent).
    #[error("message attribute {name:?} {problem}")]
    InvalidAttribute {
        /// The attribute's name.
        name: String,
        /// What is wrong (`may use only A-Z a-z 0-9 - _ .`, `has an empty value`, ...).
        problem: String,
    },
    /// The message attributes alone are over the threshold (a Java library rule).
    #[error("message attributes total {size} bytes, over the threshold of {threshold} bytes")]
    AttributesTooLarge {
        /// The attributes' total size in bytes, as [`attributes_wire_size`] counts it.
        size: usize,
        /// The policy's threshold in bytes.
        threshold: usize,
    },
    /// A threshold over [`MAX_THRESHOLD`] (SQS's 1 MiB limit); carries the threshold asked for.
    #[error("threshold {0} is over the maximum of {MAX_THRESHOLD} bytes")]
    ThresholdTooLarge(usize),
}

/// When bodies go to S3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OffloadPolicy {
    threshold: usize,
    always_through_s3: bool,
}

impl Default for OffloadPolicy {
    fn default() -> Self {
        Self {
            threshold: DEFAULT_THRESHOLD,
            always_through_s3: false,
        }
    }
}

impl OffloadPolicy {
    /// A policy with the given threshold, at most [`MAX_THRESHOLD`].
    pub fn with_threshold(threshold: usize) -> Result<Self, SendRuleError> {
        if threshold > MAX_THRESHOLD {
            return Err(SendRuleError::ThresholdTooLarge(threshold));
        }
        Ok(Self {
            threshold,
            ..Self::default()
        })
    }

    /// Sends every body through S3 when `always` is set, whatever its size (Java's
    /// `alwaysThroughS3`, Python's `always_through_s3`). The send rules still apply.
    pub fn always_through_s3(self, always: bool) -> Self {
        Self {
            always_through_s3: always,
            ..self
        }
    }

    /// The size in bytes (body plus attributes) above which a message is offloaded.
    pub fn threshold(&self) -> usize {
        self.threshold
    }

    /// Checks the send rules and says whether this message must be offloaded.
    pub fn decide(
        &self,
        body: &str,
        attributes: &MessageAttributes,
    ) -> Result<Decision, SendRuleError> {
        if body.is_empty() {
            return Err(SendRuleError::EmptyBody);
        }
        let attributes_size = self.check_attributes(attributes)?;
        let total = body.len() + attributes_size;
        Ok(if self.always_through_s3 || total > self.threshold {
            Decision::Offload
        } else {
            Decision::Inline
        })
    }

    /// Checks the attribute rules alone (for payloads that go to S3 whatever their size) and
    /// returns the attributes' total size.
    pub fn check_attributes(&self, attributes: &MessageAttributes) -> Result<usize, SendRuleError> {
        if let Some(name) = attributes.keys().find(|name| is_reserved(name)) {
            return Err(SendRuleError::ReservedAttributeName(name.clone()));
        }
        for (name, attribute) in attributes {
            let problem = name_problem(name).or_else(|| {
                attribute
                    .is_empty()
                    .then_some("has an empty value (SQS refuses empty values)")
            });
            if let Some(problem) = problem {
                return Err(SendRuleError::InvalidAttribute {
                    name: name.clone(),
                    problem: problem.to_owned(),
                });
            }
        }
        if attributes.len() > MAX_USER_ATTRIBUTES {
            return Err(SendRuleError::TooManyAttributes {
                count: attributes.len(),
            });
        }
        let size = attributes_wire_size(attributes);
        if size > self.threshold {
            return Err(SendRuleError::AttributesTooLarge {
                size,
                threshold: self.threshold,
            });
        }
        Ok(size)
    }
}

/// Where a message's body goes, as [`OffloadPolicy::decide`] rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send the body in the SQS message itself.
    Inline,
    /// Store the body in S3 and send a pointer with the reserved size attribute.
    Offload,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message_attributes::MessageAttribute;

    fn trace() -> MessageAttributes {
        MessageAttributes::from([("trace".to_owned(), MessageAttribute::string("abc"))])
    }

    /// Names and values SQS refuses are refused before anything is sent.
    #[test]
    fn attributes_sqs_would_refuse_are_send_rule_errors() {
        let policy = OffloadPolicy::default();
        for (name, value, problem) in [
            ("a b", "c", "may use only"),
            ("AWS.trace", "x", "reserves"),
            ("amazon.x", "x", "reserves"),
            (".x", "1", "period"),
            ("a..b", "1", "period"),
            ("empty", "", "empty value"),
        ] {
            let attributes =
                MessageAttributes::from([(name.to_owned(), MessageAttribute::string(value))]);
            let refused = policy.check_attributes(&attributes).expect_err(name);
            assert!(
                matches!(&refused, SendRuleError::InvalidAttribute { name: n, problem: p } if n == name && p.contains(problem)),
                "{name}: {refused}"
            );
        }
        let long = "n".repeat(257);
        let attributes = MessageAttributes::from([(long, MessageAttribute::string("v"))]);
        assert!(policy.check_attributes(&attributes).is_err());
        assert!(policy.check_attributes(&trace()).is_ok());
    }

    #[test]
    fn tv2_threshold_boundary() {
        let policy = OffloadPolicy::default();
        assert_eq!(attributes_wire_size(&trace()), 14);
        let at = "a".repeat(262_130);
        assert_eq!(policy.decide(&at, &trace()), Ok(Decision::Inline));
        let over = "a".repeat(262_131);
        assert_eq!(policy.decide(&over, &trace()), Ok(Decision::Offload));
        let wide = "é".repeat(131_073);
        assert_eq!(wide.len(), 262_146);
        assert_eq!(
            policy.decide(&wide, &MessageAttributes::new()),
            Ok(Decision::Offload)
        );
    }

    #[test]
    fn tv1_defaults() {
        let body = "a".repeat(262_145);
        assert_eq!(
            OffloadPolicy::default().decide(&body, &MessageAttributes::new()),
            Ok(Decision::Offload)
        );
        let body = "a".repeat(262_144);
        assert_eq!(
            OffloadPolicy::default().decide(&body, &MessageAttributes::new()),
            Ok(Decision::Inline)
        );
    }

    #[test]
    fn always_through_s3_offloads_small_bodies() {
        let policy = OffloadPolicy::default().always_through_s3(true);
        assert_eq!(
            policy.decide("x", &MessageAttributes::new()),
            Ok(Decision::Offload)
        );
    }

    #[test]
    fn java_rules_apply_to_every_send() {
        let policy = OffloadPolicy::default();
        let none = MessageAttributes::new();
        assert_eq!(policy.decide("", &none), Err(SendRuleError::EmptyBody));

        let ten: MessageAttributes = (0..10)
            .map(|i| (format!("attr{i}"), MessageAttribute::string("v")))
            .collect();
        assert_eq!(
            policy.decide("small", &ten),
            Err(SendRuleError::TooManyAttributes { count: 10 })
        );
        let nine: MessageAttributes = ten.into_iter().take(9).collect();
        assert_eq!(policy.decide("small", &nine), Ok(Decision::Inline));

        for reserved in ["ExtendedPayloadSize", "SQSLargePayloadSize"] {
            let attrs =
                MessageAttributes::from([(reserved.to_owned(), MessageAttribute::number(1))]);
            assert_eq!(
                policy.decide("small", &attrs),
                Err(SendRuleError::ReservedAttributeName(reserved.into()))
            );
        }

        let huge = MessageAttributes::from([(
            "big".to_owned(),
            MessageAttribute::string("x".repeat(262_144)),
        )]);
        assert_eq!(
            policy.decide("small", &huge),
            Err(SendRuleError::AttributesTooLarge {
                size: 262_144 + 3 + 6,
                threshold: 262_144
            })
        );
    }

    #[test]
    fn threshold_is_configurable_up_to_one_mebibyte() {
        let policy = OffloadPolicy::with_threshold(MAX_THRESHOLD).map(|p| p.threshold());
        assert_eq!(policy, Ok(1_048_576));
        assert_eq!(
            OffloadPolicy::with_threshold(MAX_THRESHOLD + 1),
            Err(SendRuleError::ThresholdTooLarge(MAX_THRESHOLD + 1))
        );
        let small = OffloadPolicy::with_threshold(10).unwrap_or_default();
        assert_eq!(
            small.decide("0123456789", &MessageAttributes::new()),
            Ok(Decision::Inline)
        );
        assert_eq!(
            small.decide("0123456789a", &MessageAttributes::new()),
            Ok(Decision::Offload)
        );
    }
}
