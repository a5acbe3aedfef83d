//! Reading a function's settings from its environment, with one clear error per bad value
//! (a Lambda that starts with a wrong setting should fail at init, naming the variable).

use std::str::FromStr;

/// A setting that is missing or invalid, naming its environment variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SettingsError {
    /// A required variable is unset (the process environment counts an empty value as unset).
    #[error("environment variable {0} must be set")]
    Missing(&'static str),
    /// A variable's value cannot be used.
    #[error("environment variable {name} has an invalid value {value:?}: {problem}")]
    Invalid {
        /// The variable's name.
        name: &'static str,
        /// The offending value.
        value: String,
        /// Why the value was refused.
        problem: String,
    },
}

/// Where settings come from: the process environment in Lambda, a map in tests.
pub trait Source {
    /// The value of the variable `name`, or `None` when it is unset.
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment.
pub struct Environment;

impl Source for Environment {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

impl Source for std::collections::HashMap<&str, &str> {
    fn get(&self, name: &str) -> Option<String> {
        std::collections::HashMap::get(self, name).map(|v| (*v).to_owned())
    }
}

/// The value of the variable `name`.
///
/// # Errors
///
/// [`SettingsError::Missing`] when it is unset.
pub fn required(source: &dyn Source, name: &'static str) -> Result<String, SettingsError> {
    source.get(name).ok_or(SettingsError::Missing(name))
}

/// A parsed value, or `default` when the variable is unset.
pub fn parsed_or<T>(source: &dyn Source, name: &'static str, default: T) -> Result<T, SettingsError>
where
    T: FromStr,
    T::Err: std::fmt::Display,
{
    match source.get(name) {
        None => Ok(default),
        Some(value) => value
            .trim()
            .parse()
            .map_err(|e: T::Err| SettingsError::Invalid {
                name,
                problem: e.to_string(),
                value,
            }),
    }
}

/// `CLAIMCHECK_UPLOADS_PREFIX`, default `uploads/`: where producers' uploads land.
pub fn uploads_prefix(source: &dyn Source) -> Result<crate::object_key::KeyPrefix, SettingsError> {
    let name = "CLAIMCHECK_UPLOADS_PREFIX";
    let prefix = parsed_or(source, name, "uploads/".to_owned())?;
    crate::object_key::KeyPrefix::new(prefix.clone()).map_err(|e| SettingsError::Invalid {
        name,
        value: prefix,
        problem: e.to_string(),
    })
}

/// A whole number of seconds from 1 to `max`, or `default` when unset.
pub fn seconds(
    source: &dyn Source,
    name: &'static str,
    default: u64,
    max: std::time::Duration,
) -> Result<std::time::Duration, SettingsError> {
    let seconds = parsed_or(source, name, default)?;
    if seconds == 0 || seconds > max.as_secs() {
        return Err(SettingsError::Invalid {
            name,
            value: seconds.to_string(),
            problem: format!("must be 1 to {} seconds", max.as_secs()),
        });
    }
    Ok(std::time::Duration::from_secs(seconds))
}

/// A comma-separated list; empty when unset.
pub fn list(source: &dyn Source, name: &'static str) -> Vec<String> {
    source
        .get(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn values_defaults_and_errors() {
        let env = HashMap::from([("A", "7"), ("B", "x"), ("L", "a, b,,c")]);
        assert_eq!(required(&env, "A"), Ok("7".into()));
        assert_eq!(required(&env, "Z"), Err(SettingsError::Missing("Z")));
        assert_eq!(parsed_or(&env, "A", 1u64), Ok(7));
        assert_eq!(parsed_or(&env, "Z", 1u64), Ok(1));
        assert!(matches!(
            parsed_or(&env, "B", 1u64),
            Err(SettingsError::Invalid { name: "B", .. })
        ));
        assert_eq!(list(&env, "L"), ["a", "b", "c"]);
        assert!(list(&env, "Z").is_empty());
        let max = std::time::Duration::from_secs(10);
        assert_eq!(
            seconds(&env, "A", 3, max),
            Ok(std::time::Duration::from_secs(7))
        );
        assert_eq!(
            seconds(&env, "Z", 3, max),
            Ok(std::time::Duration::from_secs(3))
        );
        assert!(seconds(&env, "A", 3, std::time::Duration::from_secs(5)).is_err());
        let zero = HashMap::from([("S", "0")]);
        assert!(seconds(&zero, "S", 3, max).is_err());
    }
}
