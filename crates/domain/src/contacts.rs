//! What customers give in private (an e-mail address, a phone number, an order number) and
//! what it suggests: two customers who gave the same one are possibly one person, shown on
//! their tickets with one action to merge them. Only an exact e-mail match with an address a
//! customer writes from, authenticated by the mail service, merges on its own, and only for
//! the brand accounts that ask for it.

use crate::customer::{Contact, ContactKind, ContactNote, Customer};
use crate::customers::{MergeError, Merged, merge_customers};
use crate::ids::{CustomerId, TicketId};
use crate::message::{Channel, Direction, NormalizedMessage};
use crate::ports::{
    ContactStore, CustomerStore, IngestStore, MOST_NOTES_OF_A_CONTACT, PrivacyStore, StoreError,
    TicketCommands,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The most contacts one message gives: a message listing more is no one person's details.
pub const MOST_PER_MESSAGE: usize = 5;
/// The most other customers a ticket suggests.
pub const MOST_SUGGESTIONS: usize = 5;
/// Who merges when an authenticated address matches: the trail and the merge record name it.
pub const AUTOMATIC: &str = "socialcare";
/// The longest address taken (RFC 5321's path limit).
const MAX_ADDRESS_CHARS: usize = 254;
/// How many digits a phone number has (E.164: at most 15; fewer than 10 is a date or a code).
const PHONE_DIGITS: std::ops::RangeInclusive<usize> = 10..=15;
/// What a phone number is compared by: its last ten digits (a national number without its
/// trunk prefix), the same with or without the country code.
const PHONE_KEY_DIGITS: usize = 10;
const ORDER_CHARS: std::ops::RangeInclusive<usize> = 4..=24;

/// Whether `address` is one plain `local@domain.tld` (nothing that could end a header or name a
/// second address): what is taken as a sender, written as a recipient, configured as a mailbox,
/// found in a message.
pub fn is_address(address: &str) -> bool {
    let plain = address.chars().count() <= MAX_ADDRESS_CHARS
        && address
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>,;\"()[]\\".contains(c));
    match address.split_once('@') {
        Some((local, domain)) => {
            plain
                && !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }
        None => false,
    }
}

/// The contacts in `text`, each with how it was written: e-mail addresses, phone numbers (9 to
/// 15 digits, not a date) and order numbers (a code with a digit after the word "order"), at
/// most [`MOST_PER_MESSAGE`], each once.
pub fn contacts_in(text: &str) -> Vec<(Contact, String)> {
    let mut found: Vec<(Contact, String)> = Vec::new();
    let mut add = |contact: Contact, written: &str| {
        if !found.iter().any(|(c, _)| *c == contact) {
            found.push((contact, written.to_string()));
        }
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut orders = Vec::new();
    for (at, word) in words.iter().enumerate() {
        let bare = word.trim_matches(|c: char| "\"'()[]<>,;:!?.".contains(c));
        let address = bare.strip_prefix("mailto:").unwrap_or(bare);
        if address.contains('@') && is_address(address) {
            add(
                Contact {
                    kind: ContactKind::Email,
                    value: address.to_lowercase(),
                },
                address,
            );
        }
        if bare.eq_ignore_ascii_case("order")
            && let Some(code) = order_after(&words[at + 1..])
        {
            orders.push(code.to_uppercase());
            add(
                Contact {
                    kind: ContactKind::Order,
                    value: code.to_uppercase(),
                },
                code,
            );
        }
    }
    for written in phone_numbers(text) {
        let digits: String = written.chars().filter(char::is_ascii_digit).collect();
        // An order number of digits only is not also a phone number.
        if orders.contains(&digits) {
            continue;
        }
        let value = digits[digits.len() - PHONE_KEY_DIGITS..].to_string();
        add(
            Contact {
                kind: ContactKind::Phone,
                value,
            },
            written,
        );
    }
    found.truncate(MOST_PER_MESSAGE);
    found
}

/// The order number among the few words after "order": `order #A-1234`, `order number:
/// 88812`, `my order is 4455-99`.
fn order_after<'a>(words: &[&'a str]) -> Option<&'a str> {
    const FILLER: [&str; 8] = ["#", "no", "nr", "number", "num", "id", "is", "was"];
    for word in words.iter().take(3) {
        let code = word
            .trim_start_matches('#')
            .trim_end_matches(|c: char| ".,;:!?)".contains(c));
        let filler = code.trim_end_matches(':').to_lowercase();
        if code.is_empty() || FILLER.contains(&filler.as_str()) {
            continue;
        }
        let is_code = ORDER_CHARS.contains(&code.chars().count())
            && code.chars().any(|c| c.is_ascii_digit())
            && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        return is_code.then_some(code);
    }
    None
}

/// Runs of digits with a phone number's separators (spaces, dashes, dots, parentheses, a
/// leading `+`) that hold 9 to 15 digits, stand apart from letters, and are not a date.
fn phone_numbers(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut numbers = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let starts = c.is_ascii_digit() || ((c == '+' || c == '(') && next_is_digit(&chars, i));
        let after_word = i > 0 && {
            let before = chars[i - 1].1;
            before.is_alphanumeric() || "#-_/@".contains(before)
        };
        if !starts || after_word {
            i += 1;
            continue;
        }
        let mut end = i;
        // A phone number is written in at most 25 characters; a longer run is not one.
        while end < chars.len()
            && end - i <= 25
            && (chars[end].1.is_ascii_digit() || " -.()+".contains(chars[end].1))
        {
            end += 1;
        }
        // A run is followed by a letter (`12345678 items`) or ends in separators: trim those.
        let mut last = end;
        while last > i && !chars[last - 1].1.is_ascii_digit() {
            last -= 1;
        }
        let touches_word = end < chars.len()
            && (chars[end].1.is_alphanumeric() || "@_/".contains(chars[end].1))
            && last == end;
        let written = &text[start..chars.get(last).map_or(text.len(), |(at, _)| *at)];
        let digits = written.chars().filter(char::is_ascii_digit).count();
        if PHONE_DIGITS.contains(&digits)
            && !touches_word
            && !is_date(written)
            && !is_card_number(written)
            && !is_a_list(written)
        {
            numbers.push(written);
        }
        i = end.max(i + 1);
    }
    numbers
}

fn next_is_digit(chars: &[(usize, char)], i: usize) -> bool {
    chars.get(i + 1).is_some_and(|(_, c)| c.is_ascii_digit())
}

/// The groups of digits of a run, each with the separator just before it (none for the first).
fn groups(written: &str) -> Vec<(Option<char>, &str)> {
    let mut groups = Vec::new();
    let (mut before, mut start) = (None, None);
    for (at, c) in written.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(at),
            (true, Some(_)) => {}
            (false, Some(from)) => {
                groups.push((before, &written[from..at]));
                start = None;
                before = Some(c);
            }
            (false, None) => {}
        }
    }
    if let Some(from) = start {
        groups.push((before, &written[from..]));
    }
    groups
}

/// Whether a run of digits reads as a date (and a time): `03.12.2026 14:30`, `2026-12-03`: a
/// year and two short groups joined by dots or dashes (`+49 30 2019 4567` is a number).
fn is_date(written: &str) -> bool {
    let groups = groups(written);
    let year = |g: &str| g.len() == 4 && (g.starts_with("19") || g.starts_with("20"));
    let short = |g: &str| g.len() <= 2;
    let joined = |sep: Option<char>| matches!(sep, Some('.' | '-'));
    groups.windows(3).any(|w| {
        let dated = (short(w[0].1) && short(w[1].1) && year(w[2].1))
            || (year(w[0].1) && short(w[1].1) && short(w[2].1));
        dated && joined(w[1].0) && joined(w[2].0)
    })
}

/// Whether the digits pass the Luhn check at a card number's length (13 and more): a card
/// number, which is no way to reach anyone and is not kept.
fn is_card_number(written: &str) -> bool {
    let digits: Vec<u32> = written.chars().filter_map(|c| c.to_digit(10)).collect();
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| match (i % 2, *d * 2) {
            (1, doubled) if doubled > 9 => doubled - 9,
            (1, doubled) => doubled,
            _ => *d,
        })
        .sum();
    digits.len() >= 13 && sum.is_multiple_of(10)
}

/// Whether the run is a list of small numbers (`sizes 38 40 42 44 46`, `12.99 14.99`) rather
/// than a number in pairs, which begins with its trunk `0` or a `+` (`06 12 34 56 78`).
fn is_a_list(written: &str) -> bool {
    groups(written).iter().all(|(_, g)| g.len() <= 2)
        && !(written.starts_with('0') || written.starts_with('+'))
}

/// What a customer's message gives, each contact with how it was written and whether it is
/// verified: the address the author writes from (an e-mail's sender, an integrator's customer),
/// and the contacts in a private message. Nothing from the brand's messages, nor from the
/// words of a public post (anyone can write anyone's address there).
pub fn given(message: &NormalizedMessage) -> Vec<(Contact, String, bool)> {
    if message.direction != Direction::Inbound {
        return Vec::new();
    }
    let mut given: Vec<(Contact, String, bool)> = Vec::new();
    if let Some(address) = message.author.email.as_deref().filter(|a| is_address(a)) {
        let contact = Contact {
            kind: ContactKind::Email,
            value: address.to_lowercase(),
        };
        given.push((contact, address.to_string(), message.author.verified_email));
    }
    if message.channel == Channel::Private {
        for (contact, written) in contacts_in(&message.text) {
            if !given.iter().any(|(c, ..)| *c == contact) {
                given.push((contact, written, false));
            }
        }
    }
    given
}

/// The notes a stored message makes for its customer `customer_id`, on ticket `ticket_id`.
pub fn notes_of(
    message: &NormalizedMessage,
    customer_id: &CustomerId,
    ticket_id: &TicketId,
) -> Vec<ContactNote> {
    given(message)
        .into_iter()
        .map(|(contact, written, verified)| ContactNote {
            contact,
            written,
            customer_id: customer_id.clone(),
            ticket_id: ticket_id.clone(),
            noted_at: message.created_at,
            verified,
        })
        .collect()
}

/// Another customer who is possibly the same person, and what they have in common.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// The other customer, as they are now.
    pub customer: Customer,
    /// What both gave.
    pub contact: Contact,
    /// How this customer wrote it.
    pub written: String,
    /// The other customer's ticket where they gave it.
    pub their_ticket_id: TicketId,
}

/// The customers who gave a contact this customer gave, each once, at most
/// [`MOST_SUGGESTIONS`]: one merged away stands as whom they went into, one erased or merged
/// into this customer is left out.
pub async fn suggestions<S: ContactStore + CustomerStore>(
    store: &S,
    customer_id: &CustomerId,
) -> Result<Vec<Suggestion>, StoreError> {
    let mut suggested: Vec<Suggestion> = Vec::new();
    let mut notes = store.customer_contacts(customer_id).await?;
    // The latest given first: what the customer just wrote is the likeliest lead.
    notes.sort_by_key(|note| std::cmp::Reverse(note.noted_at));
    for note in notes {
        for theirs in named_by_few(store, &note.contact).await? {
            if suggested.len() == MOST_SUGGESTIONS {
                return Ok(suggested);
            }
            let Some(other) = current(store, &theirs.customer_id).await? else {
                continue;
            };
            if other.id == *customer_id || suggested.iter().any(|s| s.customer.id == other.id) {
                continue;
            }
            suggested.push(Suggestion {
                customer: other,
                contact: note.contact.clone(),
                written: note.written.clone(),
                their_ticket_id: theirs.ticket_id,
            });
        }
    }
    Ok(suggested)
}

/// Who gave `contact`, unless so many did that it suggests nobody in particular (the brand's
/// own address or phone number, which customers quote).
async fn named_by_few<S: ContactStore>(
    store: &S,
    contact: &Contact,
) -> Result<Vec<ContactNote>, StoreError> {
    let notes = store.contact_notes(contact).await?;
    Ok(match notes.len() >= MOST_NOTES_OF_A_CONTACT {
        true => Vec::new(),
        false => notes,
    })
}

/// The customer as they are now: following merges to whom they went into; `None` when erased.
async fn current<S: CustomerStore>(
    store: &S,
    id: &CustomerId,
) -> Result<Option<Customer>, StoreError> {
    let mut id = id.clone();
    // A merge chain is short; the bound keeps a damaged record from looping.
    for _ in 0..8 {
        if let Some(customer) = store.get_customer(&id).await? {
            return Ok(Some(customer));
        }
        match store.get_merge(&id).await? {
            Some(merge) => id = merge.into,
            None => return Ok(None),
        }
    }
    Ok(None)
}

/// Notes the contacts of a stored message ([`notes_of`]) and, where the message's account and
/// both customers' accounts are `linking` (they link customers by e-mail), merges the customers an exact e-mail match makes one person: both
/// write from the address, verified (an authenticated e-mail, an integrator's customer whose
/// address the brand's system checked). An address typed in a message is a claim, and only
/// suggests: merging on it would let anyone who writes "I am ann@example.com" into Ann's
/// history, and the replies meant for her. The customer seen first keeps everything. Noting
/// again is harmless, so a redelivered message notes (and merges) what a first delivery cut
/// short.
pub async fn note_message<S>(
    store: &S,
    message: &NormalizedMessage,
    (customer_id, ticket_id): (&CustomerId, &TicketId),
    rules: &crate::threading::Rules,
    now: DateTime<Utc>,
) -> Result<Vec<Merged>, StoreError>
where
    S: ContactStore + CustomerStore + IngestStore + TicketCommands + PrivacyStore,
{
    let linking = &rules.link_same_email;
    // The brand's own mailbox, written in a message, is nobody's contact.
    let mut notes: Vec<ContactNote> = notes_of(message, customer_id, ticket_id)
        .into_iter()
        .filter(|n| {
            !(n.contact.kind == ContactKind::Email && rules.mailboxes.contains(&n.contact.value))
        })
        .collect();
    if notes.is_empty() {
        return Ok(Vec::new());
    }
    // A note replaces the one of the same contact: an address they typed keeps the verified
    // mark an authenticated mail from it gave.
    if notes.iter().any(|n| !n.verified) {
        let held = store.customer_contacts(customer_id).await?;
        for note in notes.iter_mut().filter(|n| !n.verified) {
            note.verified = held.iter().any(|h| h.contact == note.contact && h.verified);
        }
    }
    store.note_contacts(&notes).await?;
    // Erased meanwhile (its erasure is recorded before it forgets the contacts): what this
    // noted after the erasure forgot goes too.
    if store.get_erasure(customer_id).await?.is_some() {
        store.forget_contacts(customer_id).await?;
        if message.source == crate::message::Source::Email {
            let address = crate::mail_feedback::email_contact(&message.author.id);
            store.forget_marks(&address).await?;
        }
        return Ok(Vec::new());
    }
    let mut merged = Vec::new();
    if !linking.contains(&message.account) {
        return Ok(merged);
    }
    for note in notes
        .iter()
        .filter(|n| n.contact.kind == ContactKind::Email)
    {
        for theirs in named_by_few(store, &note.contact).await? {
            if !(note.verified && theirs.verified) {
                continue;
            }
            // A merge of either cut short (after its record, before its end) is finished
            // first: their notes still name the customer merged away.
            for id in [customer_id, &theirs.customer_id] {
                if let Some(started) = store.get_merge(id).await?
                    && started.completed_at.is_none()
                {
                    match merge_customers(store, &started.into, id, &started.merged_by, now).await {
                        Ok(done) => merged.push(done),
                        Err(MergeError::Store(e)) => return Err(e),
                        Err(_) => {}
                    }
                }
            }
            let (Some(ours), Some(other)) = (
                current(store, customer_id).await?,
                current(store, &theirs.customer_id).await?,
            ) else {
                continue;
            };
            // Both customers' accounts ask for it: a merge reaches both.
            if ours.id == other.id
                || !linking.contains(&ours.account)
                || !linking.contains(&other.account)
            {
                continue;
            }
            let (into, away) = match (other.created_at, &other.id) < (ours.created_at, &ours.id) {
                true => (other, ours),
                false => (ours, other),
            };
            match merge_customers(store, &into.id, &away.id, AUTOMATIC, now).await {
                Ok(done) => merged.push(done),
                Err(MergeError::Store(e)) => return Err(e),
                // Merged meanwhile, or busy: the suggestion stays for an agent to act on.
                Err(_) => {}
            }
        }
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str) -> Vec<(ContactKind, String, String)> {
        contacts_in(text)
            .into_iter()
            .map(|(c, written)| (c.kind, c.value, written))
            .collect()
    }

    fn one(kind: ContactKind, value: &str, written: &str) -> (ContactKind, String, String) {
        (kind, value.to_string(), written.to_string())
    }

    #[test]
    fn finds_an_address_a_phone_number_and_an_order_number() {
        assert_eq!(
            found(
                "Hi, it's Ann.Lee@Example.com, call me on +1 (555) 123-4567. Order #A-12345 never came."
            ),
            vec![
                one(
                    ContactKind::Email,
                    "ann.lee@example.com",
                    "Ann.Lee@Example.com"
                ),
                one(ContactKind::Order, "A-12345", "A-12345"),
                one(ContactKind::Phone, "5551234567", "+1 (555) 123-4567"),
            ]
        );
    }

    #[test]
    fn one_number_written_two_ways_is_one_phone() {
        let national = found("ring 07700 900123 please");
        let international = found("ring +44 7700 900123 please");
        assert_eq!(
            national,
            vec![one(ContactKind::Phone, "7700900123", "07700 900123")]
        );
        assert_eq!(international[0].1, national[0].1);
    }

    #[test]
    fn order_numbers_after_their_word() {
        assert_eq!(
            found("my order number: 88812 and order no. 4455-99"),
            vec![
                one(ContactKind::Order, "88812", "88812"),
                one(ContactKind::Order, "4455-99", "4455-99"),
            ]
        );
        // An order number of nine digits is not also a phone number.
        assert_eq!(
            found("Order 123456789 is late"),
            vec![one(ContactKind::Order, "123456789", "123456789")]
        );
        // "order" without a code after it, or a word with no digit, is no order number.
        assert_eq!(found("I'd like to order pizza today"), vec![]);
    }

    #[test]
    fn dates_times_ids_and_short_numbers_are_not_contacts() {
        assert_eq!(
            found("since 03.12.2026 14:30, and 2026-12-03 10:00"),
            vec![]
        );
        assert_eq!(
            found("code 12345, room 4417, tweet 1869012345678901234"),
            vec![]
        );
        assert_eq!(found("serial AB123456789 or 123456789abc"), vec![]);
        assert_eq!(found("me@localhost and @acme_care and a@b"), vec![]);
    }

    #[test]
    fn lists_cards_and_numbers_in_pairs() {
        assert_eq!(
            found("sizes 38 40 42 44 46 and prices 12.99 14.99 19.99"),
            vec![]
        );
        assert_eq!(
            found("my card 3782 822463 10005 was charged"),
            vec![],
            "Amex, Luhn"
        );
        assert_eq!(
            found("call 06 12 34 56 78"),
            vec![one(ContactKind::Phone, "0612345678", "06 12 34 56 78")]
        );
        assert_eq!(
            found("Berlin: +49 30 2019 4567"),
            vec![one(ContactKind::Phone, "3020194567", "+49 30 2019 4567")]
        );
        // Two numbers of one national length differ by their area code.
        assert_ne!(found("212-555-0147"), found("312-555-0147"));
    }

    #[test]
    fn a_message_gives_five_contacts_at_most_each_once() {
        let text = (1..=8)
            .map(|i| format!("u{i}@example.com u{i}@example.com"))
            .collect::<Vec<_>>()
            .join(" ");
        let contacts = found(&text);
        assert_eq!(contacts.len(), MOST_PER_MESSAGE);
        assert_eq!(
            contacts[1],
            one(ContactKind::Email, "u2@example.com", "u2@example.com")
        );
    }

    #[test]
    fn nothing_panics_on_odd_text() {
        for text in [
            "",
            "+",
            "(",
            "+(",
            "order",
            "order #",
            "9".repeat(40).as_str(),
            "é1234567890é",
            "@@@",
            "order ##",
            "١٢٣٤٥٦٧٨٩٠",
        ] {
            let _ = contacts_in(text);
        }
    }
}
