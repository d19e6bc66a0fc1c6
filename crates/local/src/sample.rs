//! The sample complaint a new embedded store starts with, so that a newcomer who opens the
//! console sees a ticket and can answer it. Its customer is an integrator's (`sample`) whose
//! callback is answered here: a reply to it is logged and marked sent, without any network.

use socialcare_domain::listening::{Fetched, ListenError, Listener, SearchPage, SearchRequest};
use socialcare_domain::replies::{Platform, PostError, Target};
use socialcare_domain::{Author, Channel, Direction, Message, NormalizedMessage, Source};

/// The sample customer's callback: a reserved `.invalid` name, never resolved; the runner
/// answers it itself.
pub const SAMPLE_CALLBACK: &str = "https://sample.socialcare.invalid/replies";

/// The sample complaint, written now.
pub fn complaint(now: chrono::DateTime<chrono::Utc>) -> NormalizedMessage {
    NormalizedMessage {
        source: Source::Integration,
        account: "sample".into(),
        channel: Channel::Private,
        direction: Direction::Inbound,
        external_id: "sample-1".into(),
        in_reply_to: None,
        thread_id: None,
        conversation_id: None,
        recipient_id: None,
        author: Author {
            id: "ann".into(),
            name: Some("Ann Example".into()),
            handle: Some("ann".into()),
            email: Some("ann@example.com".into()),
            followers: None,
            verified_email: false,
        },
        text: "My internet has been down since this morning. Can you help?".into(),
        attachments: vec![],
        created_at: now,
        callback_url: Some(SAMPLE_CALLBACK.into()),
        found_by: None,
        subject: None,
        quoted: None,
        html: None,
    }
}

/// The runner's platform: the sample customer's replies are delivered here, all others by
/// the real platform.
pub struct WithSampleCustomer<P>(pub P);

impl<P: Platform> Platform for WithSampleCustomer<P> {
    async fn post(&self, reply: &Message) -> Result<String, PostError> {
        let to_sample = matches!(
            reply.delivery.as_ref().map(|d| &d.target),
            Some(Target::Callback { url }) if url == SAMPLE_CALLBACK
        );
        if to_sample {
            tracing::info!(message_id = %reply.id, text = %reply.body.text, "the sample customer got the reply");
            return Ok(format!("sample-{}", reply.id));
        }
        self.0.post(reply).await
    }

    async fn publish(
        &self,
        source: Source,
        account: &str,
        text: &str,
    ) -> Result<String, PostError> {
        self.0.publish(source, account, text).await
    }
}

/// Reads as the real platform does.
impl<P: Listener> Listener for WithSampleCustomer<P> {
    async fn search(
        &self,
        source: Source,
        account: &str,
        request: &SearchRequest,
    ) -> Result<SearchPage, ListenError> {
        self.0.search(source, account, request).await
    }

    async fn fetch(
        &self,
        source: Source,
        account: &str,
        external_id: &str,
    ) -> Result<Fetched, ListenError> {
        self.0.fetch(source, account, external_id).await
    }
}
