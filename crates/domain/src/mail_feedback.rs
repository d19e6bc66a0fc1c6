//! What the mail system says of a reply after it left: it could not be delivered (a bounce,
//! RFC 3464) or its recipient reported it as spam (a complaint, RFC 5965). The reply is marked,
//! and so is its address: nothing more is sent to it until the customer writes from it again.
//!
//! A report is believed only about a message a mailbox sent: it must return that message's
//! `Message-ID`, which only the mail systems on the way and the recipient saw. Anyone can send
//! a mailbox a report; no one else can make it name a reply and stop mail to a customer.

use crate::customer::{Contact, ContactKind};
pub use crate::customer::{ContactMark, FeedbackKind};
use crate::delivery::{DeliveryState, Target};
use crate::ids::{MessageId, TicketId};
use crate::message::{Direction, Source, scoped_key};
use crate::ports::{CommitError, ContactStore, IngestStore, StoreError};
use crate::retry::{Round, within_attempts};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A delivery report or a complaint about a message `mailbox` sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailFeedback {
    pub kind: FeedbackKind,
    /// The mailbox it came to: the one that sent the message.
    pub mailbox: String,
    /// The `Message-ID` of the message it is about, as the report returns it.
    pub message_id: String,
    /// The recipient it names (`Final-Recipient`, `Original-Rcpt-To`), when it names one.
    pub recipient: Option<String>,
    /// What it says, for people: `5.1.1 smtp; 550 5.1.1 user unknown`, `abuse`.
    pub detail: String,
}

/// A report and when it came: what the intake queues for ingest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedbackEvent {
    pub feedback: MailFeedback,
    pub received_at: DateTime<Utc>,
}

/// What a report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackOutcome {
    /// The reply is marked (a bounce: failed), and its address.
    Marked {
        ticket_id: TicketId,
        message_id: MessageId,
        address: String,
    },
    /// It names no reply the mailbox sent, or a recipient the reply did not go to: nothing
    /// is believed.
    NotOurs,
}

/// The e-mail contact of an address.
pub fn email_contact(address: &str) -> Contact {
    Contact {
        kind: ContactKind::Email,
        value: address.trim().to_lowercase(),
    }
}

/// Marks the reply the report names, and its address. Again on a redelivery, to the same end:
/// the reply's mark is written once (its version moves only then), the address's replaced.
pub async fn apply_feedback<S: IngestStore + ContactStore>(
    store: &S,
    event: &FeedbackEvent,
) -> Result<FeedbackOutcome, StoreError> {
    let feedback = &event.feedback;
    let key = scoped_key(Source::Email, &feedback.mailbox, &feedback.message_id);
    let outcome = within_attempts(|| async {
        let Some(reply) = store.get_message(&key).await? else {
            return Ok(Round::Done(None));
        };
        let Some(delivery) = reply.delivery.clone() else {
            return Ok(Round::Done(None));
        };
        let Target::Email { to, .. } = &delivery.target else {
            return Ok(Round::Done(None));
        };
        // Only a reply that went out is known by that Message-ID (its alias); found by its own
        // key (`socialcare:…`, which a customer can make up for an acknowledgement) it is not
        // the one the report returns. The report must name whom it went to.
        let sent_as = delivery.platform_id.as_deref() == Some(feedback.message_id.as_str());
        let to_them = feedback
            .recipient
            .as_deref()
            .is_some_and(|named| named.trim().eq_ignore_ascii_case(to));
        if reply.body.direction != Direction::Outbound || !sent_as || !to_them {
            return Ok(Round::Done(None));
        }
        let said = format!("{}: {}", said_of(feedback.kind), feedback.detail);
        if delivery.error.as_deref() != Some(said.as_str()) {
            let mut marked = reply.clone();
            marked.delivery = Some(crate::delivery::Delivery {
                state: match feedback.kind {
                    FeedbackKind::Bounce => DeliveryState::Failed,
                    FeedbackKind::Complaint => delivery.state,
                },
                error: Some(said),
                ..delivery.clone()
            });
            marked.version = reply.version + 1;
            match store.record_delivery(&marked, reply.version, None).await {
                Ok(()) => {}
                Err(CommitError::Store(e)) => return Err(e),
                Err(_) => return Ok(Round::ReadAgain),
            }
        }
        Ok(Round::Done(Some((reply.ticket_id, reply.id, to.clone()))))
    })
    .await?
    .flatten();
    let Some((ticket_id, message_id, address)) = outcome else {
        return Ok(FeedbackOutcome::NotOurs);
    };
    let mark = ContactMark {
        contact: email_contact(&address),
        kind: feedback.kind,
        detail: feedback.detail.clone(),
        at: event.received_at,
        ticket_id: ticket_id.clone(),
        message_id: message_id.clone(),
    };
    if replaces(&store.contact_marks(&mark.contact).await?, &mark) {
        store.mark_contact(&mark).await?;
    }
    Ok(FeedbackOutcome::Marked {
        ticket_id,
        message_id,
        address: address.to_lowercase(),
    })
}

fn said_of(kind: FeedbackKind) -> &'static str {
    match kind {
        FeedbackKind::Bounce => "bounced",
        FeedbackKind::Complaint => "reported as spam by its recipient",
    }
}

/// Whether `new` takes the place of the address's mark: not when it is older (a report that
/// came late, or again), nor a bounce in place of a complaint in force (any mail undoes a
/// bounce, and so the complaint would be undone by a forged one).
fn replaces(held: &crate::customer::ContactMarks, new: &ContactMark) -> bool {
    let Some(old) = &held.mark else {
        return true;
    };
    let complaint_in_force =
        old.kind == FeedbackKind::Complaint && held.clone().in_force().is_some();
    new.at >= old.at && !(complaint_in_force && new.kind == FeedbackKind::Bounce)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::customer::ContactMarks;
    use chrono::TimeZone;

    fn mark(kind: FeedbackKind, minute: u32) -> ContactMark {
        let at = Utc.with_ymd_and_hms(2026, 12, 4, 9, minute, 0).unwrap();
        ContactMark {
            contact: email_contact("ann@example.com"),
            kind,
            detail: kind.as_str().into(),
            at,
            ticket_id: TicketId::derive(at, "t"),
            message_id: MessageId::derive(at, "m"),
        }
    }

    #[test]
    fn a_late_report_or_a_bounce_after_a_complaint_in_force_replaces_nothing() {
        use FeedbackKind::{Bounce, Complaint};
        let held = |old: ContactMark, verified_written: Option<u32>| ContactMarks {
            mark: Some(old),
            written_at: None,
            verified_written_at: verified_written
                .map(|m| Utc.with_ymd_and_hms(2026, 12, 4, 9, m, 0).unwrap()),
        };
        assert!(replaces(&ContactMarks::default(), &mark(Bounce, 5)));
        assert!(replaces(&held(mark(Bounce, 5), None), &mark(Bounce, 6)));
        assert!(
            !replaces(&held(mark(Bounce, 6), None), &mark(Bounce, 5)),
            "late"
        );
        assert!(replaces(&held(mark(Bounce, 5), None), &mark(Complaint, 6)));
        assert!(
            !replaces(&held(mark(Complaint, 5), None), &mark(Bounce, 6)),
            "a forged mail would undo the complaint with the bounce"
        );
        assert!(
            replaces(&held(mark(Complaint, 5), Some(6)), &mark(Bounce, 7)),
            "the complaint was undone by an authenticated mail"
        );
    }
}
