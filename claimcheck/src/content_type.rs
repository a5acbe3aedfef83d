//! Media types (RFC 9110, section 8.3) compared as S3, API Gateway and browsers do: by their
//! essence `type/subtype`, parameters and case aside. Parsed by the `mime` crate.

/// The lower-case essence (`text/csv` of `Text/CSV; charset=utf-8`), or `None` when `value`
/// is not a media type.
pub fn essence(value: &str) -> Option<String> {
    let media_type = value.trim().parse::<mime::Mime>().ok()?;
    // `mime` accepts an empty subtype (`text/`); RFC 9110's grammar does not.
    if media_type.type_().as_str().is_empty() || media_type.subtype().as_str().is_empty() {
        return None;
    }
    Some(media_type.essence_str().to_ascii_lowercase())
}

/// Whether two content types name the same media type. Values that are not media types are
/// compared as written (trimmed, case-insensitively).
pub fn same_media_type(a: &str, b: &str) -> bool {
    match (essence(a), essence(b)) {
        (Some(a), Some(b)) => a == b,
        _ => a.trim().eq_ignore_ascii_case(b.trim()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn essences_ignore_parameters_and_case() {
        assert_eq!(
            essence("Text/CSV; charset=utf-8").as_deref(),
            Some("text/csv")
        );
        assert_eq!(
            essence("application/vnd.apache.parquet").as_deref(),
            Some("application/vnd.apache.parquet")
        );
        for invalid in [
            "",
            "text",
            "text/",
            "/csv",
            "text csv",
            "a/b/c",
            "text/csv;;",
        ] {
            assert_eq!(essence(invalid), None, "{invalid:?}");
        }
        assert!(same_media_type("text/csv", "TEXT/CSV; charset=utf-8"));
        assert!(!same_media_type("text/csv", "image/png"));
    }
}
