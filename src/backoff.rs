//! Leaving a failing dependency alone for a while, and saying so without flooding the log:
//! the Redis of the shared rate limits and the read replicas use both.
use std::{
    sync::Mutex,
    time::{Duration, Instant},
};

/// A pause: while it lasts, the dependency is not asked (its caller takes the fallback at
/// once instead of waiting for another failure).
#[derive(Debug, Default)]
pub struct Pause(Mutex<Option<Instant>>);

impl Pause {
    /// Starts (or extends) the pause for `length` from now.
    pub fn start(&self, length: Duration) {
        if let Ok(mut until) = self.0.lock() {
            *until = Some(Instant::now() + length);
        }
    }

    /// Ends the pause now.
    pub fn end(&self) {
        if let Ok(mut until) = self.0.lock() {
            *until = None;
        }
    }

    /// Whether the pause lasts.
    pub fn is_on(&self) -> bool {
        self.0
            .lock()
            .ok()
            .and_then(|until| *until)
            .is_some_and(|until| Instant::now() < until)
    }
}

/// At most one log line per `every`, however often its cause repeats.
#[derive(Debug)]
pub struct LogEvery {
    every: Duration,
    last: Mutex<Option<Instant>>,
}

impl LogEvery {
    /// Lines at most every `every`.
    pub const fn new(every: Duration) -> Self {
        LogEvery {
            every,
            last: Mutex::new(None),
        }
    }

    /// Whether a line may be logged now (the first always may); if so, the next one may
    /// only after `every`.
    pub fn due(&self) -> bool {
        let Ok(mut last) = self.last.lock() else {
            return false;
        };
        if last.is_some_and(|at| at.elapsed() < self.every) {
            return false;
        }
        *last = Some(Instant::now());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pause_lasts_its_length_or_until_ended_and_lines_come_at_most_every_interval() {
        let pause = Pause::default();
        assert!(!pause.is_on());
        pause.start(Duration::from_secs(60));
        assert!(pause.is_on());
        pause.end();
        assert!(!pause.is_on());
        pause.start(Duration::ZERO);
        assert!(!pause.is_on());

        let log = LogEvery::new(Duration::from_secs(60));
        assert!(log.due());
        assert!(!log.due());
        let often = LogEvery::new(Duration::ZERO);
        assert!(often.due() && often.due());
    }
}
