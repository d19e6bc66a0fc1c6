use super::*;
use crate::customer::Customer;
use crate::ids::CustomerId;
use crate::ticket::TicketStatus;
use chrono::TimeZone;

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap() + Duration::minutes(minutes)
}

fn message(
    source: Source,
    id: &str,
    channel: Channel,
    direction: Direction,
    minute: i64,
) -> Message {
    let body = NormalizedMessage {
        source,
        account: "brand".into(),
        channel,
        direction,
        external_id: id.into(),
        in_reply_to: None,
        thread_id: None,
        conversation_id: None,
        recipient_id: None,
        author: Author {
            id: match direction {
                Direction::Inbound => "ann".into(),
                Direction::Outbound => "brand".into(),
            },
            name: Some("Ann".into()),
            handle: None,
            email: None,
            followers: None,
            verified_email: false,
        },
        text: "text".into(),
        attachments: vec![],
        created_at: at(minute),
        callback_url: None,
        found_by: None,
        subject: None,
        quoted: None,
        html: None,
    };
    Message::new(TicketId::derive(at(0), "t"), body, at(minute))
}

fn detail(source: Source, messages: Vec<Message>) -> TicketDetail {
    TicketDetail {
        ticket: Ticket {
            id: TicketId::derive(at(0), "t"),
            account: "brand".into(),
            source,
            customer_id: CustomerId::derive(at(0), "ann"),
            status: TicketStatus::Open,
            subject: "text".into(),
            created_at: at(0),
            last_message_at: at(0),
            message_count: messages.len() as u32,
            resolved_at: None,
            priority: Default::default(),
            timers: Default::default(),
            satisfaction: None,
            triage: None,
            topics: Vec::new(),
            incident_id: None,
            erased_at: None,
            opened_by_brand: false,
            first_response_at: None,
            acknowledged_at: None,
            owner: None,
            team: None,
            version: 1,
        },
        customer: None::<Customer>,
        messages,
    }
}

use Channel::{Private, Public};
use Direction::{Inbound, Outbound};

#[test]
fn x_replies_go_public_to_the_latest_public_post_or_by_dm() {
    let ticket = detail(
        Source::X,
        vec![
            message(Source::X, "t1", Public, Inbound, 0),
            message(Source::X, "t2", Public, Inbound, 1),
        ],
    );
    assert_eq!(
        route(&ticket, ReplyChannel::Public, at(5)),
        Ok((Target::Public { to: "t2".into() }, Public))
    );
    assert_eq!(
        route(&ticket, ReplyChannel::Private, at(5)),
        Ok((
            Target::Direct {
                to: "ann".into(),
                window_ends: None
            },
            Private
        ))
    );
    // auto: public to a first public contact, private once answered in public
    assert_eq!(route(&ticket, ReplyChannel::Auto, at(5)).unwrap().1, Public);
    let mut answered = ticket.clone();
    answered
        .messages
        .push(message(Source::X, "b1", Public, Outbound, 2));
    assert_eq!(
        route(&answered, ReplyChannel::Auto, at(5)).unwrap().1,
        Private
    );
    let dm_only = detail(
        Source::X,
        vec![message(Source::X, "d1", Private, Inbound, 0)],
    );
    assert_eq!(
        route(&dm_only, ReplyChannel::Public, at(5)),
        Err(RouteError::NoPublicThread)
    );
    assert_eq!(
        route(&dm_only, ReplyChannel::Auto, at(5)).unwrap().1,
        Private
    );
}

fn from(mut message: Message, author: &str) -> Message {
    message.body.author.id = author.into();
    message
}

/// Issue 14: ann complains, the brand answers publicly, bob replies in the thread. A
/// private reply goes to ann, never to bob; a public one answers ann's tweet.
#[test]
fn replies_go_to_the_tickets_customer_never_to_a_bystander() {
    let mut ticket = detail(
        Source::X,
        vec![
            message(Source::X, "t1", Public, Inbound, 0),
            message(Source::X, "b1", Public, Outbound, 1),
            from(message(Source::X, "t2", Public, Inbound, 2), "bob"),
        ],
    );
    let to_ann = Target::Direct {
        to: "ann".into(),
        window_ends: None,
    };
    for channel in [ReplyChannel::Private, ReplyChannel::Auto] {
        assert_eq!(
            route(&ticket, channel, at(5)),
            Ok((to_ann.clone(), Private)),
            "{channel:?}"
        );
    }
    assert_eq!(
        route(&ticket, ReplyChannel::Public, at(5)),
        Ok((Target::Public { to: "t1".into() }, Public))
    );
    let reply = compose(
        &ticket,
        (to_ann.clone(), Private),
        "hi".into(),
        "k",
        false,
        at(5),
    );
    assert_eq!(reply.body.recipient_id.as_deref(), Some("ann"));
    assert_eq!(reply.body.in_reply_to.as_deref(), Some("t1"));
    // With the customer record at hand, their identities decide, whoever wrote first.
    ticket.messages.swap(0, 2);
    ticket.customer = Some(Customer {
        id: CustomerId::derive(at(0), "ann"),
        account: "brand".into(),
        name: None,
        email: None,
        identities: vec![crate::customer::Identity {
            source: Source::X,
            account: "brand".into(),
            user_id: "ann".into(),
            handle: None,
        }],
        latest_ticket_id: None,
        created_at: at(0),
        updated_at: at(0),
        acknowledged_at: None,
        elsewhere: Vec::new(),
        version: 1,
    });
    assert_eq!(
        route(&ticket, ReplyChannel::Private, at(5)),
        Ok((to_ann, Private))
    );
    // A thread where only bystanders wrote has nothing to answer.
    ticket.messages.retain(|m| m.body.author.id != "ann");
    assert_eq!(
        route(&ticket, ReplyChannel::Private, at(5)),
        Err(RouteError::NothingToAnswer)
    );

    // On Facebook, bob's comment in ann's thread gets no private reply, and bob's DM
    // window is not ann's.
    let fb = Source::Facebook;
    let ticket = detail(
        fb,
        vec![
            message(fb, "c1", Public, Inbound, 0),
            from(message(fb, "c2", Public, Inbound, 2), "bob"),
            from(message(fb, "m1", Private, Inbound, 3), "bob"),
        ],
    );
    assert_eq!(
        route(&ticket, ReplyChannel::Private, at(5)),
        Ok((
            Target::PrivateReply {
                comment_id: "c1".into()
            },
            Private
        ))
    );
}

#[test]
fn meta_private_replies_respect_the_windows() {
    let fb = Source::Facebook;
    let dm = detail(fb, vec![message(fb, "m1", Private, Inbound, 0)]);
    assert_eq!(
        route(&dm, ReplyChannel::Private, at(60)),
        Ok((
            Target::Direct {
                to: "ann".into(),
                window_ends: Some(at(24 * 60))
            },
            Private
        ))
    );
    assert_eq!(
        route(&dm, ReplyChannel::Private, at(24 * 60)),
        Err(RouteError::WindowClosed(at(24 * 60)))
    );
    // a closed DM window falls back to a private reply to a recent comment
    let both = detail(
        fb,
        vec![
            message(fb, "m1", Private, Inbound, 0),
            message(fb, "c9", Public, Inbound, 30 * 60),
        ],
    );
    assert_eq!(
        route(&both, ReplyChannel::Private, at(31 * 60)),
        Ok((
            Target::PrivateReply {
                comment_id: "c9".into()
            },
            Private
        ))
    );
    // a comment gets one private reply, within 7 days
    let comment = detail(fb, vec![message(fb, "c1", Public, Inbound, 0)]);
    assert_eq!(
        route(&comment, ReplyChannel::Private, at(60)),
        Ok((
            Target::PrivateReply {
                comment_id: "c1".into()
            },
            Private
        ))
    );
    assert_eq!(
        route(&comment, ReplyChannel::Private, at(8 * 24 * 60)),
        Err(RouteError::NoPrivateRoute)
    );
    let mut replied = comment.clone();
    let first = compose(
        &comment,
        route(&comment, ReplyChannel::Private, at(60)).unwrap(),
        "DM us".into(),
        "k1",
        false,
        at(60),
    );
    replied.messages.push(first);
    assert_eq!(
        route(&replied, ReplyChannel::Private, at(61)),
        Err(RouteError::NoPrivateRoute)
    );
}

#[test]
fn integrators_get_the_callback_of_the_customers_messages() {
    let mut with_url = message(Source::Integration, "e1", Private, Inbound, 0);
    with_url.body.callback_url = Some("https://crm.example/hooks/replies".into());
    let ticket = detail(
        Source::Integration,
        vec![
            with_url,
            message(Source::Integration, "e2", Private, Inbound, 1),
        ],
    );
    assert_eq!(
        route(&ticket, ReplyChannel::Auto, at(5)),
        Ok((
            Target::Callback {
                url: "https://crm.example/hooks/replies".into()
            },
            Private
        ))
    );
    let without = detail(
        Source::Integration,
        vec![message(Source::Integration, "e3", Private, Inbound, 0)],
    );
    assert_eq!(
        route(&without, ReplyChannel::Auto, at(5)),
        Err(RouteError::NoCallback)
    );
    let nothing = detail(
        Source::X,
        vec![message(Source::X, "b", Public, Outbound, 0)],
    );
    assert_eq!(
        route(&nothing, ReplyChannel::Auto, at(5)),
        Err(RouteError::NothingToAnswer)
    );
}

#[test]
fn a_composed_reply_is_pending_and_addressed() {
    let ticket = detail(
        Source::X,
        vec![message(Source::X, "t1", Public, Inbound, 0)],
    );
    let reply = compose(
        &ticket,
        (Target::Public { to: "t1".into() }, Public),
        "On it".into(),
        "k1",
        true,
        at(3),
    );
    assert_eq!(reply.body.external_id, "socialcare:k1");
    assert_eq!(reply.body.in_reply_to.as_deref(), Some("t1"));
    assert_eq!(reply.body.recipient_id.as_deref(), Some("ann"));
    assert_eq!(reply.body.direction, Outbound);
    assert_eq!(reply.body.created_at, at(3));
    let delivery = reply.delivery.unwrap();
    assert_eq!(delivery.state, DeliveryState::Pending);
    assert!(delivery.automatic);
    assert_eq!(delivery.attempts, 0);
}

#[test]
fn an_echo_matches_despite_mentions_and_shortened_links() {
    let ticket = detail(
        Source::X,
        vec![message(Source::X, "t1", Public, Inbound, 0)],
    );
    let reply = compose(
        &ticket,
        (Target::Public { to: "t1".into() }, Public),
        "Status: https://status.acme.example/outage  back soon".into(),
        "k1",
        false,
        at(3),
    );
    let mut echo = message(Source::X, "p1", Public, Outbound, 3).body;
    echo.text = "@ann Status: https://t.co/xyz back soon".into();
    assert!(is_echo_of(&reply, &echo));
    echo.text = "@ann Status: back later".into();
    assert!(!is_echo_of(&reply, &echo));
    echo.text = "@ann Status: https://t.co/xyz back soon".into();
    echo.channel = Private;
    assert!(!is_echo_of(&reply, &echo));
    let confirmed = confirmed_by_echo(&reply, &echo);
    let delivery = confirmed.delivery.unwrap();
    assert_eq!(delivery.state, DeliveryState::Sent);
    assert_eq!(delivery.platform_id.as_deref(), Some("p1"));
    assert_eq!(confirmed.version, reply.version + 1);
}

#[test]
fn waits_round_up_and_back_off_to_a_cap() {
    let now = at(0);
    let secs = |d: std::time::Duration| d.as_secs();
    assert_eq!(secs(wait_until(now + Duration::milliseconds(1100), now)), 2);
    assert_eq!(secs(wait_until(now + Duration::seconds(90), now)), 90);
    assert_eq!(secs(wait_until(now - Duration::seconds(5), now)), 1);
    assert_eq!(secs(wait_until(now + Duration::days(3), now)), 12 * 3600);
    let policy = SendPolicy::default();
    let waits: Vec<u64> = (1..=11).map(|n| secs(backoff(n, &policy))).collect();
    assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
}

/// Ann began on X and wrote last by e-mail, once her address was linked to her: the answer is
/// an e-mail from the mailbox she wrote to, unless the agent asks for the public thread.
#[test]
fn a_reply_follows_the_channel_the_customer_wrote_on_last() {
    let mut email = message(Source::Email, "m1@example.com", Private, Inbound, 3);
    email.body.account = "care@acme.example".into();
    email.body.author.id = "ann@example.com".into();
    email.body.subject = Some("Re: My internet".into());
    let mut ticket = detail(
        Source::X,
        vec![
            message(Source::X, "t1", Public, Inbound, 0),
            message(Source::X, "b1", Public, Outbound, 1),
            email,
        ],
    );
    let identity = |source, account: &str, user_id: &str| crate::customer::Identity {
        source,
        account: account.into(),
        user_id: user_id.into(),
        handle: None,
    };
    ticket.customer = Some(Customer {
        id: CustomerId::derive(at(0), "ann"),
        account: "brand".into(),
        name: None,
        email: None,
        identities: vec![
            identity(Source::X, "brand", "ann"),
            identity(Source::Email, "care@acme.example", "ann@example.com"),
        ],
        latest_ticket_id: None,
        created_at: at(0),
        updated_at: at(0),
        acknowledged_at: None,
        elsewhere: Vec::new(),
        version: 1,
    });
    let by_email = Target::Email {
        from: "care@acme.example".into(),
        to: "ann@example.com".into(),
        subject: "Re: My internet".into(),
        in_reply_to: "m1@example.com".into(),
        references: vec!["m1@example.com".into()],
    };
    for channel in [ReplyChannel::Auto, ReplyChannel::Private] {
        assert_eq!(
            route(&ticket, channel, at(5)),
            Ok((by_email.clone(), Private)),
            "{channel:?}"
        );
    }
    assert_eq!(
        route(&ticket, ReplyChannel::Public, at(5)),
        Ok((Target::Public { to: "t1".into() }, Public)),
        "the public thread, when asked for"
    );
    // An e-mail takes more than X's 280 characters; the public thread does not.
    assert_eq!(
        text_limit(&ticket, ReplyChannel::Auto, at(5)),
        MAX_REPLY_CHARS
    );
    assert_eq!(
        text_limit(&ticket, ReplyChannel::Public, at(5)),
        X_REPLY_CHARS
    );
    let reply = compose(&ticket, (by_email, Private), "hi".into(), "k", false, at(5));
    // The reply is the ticket's (a retry finds it under the ticket's scope); its target sends it.
    assert_eq!(reply.body.source, Source::X);
    assert_eq!(reply.body.dedupe_key(), "x:brand:socialcare:k");
    assert_eq!(reply.body.recipient_id.as_deref(), Some("ann@example.com"));
    assert_eq!(reply.body.subject.as_deref(), Some("Re: My internet"));
    assert_eq!(reply.body.in_reply_to.as_deref(), Some("m1@example.com"));
}
