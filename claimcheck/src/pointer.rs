//! The pointer: the SQS message body that stands in for a payload stored in S3.
//!
//! On the wire it is a two-element JSON array, a class name and an object naming the bucket
//! and the key, exactly as the official Java and Python extended clients write it:
//!
//! `["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"}]`
//!
//! We write the current class name in Java's compact form (byte for byte what Jackson writes)
//! and read every form the official libraries write: compact or spaced, raw UTF-8 or `\uXXXX`
//! escapes, the legacy Java 1.0.x class name, extra fields in the object. Anything else is a
//! typed error: the .NET port's plain object, an unknown class, a third element, a non-string
//! field or a missing one. Python accepts any class name; we do not, because a consumer that
//! fetches whatever a body names is one forged message away from reading the wrong object.

use serde::Serialize;
use serde_json::Value;

/// The class name the current Java (2.x) and Python libraries write.
pub const POINTER_CLASS: &str = "software.amazon.payloadoffloading.PayloadS3Pointer";
/// The class name Java 1.0.x wrote; still accepted on read.
pub const LEGACY_POINTER_CLASS: &str = "com.amazon.sqs.javamessaging.MessageS3Pointer";

/// Where an offloaded payload lives.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PayloadPointer {
    /// The S3 bucket name (`s3BucketName` on the wire).
    pub bucket: String,
    /// The S3 object key (`s3Key` on the wire).
    pub key: String,
}

/// Why a body is not a pointer we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PointerError {
    /// The body is not JSON; carries the parser's message.
    #[error("pointer body is not valid JSON: {0}")]
    NotJson(String),
    /// The body is JSON but not an array (for example the .NET port's plain object).
    #[error("pointer body must be a JSON array of [class name, {{s3BucketName, s3Key}}]")]
    NotAnArray,
    /// The array does not have exactly two elements; carries the number it has.
    #[error("pointer array must have exactly 2 elements, found {0}")]
    WrongLength(usize),
    /// The array's first element is not a string.
    #[error("pointer class name must be a string")]
    ClassNotAString,
    /// The class name is neither [`POINTER_CLASS`] nor [`LEGACY_POINTER_CLASS`]; carries it.
    #[error("unknown pointer class {0:?}")]
    UnknownClass(String),
    /// The array's second element is not a JSON object.
    #[error("pointer's second element must be a JSON object")]
    NotAnObject,
    /// A required field is absent; carries its name (`s3BucketName` or `s3Key`).
    #[error("pointer field {0} is missing")]
    MissingField(&'static str),
    /// A field is not a JSON string; carries its name (`s3BucketName` or `s3Key`).
    #[error("pointer field {0} must be a string")]
    FieldNotAString(&'static str),
    /// A field is an empty string; carries its name (`s3BucketName` or `s3Key`).
    #[error("pointer field {0} is empty")]
    EmptyField(&'static str),
}

#[derive(Serialize)]
struct WireLocation<'a> {
    #[serde(rename = "s3BucketName")]
    bucket: &'a str,
    #[serde(rename = "s3Key")]
    key: &'a str,
}

impl PayloadPointer {
    /// A pointer to `key` in `bucket`. Neither is validated.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        Self {
            bucket: bucket.into(),
            key: key.into(),
        }
    }

    /// The message body for this pointer, in the current class name and Java's compact form.
    pub fn to_body(&self) -> String {
        let wire = (
            POINTER_CLASS,
            WireLocation {
                bucket: &self.bucket,
                key: &self.key,
            },
        );
        // Serializing a tuple of a &str and a struct of two &str fields cannot fail.
        serde_json::to_string(&wire).unwrap_or_default()
    }

    /// Parses a message body written by any official extended client.
    pub fn parse(body: &str) -> Result<Self, PointerError> {
        let value: Value =
            serde_json::from_str(body).map_err(|e| PointerError::NotJson(e.to_string()))?;
        let Value::Array(items) = value else {
            return Err(PointerError::NotAnArray);
        };
        let [class, location] = items.as_slice() else {
            return Err(PointerError::WrongLength(items.len()));
        };
        let Value::String(class) = class else {
            return Err(PointerError::ClassNotAString);
        };
        if class != POINTER_CLASS && class != LEGACY_POINTER_CLASS {
            return Err(PointerError::UnknownClass(class.clone()));
        }
        let Value::Object(location) = location else {
            return Err(PointerError::NotAnObject);
        };
        let field = |name: &'static str| -> Result<String, PointerError> {
            match location.get(name) {
                None => Err(PointerError::MissingField(name)),
                Some(Value::String(s)) if s.is_empty() => Err(PointerError::EmptyField(name)),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(PointerError::FieldNotAString(name)),
            }
        };
        Ok(Self {
            bucket: field("s3BucketName")?,
            key: field("s3Key")?,
        })
    }
}

impl std::fmt::Display for PayloadPointer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TV1_BODY: &str = r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"my-bucket","s3Key":"9cc30888-0e2e-40da-b594-c9ca2cd58722"}]"#;

    #[test]
    fn tv1_writes_java_compact_form_byte_for_byte() {
        let p = PayloadPointer::new("my-bucket", "9cc30888-0e2e-40da-b594-c9ca2cd58722");
        assert_eq!(p.to_body(), TV1_BODY);
    }

    #[test]
    fn reads_java_compact_python_spaced_and_legacy_forms() {
        let expected = PayloadPointer::new("my-bucket", "k1");
        for body in [
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"my-bucket","s3Key":"k1"}]"#,
            r#"["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": "my-bucket", "s3Key": "k1"}]"#,
            r#"["com.amazon.sqs.javamessaging.MessageS3Pointer",{"s3BucketName":"my-bucket","s3Key":"k1"}]"#,
            r#"[ "com.amazon.sqs.javamessaging.MessageS3Pointer" , {"s3Key":"k1","s3BucketName":"my-bucket","s3VersionId":"v"} ]"#,
        ] {
            assert_eq!(PayloadPointer::parse(body), Ok(expected.clone()), "{body}");
        }
    }

    #[test]
    fn rejects_look_alikes_with_typed_errors() {
        use PointerError::*;
        let cases: &[(&str, PointerError)] = &[
            (r#"{"S3Key":"k1","S3BucketName":"my-bucket"}"#, NotAnArray),
            (r#"{"s3BucketName":"b","s3Key":"k"}"#, NotAnArray),
            (
                r#"["com.example.Whatever",{"s3BucketName":"b","s3Key":"k"}]"#,
                UnknownClass("com.example.Whatever".into()),
            ),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":"k"},1]"#,
                WrongLength(3),
            ),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer"]"#,
                WrongLength(1),
            ),
            (r#"[1,{"s3BucketName":"b","s3Key":"k"}]"#, ClassNotAString),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer",["b","k"]]"#,
                NotAnObject,
            ),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b"}]"#,
                MissingField("s3Key"),
            ),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":7,"s3Key":"k"}]"#,
                FieldNotAString("s3BucketName"),
            ),
            (
                r#"["software.amazon.payloadoffloading.PayloadS3Pointer",{"s3BucketName":"b","s3Key":""}]"#,
                EmptyField("s3Key"),
            ),
        ];
        for (body, err) in cases {
            assert_eq!(PayloadPointer::parse(body).as_ref(), Err(err), "{body}");
        }
        assert!(matches!(PayloadPointer::parse("hello"), Err(NotJson(_))));
        assert!(matches!(PayloadPointer::parse(""), Err(NotJson(_))));
    }
}
