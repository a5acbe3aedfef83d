//! How much work an invocation may still start: a count limit and the Lambda deadline.

use std::time::{Duration, SystemTime};

/// Why a run stopped when it reached the `max_messages` it was given (not a shortfall).
pub const MAX_MESSAGES_REACHED: &str = "max_messages reached";

/// The limits of one run.
#[derive(Debug, Clone)]
pub struct Budget {
    deadline: SystemTime,
    margin: Duration,
    max_items: Option<u32>,
}

impl Budget {
    /// A budget that stops `margin` before `deadline`, and after `max_items` items when given.
    pub fn new(deadline: SystemTime, margin: Duration, max_items: Option<u32>) -> Self {
        Self {
            deadline,
            margin,
            max_items,
        }
    }

    /// Why no further item may be started after `done` of them, if it may not.
    pub fn exhausted(&self, done: u32) -> Option<&'static str> {
        if self.max_items.is_some_and(|max| done >= max) {
            return Some(MAX_MESSAGES_REACHED);
        }
        let left = self
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        (left < self.margin).then_some("the invocation's deadline is near")
    }

    /// How many more items may be started after `done`, at most `cap`.
    pub fn remaining(&self, done: u32, cap: u32) -> u32 {
        self.max_items
            .map_or(cap, |max| max.saturating_sub(done).min(cap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_count_and_near_the_deadline() {
        let later = SystemTime::now() + Duration::from_secs(60);
        let budget = Budget::new(later, Duration::from_secs(5), Some(3));
        assert_eq!(budget.exhausted(2), None);
        assert_eq!(budget.exhausted(3), Some("max_messages reached"));
        assert_eq!(budget.remaining(1, 10), 2);
        let soon = SystemTime::now() + Duration::from_secs(2);
        let budget = Budget::new(soon, Duration::from_secs(5), None);
        assert_eq!(
            budget.exhausted(0),
            Some("the invocation's deadline is near")
        );
        assert_eq!(budget.remaining(100, 10), 10);
    }
}
