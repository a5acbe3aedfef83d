//! Object keys for offloaded payloads: a random UUID under an optional, validated prefix,
//! concatenated with no separator added (`queue-a/` + uuid), as the Java library does.
//! Keys are always generated here, never taken from a message or a client.

/// The longest prefix the Java library allows (S3's 1024-byte key limit less a UUID and room).
pub const MAX_PREFIX_LEN: usize = 988;

/// Why a key prefix is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyPrefixError {
    /// The prefix is longer than [`MAX_PREFIX_LEN`]; carries its length in bytes.
    #[error("key prefix is {0} characters, over the maximum of {MAX_PREFIX_LEN}")]
    TooLong(usize),
    /// The prefix has a character outside `a-z A-Z 0-9 . / _ -`; carries the first one.
    #[error("key prefix may only contain a-z A-Z 0-9 . / _ -, found {0:?}")]
    InvalidCharacter(char),
    /// The prefix starts with `.` or `/`.
    #[error("key prefix must not start with '.' or '/'")]
    BadStart,
    /// The prefix contains `..`.
    #[error("key prefix must not contain '..'")]
    DotDot,
}

/// A validated key prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    /// Validates a prefix. It is used as given: no `/` is added, so include a trailing one if
    /// keys should sit under a folder. The empty prefix is allowed.
    ///
    /// # Errors
    ///
    /// [`KeyPrefixError::TooLong`], [`KeyPrefixError::InvalidCharacter`],
    /// [`KeyPrefixError::BadStart`] or [`KeyPrefixError::DotDot`], checked in that order.
    pub fn new(prefix: impl Into<String>) -> Result<Self, KeyPrefixError> {
        let prefix = prefix.into();
        if prefix.len() > MAX_PREFIX_LEN {
            return Err(KeyPrefixError::TooLong(prefix.len()));
        }
        if let Some(c) = prefix
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '/' | '_' | '-')))
        {
            return Err(KeyPrefixError::InvalidCharacter(c));
        }
        if prefix.starts_with('.') || prefix.starts_with('/') {
            return Err(KeyPrefixError::BadStart);
        }
        if prefix.contains("..") {
            return Err(KeyPrefixError::DotDot);
        }
        Ok(Self(prefix))
    }

    /// The prefix as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A fresh key: this prefix followed by a random UUID.
    pub fn generate(&self) -> String {
        format!("{}{}", self.0, uuid::Uuid::new_v4())
    }

    /// Whether `key` could have been generated under this prefix.
    pub fn owns(&self, key: &str) -> bool {
        self.id_of(key).is_some()
    }

    /// The id a key generated under this prefix carries: the UUID after the prefix, exactly
    /// as `generate` writes it (lower-case, hyphenated), so one object maps to one id.
    pub fn id_of<'a>(&self, key: &'a str) -> Option<&'a str> {
        let rest = key.strip_prefix(self.as_str())?;
        let canonical = uuid::Uuid::try_parse(rest).ok()?.hyphenated().to_string();
        (canonical == rest).then_some(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_prefix_plus_uuid() {
        let prefix = KeyPrefix::new("queue-a/").unwrap_or_default();
        let key = prefix.generate();
        assert!(key.starts_with("queue-a/"));
        assert_eq!(key.len(), "queue-a/".len() + 36);
        assert!(prefix.owns(&key));
        assert!(!prefix.owns("queue-a/../secret"));
        let id = &key["queue-a/".len()..];
        assert_eq!(prefix.id_of(&key), Some(id));
        assert_eq!(
            prefix.id_of(&key.to_uppercase().replace("QUEUE-A/", "queue-a/")),
            None
        );
        assert_eq!(
            prefix.id_of(&format!("queue-a/{}", id.replace('-', ""))),
            None
        );
        assert_eq!(prefix.id_of(&format!("other/{id}")), None);
        assert_ne!(prefix.generate(), key);
        assert_eq!(KeyPrefix::default().generate().len(), 36);
    }

    #[test]
    fn prefix_rules() {
        assert!(KeyPrefix::new("a.b/c_d-e/").is_ok());
        assert!(KeyPrefix::new("x".repeat(988)).is_ok());
        assert_eq!(
            KeyPrefix::new("x".repeat(989)),
            Err(KeyPrefixError::TooLong(989))
        );
        assert_eq!(
            KeyPrefix::new("a b"),
            Err(KeyPrefixError::InvalidCharacter(' '))
        );
        assert_eq!(
            KeyPrefix::new("é"),
            Err(KeyPrefixError::InvalidCharacter('é'))
        );
        assert_eq!(KeyPrefix::new(".hidden"), Err(KeyPrefixError::BadStart));
        assert_eq!(KeyPrefix::new("/abs"), Err(KeyPrefixError::BadStart));
        assert_eq!(KeyPrefix::new("a/../b"), Err(KeyPrefixError::DotDot));
    }
}
