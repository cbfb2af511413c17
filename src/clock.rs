//! The service's notion of the current time: the system clock, or an instant fixed by
//! `TALLY_NOW` (`config::Config::now`; tests and demos). Every time the service stores (accounts, follows, blocks,
//! videos, likes, views) comes from the [`Clock`] of the request, passed explicitly into
//! the domain functions that write, as the viewer is.
//!
//! A fixed clock stays fixed: every write gets that very instant. Equal times are fine
//! everywhere: keyset pages break ties by ID.
use chrono::{DateTime, Datelike, Utc};

/// Where "now" comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// Always this instant.
    Fixed(DateTime<Utc>),
}

impl Clock {
    /// The current instant.
    pub fn now(&self) -> DateTime<Utc> {
        match self {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => *at,
        }
    }

    /// Microseconds since the Unix epoch: the unit of every stored time.
    pub fn now_us(&self) -> i64 {
        self.now().timestamp_micros()
    }

    /// The current UTC calendar year.
    pub fn year(&self) -> i32 {
        self.now().year()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_clock_stays_fixed() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T12:30:00Z")
            .expect("instant")
            .with_timezone(&Utc);
        let clock = Clock::Fixed(at);
        assert_eq!(clock.now_us(), clock.now_us());
        assert_eq!(clock.now_us(), at.timestamp_micros());
        assert_eq!(clock.year(), 2026);
    }
}
