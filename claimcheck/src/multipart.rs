//! Multipart uploads through the HTTP API: how a payload is cut into parts, and whether a
//! client's list of parts may complete the upload.
//!
//! The limits are S3's (Amazon S3 User Guide, "Amazon S3 multipart upload limits"): parts of
//! 5 MiB to 5 GiB (the last may be smaller), at most 10 000 parts, objects of at most 5 TiB.
//! The server chooses the part size: the configured one, raised (to a whole MiB) until the
//! declared length fits in 10 000 parts. A payload of unknown length (a stream) gets the
//! configured part size and may grow to 10 000 of those parts.

use serde::{Deserialize, Serialize};

const MIB: u64 = 1024 * 1024;
/// S3's smallest part other than the last: 5 MiB.
pub const MIN_PART_SIZE: u64 = 5 * MIB;
/// S3's largest part: 5 GiB.
pub const MAX_PART_SIZE: u64 = 5 * 1024 * MIB;
/// S3's most parts in one upload: 10 000.
pub const MAX_PARTS: u32 = 10_000;
/// S3's largest object: 5 TiB.
pub const MAX_OBJECT_SIZE: u64 = 5 * 1024 * 1024 * MIB;

/// How a payload is cut: every part `part_size` bytes except the last; `part_count` parts when
/// the length is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartPlan {
    /// Bytes in every part but the last.
    pub part_size: u64,
    /// The declared length in bytes, `None` when unknown.
    pub length: Option<u64>,
}

/// Why a payload cannot be cut into parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The declared length is over the deployment's maximum (itself at most 5 TiB).
    #[error("content_length {length} is over the maximum of {max} bytes")]
    TooLarge {
        /// The declared length in bytes.
        length: u64,
        /// The maximum in bytes.
        max: u64,
    },
    /// A part size outside S3's 5 MiB–5 GiB.
    #[error("part size {0} is outside S3's 5 MiB to 5 GiB")]
    PartSize(u64),
}

impl PartPlan {
    /// The plan for `length` bytes (`None`: unknown) with the configured `part_size`, refusing
    /// lengths over `max` (and over S3's 5 TiB).
    ///
    /// # Errors
    /// [`PlanError::PartSize`] for a configured part size outside 5 MiB–5 GiB,
    /// [`PlanError::TooLarge`] for a length over `min(max, 5 TiB)`.
    pub fn new(length: Option<u64>, part_size: u64, max: u64) -> Result<Self, PlanError> {
        if !(MIN_PART_SIZE..=MAX_PART_SIZE).contains(&part_size) {
            return Err(PlanError::PartSize(part_size));
        }
        let max = max.min(MAX_OBJECT_SIZE);
        let Some(length) = length else {
            return Ok(Self {
                part_size,
                length: None,
            });
        };
        if length > max {
            return Err(PlanError::TooLarge { length, max });
        }
        // The smallest whole-MiB part size that fits the length in 10 000 parts.
        let needed = length.div_ceil(u64::from(MAX_PARTS)).div_ceil(MIB) * MIB;
        Ok(Self {
            part_size: part_size.max(needed),
            length: Some(length),
        })
    }

    /// How many parts: `Some` when the length is known, else `None`.
    pub fn part_count(&self) -> Option<u32> {
        self.length
            .map(|length| u32::try_from(length.div_ceil(self.part_size).max(1)).unwrap_or(u32::MAX))
    }

    /// The highest part number a client may use: the part count, or 10 000 for an unknown
    /// length.
    pub fn last_part_number(&self) -> u32 {
        self.part_count().unwrap_or(MAX_PARTS)
    }

    /// The exact size of part `number` (1-based), when the length is known; `None` for an
    /// unknown length or a number outside the plan.
    pub fn part_len(&self, number: u32) -> Option<u64> {
        let length = self.length?;
        let count = self.part_count()?;
        if number == 0 || number > count {
            return None;
        }
        let start = u64::from(number - 1) * self.part_size;
        Some((length - start).min(self.part_size))
    }

    /// The largest object this plan can complete: the declared length, or 10 000 parts.
    pub fn capacity(&self) -> u64 {
        self.length
            .unwrap_or(self.part_size.saturating_mul(u64::from(MAX_PARTS)))
    }
}

/// A part as the client names it when completing: its number and the ETag S3 answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompletedPart {
    /// 1 to 10 000.
    pub part_number: u32,
    /// The `ETag` response header of the part's upload (quotes optional).
    pub etag: String,
}

/// A part S3 holds (`ListParts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredPart {
    /// 1 to 10 000.
    pub part_number: u32,
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, quoted as S3 returns it.
    pub etag: String,
}

/// Why a list of parts cannot complete an upload. Every case is the client's error (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompletionError {
    /// No parts, numbers out of order, repeated or outside the plan, or parts missing.
    #[error("{0}")]
    InvalidParts(String),
    /// A part the client names is not stored, or is stored with another ETag.
    #[error("part {part_number}: {problem}")]
    EtagMismatch {
        /// The part.
        part_number: u32,
        /// What differs.
        problem: String,
    },
    /// A part other than the last is not exactly the part size, or the last is larger.
    #[error("part {part_number} is {size} bytes; {expected}")]
    PartSize {
        /// The part.
        part_number: u32,
        /// Its stored size.
        size: u64,
        /// What the plan expects.
        expected: String,
    },
    /// The parts add up to another length than was declared, or more than the plan allows.
    #[error("{0}")]
    Length(String),
}

/// Checks the client's `parts` against what S3 `stored` and the `plan`; returns the object's
/// length when they may complete the upload. Parts must be 1..n, each once, in order (S3's
/// rule for `CompleteMultipartUpload`), every one stored with the same ETag, every one but the
/// last exactly `part_size` bytes, and together the declared length (or, unknown, at most the
/// plan's capacity).
///
/// # Errors
/// [`CompletionError`], saying which part and why.
pub fn check_completion(
    plan: &PartPlan,
    parts: &[CompletedPart],
    stored: &[StoredPart],
) -> Result<u64, CompletionError> {
    if parts.is_empty() {
        return Err(CompletionError::InvalidParts(
            "parts is empty: name every uploaded part".into(),
        ));
    }
    let last = plan.last_part_number();
    for (index, part) in parts.iter().enumerate() {
        let want = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if part.part_number == 0 || part.part_number > last {
            return Err(CompletionError::InvalidParts(format!(
                "part number {} is outside 1 to {last}",
                part.part_number
            )));
        }
        if part.part_number != want {
            return Err(CompletionError::InvalidParts(format!(
                "parts must be numbered 1, 2, 3, … in order, each once: found {} where {want} belongs",
                part.part_number
            )));
        }
    }
    if let Some(count) = plan.part_count()
        && parts.len() != count as usize
    {
        return Err(CompletionError::InvalidParts(format!(
            "{} parts named; the upload has {count}",
            parts.len()
        )));
    }
    let mut total = 0u64;
    for (index, part) in parts.iter().enumerate() {
        let Some(found) = stored.iter().find(|s| s.part_number == part.part_number) else {
            return Err(CompletionError::EtagMismatch {
                part_number: part.part_number,
                problem: "S3 has no such part: upload it first".into(),
            });
        };
        if unquoted(&found.etag) != unquoted(&part.etag) {
            return Err(CompletionError::EtagMismatch {
                part_number: part.part_number,
                problem: format!(
                    "ETag {:?} is not the stored part's {}",
                    shortened(&part.etag),
                    found.etag
                ),
            });
        }
        let is_last = index + 1 == parts.len();
        if !is_last && found.size != plan.part_size {
            return Err(CompletionError::PartSize {
                part_number: part.part_number,
                size: found.size,
                expected: format!("every part but the last must be {} bytes", plan.part_size),
            });
        }
        if is_last && (found.size == 0 || found.size > plan.part_size) {
            return Err(CompletionError::PartSize {
                part_number: part.part_number,
                size: found.size,
                expected: format!("the last part must be 1 to {} bytes", plan.part_size),
            });
        }
        total += found.size;
    }
    match plan.length {
        Some(length) if length != total => Err(CompletionError::Length(format!(
            "the parts hold {total} bytes; content_length was {length}"
        ))),
        None if total > plan.capacity() => Err(CompletionError::Length(format!(
            "the parts hold {total} bytes, over the maximum of {}",
            plan.capacity()
        ))),
        _ => Ok(total),
    }
}

/// At most 80 characters of a client's ETag, for a message.
fn shortened(etag: &str) -> String {
    match etag.char_indices().nth(80) {
        Some((at, _)) => format!("{}…", &etag[..at]),
        None => etag.to_owned(),
    }
}

fn unquoted(etag: &str) -> &str {
    etag.trim().trim_matches('"')
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GIB: u64 = 1024 * MIB;

    fn plan(length: u64, part: u64) -> PartPlan {
        PartPlan::new(Some(length), part, MAX_OBJECT_SIZE).expect("plan")
    }

    fn stored(plan: &PartPlan) -> Vec<StoredPart> {
        (1..=plan.part_count().expect("known"))
            .map(|n| StoredPart {
                part_number: n,
                size: plan.part_len(n).expect("in plan"),
                etag: format!("\"e{n}\""),
            })
            .collect()
    }

    fn named(stored: &[StoredPart]) -> Vec<CompletedPart> {
        stored
            .iter()
            .map(|s| CompletedPart {
                part_number: s.part_number,
                etag: s.etag.clone(),
            })
            .collect()
    }

    #[test]
    fn part_sizes_follow_s3s_limits() {
        assert_eq!(plan(20 * MIB, 5 * MIB).part_count(), Some(4));
        assert_eq!(plan(20 * MIB + 1, 5 * MIB).part_len(5), Some(1));
        // 5 TiB needs parts of at least 525 MiB (whole MiB) to fit 10 000 parts.
        let largest = plan(MAX_OBJECT_SIZE, 16 * MIB);
        assert_eq!(largest.part_size, 525 * MIB);
        assert!(largest.part_count().expect("known") <= MAX_PARTS);
        assert_eq!(
            PartPlan::new(Some(MAX_OBJECT_SIZE + 1), 16 * MIB, u64::MAX),
            Err(PlanError::TooLarge {
                length: MAX_OBJECT_SIZE + 1,
                max: MAX_OBJECT_SIZE
            })
        );
        assert_eq!(
            PartPlan::new(Some(6 * GIB), 16 * MIB, 5 * GIB),
            Err(PlanError::TooLarge {
                length: 6 * GIB,
                max: 5 * GIB
            })
        );
        assert_eq!(
            PartPlan::new(None, 4 * MIB, GIB),
            Err(PlanError::PartSize(4 * MIB))
        );
        let unknown = PartPlan::new(None, 8 * MIB, GIB).expect("plan");
        assert_eq!(
            (unknown.part_count(), unknown.last_part_number()),
            (None, MAX_PARTS)
        );
        assert_eq!(unknown.capacity(), 80_000 * MIB);
    }

    #[test]
    fn completion_refuses_every_bad_list_saying_why() {
        let p = plan(12 * MIB, 5 * MIB);
        let s = stored(&p);
        let good = named(&s);
        assert_eq!(check_completion(&p, &good, &s), Ok(12 * MIB));
        let unquoted: Vec<_> = good
            .iter()
            .map(|c| CompletedPart {
                etag: c.etag.trim_matches('"').into(),
                ..c.clone()
            })
            .collect();
        assert_eq!(check_completion(&p, &unquoted, &s), Ok(12 * MIB));

        let invalid = |parts: Vec<CompletedPart>| check_completion(&p, &parts, &s);
        assert!(matches!(
            invalid(vec![]),
            Err(CompletionError::InvalidParts(_))
        ));
        assert!(matches!(
            invalid(good[..2].to_vec()),
            Err(CompletionError::InvalidParts(_))
        ));
        let mut duplicate = good.clone();
        duplicate[1] = good[0].clone();
        assert!(matches!(
            invalid(duplicate),
            Err(CompletionError::InvalidParts(_))
        ));
        let mut swapped = good.clone();
        swapped.swap(0, 1);
        assert!(matches!(
            invalid(swapped),
            Err(CompletionError::InvalidParts(_))
        ));
        let mut beyond = good.clone();
        beyond.push(CompletedPart {
            part_number: 4,
            etag: "x".into(),
        });
        assert!(matches!(
            invalid(beyond),
            Err(CompletionError::InvalidParts(_))
        ));
        let mut wrong_etag = good.clone();
        wrong_etag[2].etag = "\"other\"".into();
        assert!(matches!(
            invalid(wrong_etag),
            Err(CompletionError::EtagMismatch { part_number: 3, .. })
        ));
        // A part S3 does not have.
        assert!(matches!(
            check_completion(&p, &good, &s[..2]),
            Err(CompletionError::EtagMismatch { part_number: 3, .. })
        ));
        // A short middle part.
        let mut short = s.clone();
        short[1].size -= 1;
        assert!(matches!(
            check_completion(&p, &good, &short),
            Err(CompletionError::PartSize { part_number: 2, .. })
        ));
        // The declared length disagrees with what was stored.
        let mut longer = s.clone();
        longer[2].size += 1;
        assert!(matches!(
            check_completion(&p, &good, &longer),
            Err(CompletionError::Length(_))
        ));
    }

    #[test]
    fn an_unknown_length_completes_with_any_count_of_full_parts() {
        let p = PartPlan::new(None, 5 * MIB, GIB).expect("plan");
        let s = vec![
            StoredPart {
                part_number: 1,
                size: 5 * MIB,
                etag: "\"a\"".into(),
            },
            StoredPart {
                part_number: 2,
                size: 3,
                etag: "\"b\"".into(),
            },
        ];
        assert_eq!(check_completion(&p, &named(&s), &s), Ok(5 * MIB + 3));
    }

    proptest! {
        #[test]
        fn plans_cover_the_length_exactly_within_s3s_limits(
            length in 1u64..=MAX_OBJECT_SIZE,
            part_mib in 5u64..=64,
        ) {
            let p = plan(length, part_mib * MIB);
            let count = p.part_count().expect("known");
            prop_assert!((1..=MAX_PARTS).contains(&count));
            prop_assert!((MIN_PART_SIZE..=MAX_PART_SIZE).contains(&p.part_size));
            let last = p.part_len(count).expect("last");
            prop_assert!(last >= 1 && last <= p.part_size);
            prop_assert_eq!(u64::from(count - 1) * p.part_size + last, length);
            prop_assert_eq!(p.part_len(count + 1), None);
        }
    }
}
