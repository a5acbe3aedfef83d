//! The reserved size attribute: the marker that says a message body is a pointer.
//!
//! An offloaded message carries the original body's UTF-8 byte length in a `Number` attribute,
//! under the current name (`ExtendedPayloadSize`, Python's default) or the legacy one
//! (`SQSLargePayloadSize`, which Java 2.x still writes by default). A reader accepts both and
//! must ask SQS for both, or it silently receives the pointer JSON as the body. Both names are
//! stripped from what the application sees and refused from callers.

use crate::message_attributes::{MessageAttribute, MessageAttributes};

/// The current reserved size attribute name; what Python writes by default.
pub const SIZE_ATTRIBUTE: &str = "ExtendedPayloadSize";
/// The legacy reserved attribute name, which Java 1.x and (by default) Java 2.x write.
pub const LEGACY_SIZE_ATTRIBUTE: &str = "SQSLargePayloadSize";
/// Both reserved names, in the order a receive request lists them.
pub const RESERVED_ATTRIBUTE_NAMES: [&str; 2] = [SIZE_ATTRIBUTE, LEGACY_SIZE_ATTRIBUTE];

/// Which name a writer uses. Readers always accept both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SizeAttributeName {
    /// `ExtendedPayloadSize`: what default Python consumers look for.
    #[default]
    Current,
    /// `SQSLargePayloadSize`: what Java 1.x and default Java 2.x consumers look for.
    Legacy,
}

impl SizeAttributeName {
    /// The attribute name: `ExtendedPayloadSize` or `SQSLargePayloadSize`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => SIZE_ATTRIBUTE,
            Self::Legacy => LEGACY_SIZE_ATTRIBUTE,
        }
    }

    /// The attribute to attach to an offloaded message of `size` bytes.
    pub fn attribute(self, size: u64) -> (String, MessageAttribute) {
        (self.as_str().to_owned(), MessageAttribute::number(size))
    }
}

/// A setting value other than `current` or `legacy`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected current or legacy, got {0:?}")]
pub struct SizeAttributeNameError(pub String);

/// Parses a setting: `current` (`ExtendedPayloadSize`) or `legacy` (`SQSLargePayloadSize`).
impl std::str::FromStr for SizeAttributeName {
    type Err = SizeAttributeNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "current" => Ok(Self::Current),
            "legacy" => Ok(Self::Legacy),
            other => Err(SizeAttributeNameError(other.to_owned())),
        }
    }
}

/// Whether `name` is one of the two reserved size attribute names (exact, case-sensitive match).
pub fn is_reserved(name: &str) -> bool {
    RESERVED_ATTRIBUTE_NAMES.contains(&name)
}

/// What the reserved attributes of a received message say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeclaredSize {
    /// Neither reserved name is present: the body is the message itself.
    NotOffloaded,
    /// The body is a pointer to a payload of this many bytes.
    Offloaded(u64),
    /// A reserved name is present but its value is not a byte count.
    Invalid(String),
}

/// Removes both reserved names from `attributes` and reports what they declared.
pub fn take_declared_size(attributes: &mut MessageAttributes) -> DeclaredSize {
    let current = attributes.remove(SIZE_ATTRIBUTE);
    let legacy = attributes.remove(LEGACY_SIZE_ATTRIBUTE);
    match current.or(legacy) {
        None => DeclaredSize::NotOffloaded,
        Some(attribute) => match attribute.as_str().map(|s| s.trim().parse::<u64>()) {
            Some(Ok(size)) => DeclaredSize::Offloaded(size),
            _ => DeclaredSize::Invalid(format!("{:?}", attribute.value)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_names_are_read_and_stripped() {
        for name in RESERVED_ATTRIBUTE_NAMES {
            let mut attrs = MessageAttributes::new();
            attrs.insert(name.into(), MessageAttribute::number(262145));
            attrs.insert("trace".into(), MessageAttribute::string("abc"));
            assert_eq!(
                take_declared_size(&mut attrs),
                DeclaredSize::Offloaded(262145)
            );
            assert_eq!(attrs.keys().collect::<Vec<_>>(), ["trace"]);
        }
    }

    #[test]
    fn both_present_are_both_stripped() {
        let mut attrs = MessageAttributes::new();
        attrs.insert(SIZE_ATTRIBUTE.into(), MessageAttribute::number(5));
        attrs.insert(LEGACY_SIZE_ATTRIBUTE.into(), MessageAttribute::number(5));
        assert_eq!(take_declared_size(&mut attrs), DeclaredSize::Offloaded(5));
        assert!(attrs.is_empty());
    }

    #[test]
    fn absent_or_invalid() {
        let mut attrs = MessageAttributes::new();
        assert_eq!(take_declared_size(&mut attrs), DeclaredSize::NotOffloaded);
        attrs.insert(SIZE_ATTRIBUTE.into(), MessageAttribute::string("many"));
        assert!(matches!(
            take_declared_size(&mut attrs),
            DeclaredSize::Invalid(_)
        ));
        attrs.insert(
            LEGACY_SIZE_ATTRIBUTE.into(),
            MessageAttribute::binary(vec![1u8]),
        );
        assert!(matches!(
            take_declared_size(&mut attrs),
            DeclaredSize::Invalid(_)
        ));
    }

    #[test]
    fn writer_name_is_a_setting() {
        assert_eq!(SizeAttributeName::default().as_str(), "ExtendedPayloadSize");
        let (name, attr) = SizeAttributeName::Legacy.attribute(262145);
        assert_eq!(name, "SQSLargePayloadSize");
        assert_eq!(attr, MessageAttribute::number(262145));
        assert_eq!(attr.data_type, "Number");
    }
}
