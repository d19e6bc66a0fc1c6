//! The contacts contract (SQLite and DynamoDB): what customers give in private is noted both
//! ways, suggests who else they are, merges on its own only for two verified addresses, and
//! goes with the customer when they are merged or erased.

use super::replies::ScriptedPlatform;
use crate::events::inbound;
use chrono::{DateTime, TimeZone, Utc};
use socialcare_domain::contacts::{AUTOMATIC, suggestions};
use socialcare_domain::customer::{Contact, ContactKind, ContactNote};
use socialcare_domain::customers::merge_customers;
use socialcare_domain::delivery::Delivery;
use socialcare_domain::ingest::{InboundEvent, IngestOutcome, Ingested, ingest_message};
use socialcare_domain::mail_feedback::{
    FeedbackEvent, FeedbackKind, FeedbackOutcome, MailFeedback, apply_feedback,
};
use socialcare_domain::ports::CustomerStore;
use socialcare_domain::privacy::erase_customer;
use socialcare_domain::replies::{
    DeliveryState, OutboxJob, ReplyChannel, ReplyRequest, SendPolicy, Step, deliver, write_reply,
};
use socialcare_domain::threading::Rules;
use socialcare_domain::{Actor, Channel, CustomerId, Message, Source, TicketId};

pub use socialcare_domain::ports::TicketStore as Store;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, minute, 0).unwrap()
}

const MAILBOX: &str = "support@acme.example";

fn email(address: &str) -> Contact {
    Contact {
        kind: ContactKind::Email,
        value: address.into(),
    }
}

/// A direct message on X from `handle`, with `text`.
fn dm(id: &str, handle: &str, text: &str, minute: u32) -> InboundEvent {
    let mut event = inbound(id, handle, text, at(minute));
    event.message.source = Source::X;
    event.message.account = "1100000000000000001".into();
    event.message.channel = Channel::Private;
    event.message.author.handle = Some(handle.into());
    event.message.author.email = None;
    event
}

/// An e-mail from `address` to the support mailbox; `verified` when the mail service
/// authenticated it.
fn mail(id: &str, address: &str, verified: bool, minute: u32) -> InboundEvent {
    let mut event = inbound(id, address, "Following up by e-mail", at(minute));
    event.message.source = Source::Email;
    event.message.account = MAILBOX.into();
    event.message.author.id = address.into();
    event.message.author.email = Some(address.into());
    event.message.author.verified_email = verified;
    event
}

fn linking() -> Rules {
    let mut rules = Rules::default();
    rules.link_same_email.insert(MAILBOX.to_string());
    rules
        .link_same_email
        .insert("1100000000000000001".to_string());
    rules
        .link_same_email
        .insert("sales@acme.example".to_string());
    rules.link_same_email.insert("crm".to_string());
    rules
}

async fn ingested<S: Store>(store: &S, event: &InboundEvent, rules: &Rules) -> Ingested {
    ingest_message(store, event, rules).await.unwrap()
}

fn ticket_of(ingested: &Ingested) -> TicketId {
    match &ingested.outcome {
        IngestOutcome::Opened { ticket_id, .. }
        | IngestOutcome::Joined { ticket_id, .. }
        | IngestOutcome::Duplicate { ticket_id, .. } => ticket_id.clone(),
    }
}

async fn customer_of<S: Store>(store: &S, event: &InboundEvent) -> CustomerId {
    store
        .find_customer(&event.message.customer_key())
        .await
        .unwrap()
        .expect("the author is a customer")
        .id
}

fn note(contact: Contact, customer: &CustomerId, ticket: &str, minute: u32) -> ContactNote {
    ContactNote {
        written: contact.value.clone(),
        contact,
        customer_id: customer.clone(),
        ticket_id: TicketId::derive(at(minute), ticket),
        noted_at: at(minute),
        verified: false,
    }
}

pub async fn notes_are_found_by_contact_and_by_customer<S: Store>(store: &S) {
    let ann = CustomerId::derive(at(0), "ann");
    let bob = CustomerId::derive(at(1), "bob");
    let phone = Contact {
        kind: ContactKind::Phone,
        value: "551234567".into(),
    };
    let anns = note(email("ann@example.com"), &ann, "t1", 0);
    store
        .note_contacts(&[anns.clone(), note(phone.clone(), &ann, "t1", 0)])
        .await
        .unwrap();
    let bobs = note(email("ann@example.com"), &bob, "t2", 1);
    store
        .note_contacts(std::slice::from_ref(&bobs))
        .await
        .unwrap();
    // Noted again, later, on another ticket: one note still, the newer.
    let again = ContactNote {
        ticket_id: TicketId::derive(at(5), "t3"),
        noted_at: at(5),
        ..anns.clone()
    };
    store
        .note_contacts(std::slice::from_ref(&again))
        .await
        .unwrap();

    let mut who = store
        .contact_notes(&email("ann@example.com"))
        .await
        .unwrap();
    who.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    let mut expected = vec![again.clone(), bobs.clone()];
    expected.sort_by(|a, b| a.customer_id.cmp(&b.customer_id));
    assert_eq!(who, expected);
    let mut anns_contacts = store.customer_contacts(&ann).await.unwrap();
    anns_contacts.sort_by(|a, b| a.contact.cmp(&b.contact));
    assert_eq!(anns_contacts.len(), 2);
    assert_eq!(anns_contacts[0], again);
    assert_eq!(anns_contacts[1].contact, phone);
    assert_eq!(store.contact_notes(&phone).await.unwrap().len(), 1);
    assert_eq!(
        store
            .contact_notes(&email("nobody@example.com"))
            .await
            .unwrap(),
        vec![]
    );

    // Forgotten both ways, and only hers.
    store.forget_contacts(&ann).await.unwrap();
    assert_eq!(store.customer_contacts(&ann).await.unwrap(), vec![]);
    assert_eq!(store.contact_notes(&phone).await.unwrap(), vec![]);
    assert_eq!(
        store
            .contact_notes(&email("ann@example.com"))
            .await
            .unwrap(),
        vec![bobs.clone()]
    );
    store.forget_contacts(&ann).await.unwrap();
    assert_eq!(store.customer_contacts(&bob).await.unwrap(), vec![bobs]);
}

pub async fn an_address_in_a_dm_suggests_the_customer_who_writes_from_it<S: Store>(store: &S) {
    let rules = Rules::default();
    let from_x = dm(
        "d1",
        "annlee",
        "It's Ann.Lee@Example.com, order #A-12345",
        0,
    );
    let dm_ticket = ticket_of(&ingested(store, &from_x, &rules).await);
    let by_mail = mail("<m1@example.com>", "ann.lee@example.com", true, 5);
    let mail_ticket = ticket_of(&ingested(store, &by_mail, &rules).await);
    let (x_customer, mail_customer) = (
        customer_of(store, &from_x).await,
        customer_of(store, &by_mail).await,
    );
    assert_ne!(
        x_customer, mail_customer,
        "not merged: the account does not link"
    );

    let seen_from_x = suggestions(store, &x_customer).await.unwrap();
    assert_eq!(seen_from_x.len(), 1, "{seen_from_x:?}");
    assert_eq!(seen_from_x[0].customer.id, mail_customer);
    assert_eq!(seen_from_x[0].contact, email("ann.lee@example.com"));
    assert_eq!(seen_from_x[0].written, "Ann.Lee@Example.com");
    assert_eq!(seen_from_x[0].their_ticket_id, mail_ticket);
    let seen_from_mail = suggestions(store, &mail_customer).await.unwrap();
    assert_eq!(seen_from_mail.len(), 1);
    assert_eq!(seen_from_mail[0].customer.id, x_customer);
    assert_eq!(seen_from_mail[0].their_ticket_id, dm_ticket);

    // A public post naming the address notes nothing: anyone can write anyone's address.
    let mut public = dm("p1", "mallory", "ann.lee@example.com ordered A-12345", 6);
    public.message.channel = Channel::Public;
    ingested(store, &public, &rules).await;
    let mallory = customer_of(store, &public).await;
    assert_eq!(store.customer_contacts(&mallory).await.unwrap(), vec![]);
    assert_eq!(suggestions(store, &x_customer).await.unwrap().len(), 1);

    // Once merged, nobody is suggested: the one merged away is the same customer now.
    merge_customers(store, &x_customer, &mail_customer, "sally", at(10))
        .await
        .unwrap();
    assert_eq!(suggestions(store, &x_customer).await.unwrap(), vec![]);
    let mut moved: Vec<Contact> = store
        .customer_contacts(&x_customer)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.contact)
        .collect();
    moved.sort();
    assert_eq!(
        moved,
        vec![
            email("ann.lee@example.com"),
            Contact {
                kind: ContactKind::Order,
                value: "A-12345".into()
            }
        ]
    );
    assert_eq!(
        store.customer_contacts(&mail_customer).await.unwrap(),
        vec![]
    );
}

pub async fn two_verified_addresses_merge_on_their_own_once<S: Store>(store: &S) {
    let rules = linking();
    // The CRM's customer, whose address the brand's system confirmed.
    let mut from_crm = inbound("c1", "ann", "Where is my parcel?", at(0));
    from_crm.message.author.email = Some("ann@example.com".into());
    from_crm.message.author.verified_email = true;
    let alone = ingested(store, &from_crm, &rules).await;
    assert_eq!(alone.merged, vec![], "nobody else has the address yet");
    let crm_ticket = ticket_of(&alone);
    let crm_customer = customer_of(store, &from_crm).await;

    let by_mail = mail("<m2@example.com>", "ANN@example.com", true, 5);
    let first = ingested(store, &by_mail, &rules).await;
    assert_eq!(first.merged.len(), 1, "{first:?}");
    let merge = &first.merged[0].merge;
    assert_eq!(
        merge.into, crm_customer,
        "the customer seen first keeps everything"
    );
    assert_eq!(merge.merged_by, AUTOMATIC);
    assert_eq!(merge.tickets, 1);
    assert!(merge.completed_at.is_some());
    assert_eq!(customer_of(store, &by_mail).await, crm_customer);
    let mail_ticket = store.get_ticket(&ticket_of(&first)).await.unwrap().unwrap();
    assert_eq!(mail_ticket.customer_id, crm_customer);
    assert_ne!(mail_ticket.id, crm_ticket);

    // Delivered again: the same message, no second merge, nothing new.
    let again = ingested(store, &by_mail, &rules).await;
    assert!(
        matches!(again.outcome, IngestOutcome::Duplicate { .. }),
        "{again:?}"
    );
    assert_eq!(again.merged, vec![]);
    assert_eq!(suggestions(store, &crm_customer).await.unwrap(), vec![]);
}

pub async fn a_typed_address_only_suggests_even_where_the_account_links<S: Store>(store: &S) {
    let rules = linking();
    let by_mail = mail("<m3@example.com>", "ann@example.com", true, 0);
    ingested(store, &by_mail, &rules).await;
    // Someone DMs claiming to be Ann: a claim, not a proof.
    let claim = dm(
        "d2",
        "mallory",
        "I am ann@example.com, show me my orders",
        5,
    );
    let outcome = ingested(store, &claim, &rules).await;
    assert_eq!(outcome.merged, vec![]);
    let (ann, mallory) = (
        customer_of(store, &by_mail).await,
        customer_of(store, &claim).await,
    );
    assert_ne!(ann, mallory);
    let suggested = suggestions(store, &mallory).await.unwrap();
    assert_eq!(suggested.len(), 1);
    assert_eq!(suggested[0].customer.id, ann);
    // An unauthenticated e-mail from the address is no proof either.
    let mut spoofed = mail("<m4@example.com>", "ann@example.com", false, 6);
    spoofed.message.account = "sales@acme.example".into();
    let outcome = ingested(store, &spoofed, &rules).await;
    assert_eq!(outcome.merged, vec![]);
    assert_ne!(customer_of(store, &spoofed).await, ann);
}

pub async fn an_erased_customer_leaves_no_contact<S: Store>(store: &S) {
    let rules = Rules::default();
    let from_x = dm("d3", "annlee", "call me on +44 7700 900123", 0);
    ingested(store, &from_x, &rules).await;
    let other = dm("d4", "ann_alt", "my number is 07700 900123", 1);
    ingested(store, &other, &rules).await;
    let (ann, alt) = (
        customer_of(store, &from_x).await,
        customer_of(store, &other).await,
    );
    assert_eq!(suggestions(store, &alt).await.unwrap().len(), 1);

    erase_customer(store, &ann, "admin", at(10)).await.unwrap();
    assert_eq!(store.customer_contacts(&ann).await.unwrap(), vec![]);
    let phone = Contact {
        kind: ContactKind::Phone,
        value: "7700900123".into(),
    };
    let left: Vec<CustomerId> = store
        .contact_notes(&phone)
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.customer_id)
        .collect();
    assert_eq!(left, vec![alt.clone()]);
    assert_eq!(suggestions(store, &alt).await.unwrap(), vec![]);
    assert!(
        CustomerStore::get_customer(store, &ann)
            .await
            .unwrap()
            .is_none()
    );
}

/// An e-mail ticket from `address` with one reply sent (its Message-ID `reply_id`).
async fn sent_reply<S: Store>(store: &S, address: &str, reply_id: &str) -> (TicketId, Message) {
    let event = mail(&format!("{address}-1"), address, true, 0);
    let ticket_id = ticket_of(&ingested(store, &event, &Rules::default()).await);
    let request = ReplyRequest {
        text: "We are on it.".into(),
        channel: ReplyChannel::Auto,
        key: format!("k-{address}"),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    };
    let reply = write_reply(store, &ticket_id, &request, at(2))
        .await
        .unwrap()
        .reply;
    let platform = ScriptedPlatform::answering(vec![Ok(reply_id.to_string())]);
    let step = deliver(
        store,
        &platform,
        &OutboxJob::of(&reply),
        1,
        at(3),
        &SendPolicy::default(),
    )
    .await
    .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Sent));
    (ticket_id, reply)
}

fn bounce(message_id: &str, recipient: Option<&str>, minute: u32) -> FeedbackEvent {
    FeedbackEvent {
        feedback: MailFeedback {
            kind: FeedbackKind::Bounce,
            mailbox: MAILBOX.into(),
            message_id: message_id.into(),
            recipient: recipient.map(str::to_string),
            detail: "5.1.1 smtp; 550 5.1.1 user unknown".into(),
        },
        received_at: at(minute),
    }
}

async fn delivery_of<S: Store>(store: &S, reply: &Message) -> Delivery {
    store
        .get_message(&reply.body.dedupe_key())
        .await
        .unwrap()
        .unwrap()
        .delivery
        .unwrap()
}

pub async fn a_bounce_fails_the_reply_and_holds_mail_to_the_address_until_they_write<S: Store>(
    store: &S,
) {
    let (ticket_id, reply) = sent_reply(store, "dan@example.com", "r1@acme.example").await;
    let outcome = apply_feedback(
        store,
        &bounce("r1@acme.example", Some("Dan@Example.com"), 5),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        FeedbackOutcome::Marked {
            ticket_id: ticket_id.clone(),
            message_id: reply.id.clone(),
            address: "dan@example.com".into(),
        }
    );
    let delivery = delivery_of(store, &reply).await;
    assert_eq!(delivery.state, DeliveryState::Failed);
    assert_eq!(
        delivery.error.as_deref(),
        Some("bounced: 5.1.1 smtp; 550 5.1.1 user unknown")
    );
    let mark = store
        .contact_marks(&email("dan@example.com"))
        .await
        .unwrap()
        .in_force()
        .expect("the address is marked");
    assert_eq!(mark.kind, FeedbackKind::Bounce);
    assert_eq!(mark.at, at(5));
    assert_eq!(mark.ticket_id, ticket_id);
    assert_eq!(mark.message_id, reply.id);
    assert_eq!(mark.detail, "5.1.1 smtp; 550 5.1.1 user unknown");

    // Delivered again: the same, the reply not written again.
    let version = store
        .get_message(&reply.body.dedupe_key())
        .await
        .unwrap()
        .unwrap()
        .version;
    let again = apply_feedback(
        store,
        &bounce("r1@acme.example", Some("dan@example.com"), 5),
    )
    .await
    .unwrap();
    assert!(matches!(again, FeedbackOutcome::Marked { .. }), "{again:?}");
    let after = store
        .get_message(&reply.body.dedupe_key())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.version, version);

    // The next reply is not sent, and says why.
    let request = ReplyRequest {
        text: "Are you there?".into(),
        channel: ReplyChannel::Auto,
        key: "k-dan-2".into(),
        author: Actor::Agent { id: "sally".into() },
        automatic: false,
    };
    let second = write_reply(store, &ticket_id, &request, at(6))
        .await
        .unwrap()
        .reply;
    let platform = ScriptedPlatform::answering(vec![]);
    let policy = SendPolicy::default();
    let step = deliver(store, &platform, &OutboxJob::of(&second), 1, at(7), &policy)
        .await
        .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Failed));
    assert!(platform.posted().is_empty(), "nothing went to the platform");
    let error = delivery_of(store, &second).await.error.unwrap();
    assert_eq!(
        error,
        "not sent: mail could not be delivered to dan@example.com on 2026-11-23 10:05 UTC \
         (5.1.1 smtp; 550 5.1.1 user unknown); nothing more goes to it until they write from it again"
    );

    // A mail they sent before the bounce came does not take the mark off; one after does.
    let before = mail("<dan-old>", "dan@example.com", false, 4);
    ingested(store, &before, &Rules::default()).await;
    assert!(
        store
            .contact_marks(&email("dan@example.com"))
            .await
            .unwrap()
            .in_force()
            .is_some()
    );
    let since = mail("<dan-2>", "dan@example.com", false, 8);
    ingested(store, &since, &Rules::default()).await;
    // The bounce delivered once more after that is no news.
    apply_feedback(
        store,
        &bounce("r1@acme.example", Some("dan@example.com"), 5),
    )
    .await
    .unwrap();
    assert_eq!(
        store
            .contact_marks(&email("dan@example.com"))
            .await
            .unwrap()
            .in_force(),
        None
    );
    let request = ReplyRequest {
        key: "k-dan-3".into(),
        ..request
    };
    let third = write_reply(store, &ticket_id, &request, at(9))
        .await
        .unwrap()
        .reply;
    let step = deliver(store, &platform, &OutboxJob::of(&third), 1, at(9), &policy)
        .await
        .unwrap();
    assert_eq!(step, Step::Done(DeliveryState::Sent));
}

pub async fn a_report_about_no_reply_of_ours_marks_nothing<S: Store>(store: &S) {
    let (_, reply) = sent_reply(store, "erin@example.com", "r2@acme.example").await;
    let cases = [
        // A Message-ID no mailbox sent, naming her.
        bounce("guessed@acme.example", Some("erin@example.com"), 5),
        // Ours, but about someone it did not go to.
        bounce("r2@acme.example", Some("frank@example.com"), 5),
        // Ours, from another mailbox's scope.
        FeedbackEvent {
            feedback: MailFeedback {
                mailbox: "sales@acme.example".into(),
                ..bounce("r2@acme.example", Some("erin@example.com"), 5).feedback
            },
            received_at: at(5),
        },
        // Ours, naming nobody.
        bounce("r2@acme.example", None, 5),
        // The customer's own message, not a reply.
        bounce("erin@example.com-1", Some("erin@example.com"), 5),
        // The reply by its own key, which a customer can make up (an acknowledgement's is
        // `ack:` and their own Message-ID): only the id it was sent with counts.
        bounce("socialcare:k-erin@example.com", Some("erin@example.com"), 5),
    ];
    for event in &cases {
        assert_eq!(
            apply_feedback(store, event).await.unwrap(),
            FeedbackOutcome::NotOurs,
            "{event:?}"
        );
    }
    assert_eq!(delivery_of(store, &reply).await.state, DeliveryState::Sent);
    for address in ["erin@example.com", "frank@example.com"] {
        assert_eq!(
            store.contact_marks(&email(address)).await.unwrap().mark,
            None
        );
    }
}

pub async fn a_complaint_marks_the_address_and_an_erasure_forgets_it<S: Store>(store: &S) {
    let (ticket_id, reply) = sent_reply(store, "gail@example.com", "r3@acme.example").await;
    let complaint = FeedbackEvent {
        feedback: MailFeedback {
            kind: FeedbackKind::Complaint,
            detail: "abuse".into(),
            ..bounce("r3@acme.example", Some("gail@example.com"), 5).feedback
        },
        received_at: at(5),
    };
    let outcome = apply_feedback(store, &complaint).await.unwrap();
    assert!(
        matches!(outcome, FeedbackOutcome::Marked { .. }),
        "{outcome:?}"
    );
    let delivery = delivery_of(store, &reply).await;
    assert_eq!(delivery.state, DeliveryState::Sent, "it was delivered");
    assert_eq!(
        delivery.error.as_deref(),
        Some("reported as spam by its recipient: abuse")
    );
    let in_force = || async {
        store
            .contact_marks(&email("gail@example.com"))
            .await
            .unwrap()
            .in_force()
            .map(|m| m.kind)
    };
    assert_eq!(in_force().await, Some(FeedbackKind::Complaint));
    // Anyone can write her address in From: an unauthenticated mail does not undo it; an
    // authenticated one does.
    ingested(
        store,
        &mail("g2", "gail@example.com", false, 6),
        &Rules::default(),
    )
    .await;
    assert_eq!(in_force().await, Some(FeedbackKind::Complaint));
    ingested(
        store,
        &mail("g3", "gail@example.com", true, 7),
        &Rules::default(),
    )
    .await;
    assert_eq!(in_force().await, None);

    let detail = store.ticket_detail(&ticket_id).await.unwrap().unwrap();
    let gail = detail.customer.unwrap().id;
    let export = socialcare_domain::privacy::export_customer(store, &gail, at(9))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(export.marks.len(), 1);
    assert_eq!(export.marks[0].contact, email("gail@example.com"));
    assert_eq!(export.marks[0].detail, "abuse");
    erase_customer(store, &gail, "admin", at(10)).await.unwrap();
    assert_eq!(
        store
            .contact_marks(&email("gail@example.com"))
            .await
            .unwrap(),
        socialcare_domain::customer::ContactMarks::default()
    );
}

pub async fn a_typed_address_keeps_the_verified_mark_and_the_brands_own_is_nobodys<S: Store>(
    store: &S,
) {
    let mut rules = Rules::default();
    rules.mailboxes.insert(MAILBOX.to_string());
    let verified = mail("v1@example.com", "hal@example.com", true, 0);
    ingested(store, &verified, &rules).await;
    let hal = customer_of(store, &verified).await;
    // From the same address, unauthenticated this time, naming the brand's own mailbox.
    let mut again = mail("v2@example.com", "hal@example.com", false, 1);
    again.message.text = format!("I wrote to {MAILBOX} twice already");
    ingested(store, &again, &rules).await;
    let notes = store.customer_contacts(&hal).await.unwrap();
    let noted: Vec<(&str, bool)> = notes
        .iter()
        .map(|n| (n.contact.value.as_str(), n.verified))
        .collect();
    assert_eq!(noted, vec![("hal@example.com", true)], "{notes:?}");
    assert_eq!(store.contact_notes(&email(MAILBOX)).await.unwrap(), vec![]);
}

pub async fn an_automatic_merge_cut_short_is_finished_when_its_mail_comes_again<S: Store>(
    store: &S,
) {
    // Two mailboxes hear from one verified address, before either links by e-mail.
    let first = mail("w1@example.com", "ida@example.com", true, 0);
    ingested(store, &first, &Rules::default()).await;
    let mut second = mail("w2@example.com", "ida@example.com", true, 1);
    second.message.account = "sales@acme.example".into();
    ingested(store, &second, &Rules::default()).await;
    let (kept, away) = (
        customer_of(store, &first).await,
        customer_of(store, &second).await,
    );
    assert_ne!(kept, away);
    // A merge that died after moving the identities: its record open, the notes not moved.
    let cut = socialcare_domain::Merge {
        customer_id: away.clone(),
        into: kept.clone(),
        account: MAILBOX.into(),
        merged_by: AUTOMATIC.into(),
        requested_at: at(2),
        completed_at: None,
        identities: 1,
        tickets: 0,
    };
    store.put_merge(&cut).await.unwrap();
    let into = CustomerStore::get_customer(store, &kept)
        .await
        .unwrap()
        .unwrap();
    let absorbed = CustomerStore::get_customer(store, &away)
        .await
        .unwrap()
        .unwrap();
    let mut combined = into.clone();
    combined.identities.extend(absorbed.identities.clone());
    combined.version = into.version + 1;
    store
        .absorb_customer(&combined, into.version, &absorbed)
        .await
        .unwrap();
    assert_eq!(customer_of(store, &second).await, kept);

    // The same mail delivered again, the accounts linking now: the merge is finished.
    let again = ingested(store, &second, &linking()).await;
    assert_eq!(again.merged.len(), 1, "{again:?}");
    let done = store.get_merge(&away).await.unwrap().unwrap();
    assert!(done.completed_at.is_some(), "{done:?}");
    assert_eq!(store.customer_contacts(&away).await.unwrap(), vec![]);
    let left: Vec<CustomerId> = store
        .contact_notes(&email("ida@example.com"))
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.customer_id)
        .collect();
    assert_eq!(left, vec![kept]);
}

pub async fn a_message_noted_while_its_customer_is_erased_leaves_nothing<S: Store>(store: &S) {
    let first = dm("e1", "jo", "hello", 0);
    ingested(store, &first, &Rules::default()).await;
    let jo = customer_of(store, &first).await;
    // The erasure is recorded (it forgets the contacts next); a message comes meanwhile.
    store
        .put_erasure(&socialcare_domain::Erasure {
            customer_id: jo.clone(),
            account: "1100000000000000001".into(),
            requested_by: "admin".into(),
            requested_at: at(1),
            completed_at: None,
            tickets: 0,
            messages: 0,
            elsewhere: 0,
        })
        .await
        .unwrap();
    let during = dm("e2", "jo", "reach me at jo@example.com or 07700 900456", 2);
    ingested(store, &during, &Rules::default()).await;
    assert_eq!(store.customer_contacts(&jo).await.unwrap(), vec![]);
    assert_eq!(
        store.contact_notes(&email("jo@example.com")).await.unwrap(),
        vec![]
    );
}

#[macro_export]
macro_rules! contacts_contract {
    ($make:expr) => {
        $crate::contacts_contract!(@cases $make;
            notes_are_found_by_contact_and_by_customer,
            an_address_in_a_dm_suggests_the_customer_who_writes_from_it,
            two_verified_addresses_merge_on_their_own_once,
            a_typed_address_only_suggests_even_where_the_account_links,
            an_erased_customer_leaves_no_contact,
            a_bounce_fails_the_reply_and_holds_mail_to_the_address_until_they_write,
            a_report_about_no_reply_of_ours_marks_nothing,
            a_complaint_marks_the_address_and_an_erasure_forgets_it,
            a_typed_address_keeps_the_verified_mark_and_the_brands_own_is_nobodys,
            an_automatic_merge_cut_short_is_finished_when_its_mail_comes_again,
            a_message_noted_while_its_customer_is_erased_leaves_nothing
        );
    };
    (@cases $make:expr; $($case:ident),+) => {
        $(
            #[tokio::test]
            async fn $case() {
                let store = $make.await;
                $crate::contract::contacts::$case(&store).await;
            }
        )+
    };
}
