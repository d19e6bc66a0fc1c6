//! Optimistic writes: read, decide, write with the version read, and read again when another
//! writer came first. Every such write in socialcare gives up after the same number of rounds.

use std::future::Future;

/// How many rounds an optimistic write gets before it gives up.
pub const ATTEMPTS: u32 = 5;

/// What one round of an optimistic write came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Round<T> {
    /// Finished: written, or nothing left to write.
    Done(T),
    /// Another writer came first: read again.
    ReadAgain,
}

/// Runs `round` until it is done, at most [`ATTEMPTS`] times; the error `exhausted` makes when
/// every round had to read again. An error of a round ends the rounds at once.
///
/// `round` is a closure making a future, not an async closure: with an async closure that
/// borrows what it captures, the handlers' futures stop being `Send` ("implementation of `Send`
/// is not general enough" at the API's routes).
pub async fn optimistic<T, E, F: Future<Output = Result<Round<T>, E>>>(
    round: impl FnMut() -> F,
    exhausted: impl FnOnce() -> E,
) -> Result<T, E> {
    within_attempts(round).await?.ok_or_else(exhausted)
}

/// [`optimistic`] for a caller to whom running out of rounds is no error: `None` then.
pub async fn within_attempts<T, E, F: Future<Output = Result<Round<T>, E>>>(
    mut round: impl FnMut() -> F,
) -> Result<Option<T>, E> {
    for _ in 0..ATTEMPTS {
        if let Round::Done(value) = round().await? {
            return Ok(Some(value));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        let waker = std::task::Waker::noop();
        let mut context = std::task::Context::from_waker(waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut context) {
                return output;
            }
        }
    }

    #[test]
    fn gives_up_after_the_attempts() {
        let rounds = Cell::new(0);
        let rounds = &rounds;
        let result: Result<(), &str> = block_on(optimistic(
            move || async move {
                rounds.set(rounds.get() + 1);
                Ok(Round::ReadAgain)
            },
            || "exhausted",
        ));
        assert_eq!(result, Err("exhausted"));
        assert_eq!(rounds.get(), ATTEMPTS);
    }

    #[test]
    fn stops_at_the_first_done_or_error() {
        let rounds = Cell::new(0);
        let rounds = &rounds;
        let done: Result<Option<u32>, ()> = block_on(within_attempts(move || async move {
            rounds.set(rounds.get() + 1);
            Ok(match rounds.get() {
                3 => Round::Done(3),
                _ => Round::ReadAgain,
            })
        }));
        assert_eq!(done, Ok(Some(3)));
        assert_eq!(rounds.get(), 3);
        let failed: Result<Option<u32>, &str> =
            block_on(within_attempts(|| async { Err("store") }));
        assert_eq!(failed, Err("store"));
    }
}
