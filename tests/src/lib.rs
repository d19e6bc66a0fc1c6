//! Shared pieces of the end-to-end tests and the port contract suites.
//!
//! - [`emulator`]: deploys template.yaml into the moto emulator, one stack per test.
//! - [`events`]: integrator events and their signatures, computed independently of the code.
//! - [`fake_x`], [`fake_meta`]: stateful fakes of X and Meta for connecting accounts, which
//!   check the OAuth 1.0a signatures ([`oauth1`]) and `appsecret_proof`s themselves.
//! - [`contract`]: the behaviour every adapter of a port must have, as generic async functions.
//! - [`http`]: calls a router in-process.
//! - [`runner`]: starts the real `socialcare-local` binary and drives it over HTTP.

pub mod browser;
pub mod contract;
pub mod emulator;
pub mod events;
pub mod fake_meta;
mod fake_server;
pub mod fake_subscriber;
pub mod fake_x;
pub mod http;
pub mod oauth1;
pub mod runner;
pub mod webdriver;

pub use fake_server::Refusal;

use std::path::PathBuf;

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

/// A file from `tests/fixtures/`: real payloads from public sources, copied byte for byte (see
/// `tests/fixtures/SOURCES.md`), so that a clean clone has them.
pub fn fixture(relative: &str) -> String {
    let path = repo_root().join("tests/fixtures").join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// Every ticket a paged list holds, page after page of `limit`: `fetch` reads one page.
pub async fn every_ticket<F, Fut>(limit: u32, mut fetch: F) -> Vec<socialcare_domain::Ticket>
where
    F: FnMut(socialcare_domain::TicketQuery) -> Fut,
    Fut: std::future::Future<Output = socialcare_domain::Page<socialcare_domain::Ticket>>,
{
    let mut query = socialcare_domain::TicketQuery::newest(limit);
    let mut tickets = Vec::new();
    loop {
        let page = fetch(query.clone()).await;
        tickets.extend(page.items);
        match page.next {
            Some(next) => query.after = Some(next),
            None => return tickets,
        }
    }
}

/// A [`socialcare_domain::listening::Listener`] for a fake platform that only posts: every
/// read is refused (the sender polls hashtags with its platform; these tests poll none).
#[macro_export]
macro_rules! reads_nothing {
    ($platform:ty) => {
        impl socialcare_domain::listening::Listener for $platform {
            async fn search(
                &self,
                source: socialcare_domain::Source,
                _: &str,
                _: &socialcare_domain::listening::SearchRequest,
            ) -> Result<
                socialcare_domain::listening::SearchPage,
                socialcare_domain::listening::ListenError,
            > {
                Err(socialcare_domain::listening::ListenError::Refused(format!(
                    "this fake reads nothing of {source}"
                )))
            }
            async fn fetch(
                &self,
                source: socialcare_domain::Source,
                _: &str,
                _: &str,
            ) -> Result<
                socialcare_domain::listening::Fetched,
                socialcare_domain::listening::ListenError,
            > {
                Err(socialcare_domain::listening::ListenError::Refused(format!(
                    "this fake fetches nothing of {source}"
                )))
            }
        }
    };
}
