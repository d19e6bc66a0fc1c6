//! E-mail: a raw RFC 5322 message (MIME, as SES stores it or as an integrator posts it) to one
//! of the brand's mailboxes, parsed with `mail-parser`, becomes a private message. Its id is
//! its `Message-ID`; it answers its `In-Reply-To` (or the last of its `References`); its
//! conversation is the thread's first message (the first of `References`). The text is the
//! plain part (or the HTML reduced to text) without the quoted history and signature, which
//! are kept beside it.

use chrono::{DateTime, Utc};
use mail_parser::{HeaderValue, MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};
pub use socialcare_domain::contacts::is_address;
use socialcare_domain::mail_feedback::MailFeedback;
use socialcare_domain::{
    AttachedFile, Attachment, Author, Channel, Direction, NormalizedMessage, Source,
};

/// The most of a message that is read: SES receives up to 40 MB; what a customer writes to
/// support fits in far less, and a bigger one is refused (kept in the bucket on AWS).
pub const MAX_EMAIL_BYTES: usize = 10 * 1024 * 1024;
/// What of a message goes on the ticket at most: the text, and apart what was trimmed from
/// it (the rest of a very long mail stays in the raw message).
pub const MAX_TEXT_CHARS: usize = 64 * 1024;
/// And in bytes.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// What of a message's words (its text, what was trimmed, its HTML) is stored at most, in
/// bytes: with the rest, a message stays within a queue message (256 KB) and an item
/// (400 KB). The HTML is left out first.
const MAX_STORED_BYTES: usize = 160 * 1024;
/// A subject's most (RFC 5322's line limit).
const MAX_SUBJECT_CHARS: usize = 998;
/// An id's most, as the integrator webhook's.
const MAX_ID_CHARS: usize = 256;
/// How far a sender's `Date` may be from when the message came: beyond, it is not believed.
const DATE_BEFORE: chrono::Duration = chrono::Duration::days(7);
const DATE_AFTER: chrono::Duration = chrono::Duration::minutes(5);

mod report;

/// Why a message was refused (and kept for inspection, not stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("the message has {size} bytes; at most {MAX_EMAIL_BYTES} are taken")]
    TooLarge { size: usize },
    #[error("the body is not an e-mail message (RFC 5322 headers and body)")]
    NotMime,
    #[error("the message has no From address")]
    NoFrom,
    #[error("the message is not addressed to a configured mailbox ({0})")]
    NotForUs(String),
    /// An out-of-office answer, a delivery report: no person wrote it, and answering it could
    /// loop.
    #[error("the message was sent automatically ({0})")]
    Automatic(String),
    /// From a mailbox, without the receiving service having authenticated that sender: anyone
    /// can write a mailbox's address in From.
    #[error("the message claims to be from the mailbox {0}, unauthenticated")]
    Unauthenticated(String),
}

/// Whether a message from a mailbox address may be taken as the brand's own: the receiving
/// service authenticated the sender (SES's SPF or DKIM verdict with DMARC passing), or the
/// message came through a signed webhook from the brand's own system.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    /// The receiving service checked the sender (SES's verdicts): a customer's address is then
    /// verified too, and may merge customers on its own.
    Authenticated,
    /// The brand's own system passed the message on, signed: it is believed to be from a
    /// mailbox, but a customer's address is only as good as the relay's checks, unknown here.
    Relayed,
    Unverified,
}

/// The most files one message keeps; the rest are listed, not kept.
pub const MOST_ATTACHMENTS: usize = 20;
/// A file name's most characters.
const MAX_FILE_NAME_CHARS: usize = 200;

/// A file that came with a message, to be kept apart from it (under its SHA-256) before the
/// message is queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileToKeep {
    pub sha256: String,
    pub bytes: Vec<u8>,
}

/// Where the console serves a kept file.
pub fn attachment_path(sha256: &str) -> String {
    format!("/attachments/{sha256}")
}

/// What a raw message is: one a person wrote, or a report about one a mailbox sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mail {
    Message(Box<NormalizedMessage>, Vec<FileToKeep>),
    Report(MailFeedback),
}

/// A bounce or complaint about a message a mailbox sent ([`report`]), or else the message as
/// [`parse_email_with_files`] reads it.
pub fn read_mail(
    raw: &[u8],
    mailboxes: &[String],
    envelope_to: Option<&str>,
    received: (DateTime<Utc>, Sender),
) -> Result<Mail, EmailError> {
    let message = parsed(raw)?;
    if let Some(feedback) = report::feedback_of(&message, mailboxes, envelope_to)? {
        return Ok(Mail::Report(feedback));
    }
    message_of(raw, &message, mailboxes, envelope_to, received)
        .map(|(message, files)| Mail::Message(Box::new(message), files))
}

/// [`parse_email_with_files`] without the files' contents (listed on the message only).
pub fn parse_email(
    raw: &[u8],
    mailboxes: &[String],
    envelope_to: Option<&str>,
    received: (DateTime<Utc>, Sender),
) -> Result<NormalizedMessage, EmailError> {
    parse_email_with_files(raw, mailboxes, envelope_to, received).map(|(message, _)| message)
}

/// The message `raw` for whichever of `mailboxes` (the brand's addresses, lowercase) it was
/// delivered to: `envelope_to` when the receiving service says (SES's recipients), else the
/// first mailbox among its `Delivered-To`, `X-Original-To`, `To` and `Cc`. Sent by a mailbox
/// (the brand answering from its own mail client, copied to itself), it is the brand's own.
/// Its attachments are listed on the message (name, type, size, where the console serves them)
/// and answered beside it, each once, to be kept.
pub fn parse_email_with_files(
    raw: &[u8],
    mailboxes: &[String],
    envelope_to: Option<&str>,
    received: (DateTime<Utc>, Sender),
) -> Result<(NormalizedMessage, Vec<FileToKeep>), EmailError> {
    message_of(raw, &parsed(raw)?, mailboxes, envelope_to, received)
}

/// `raw` parsed, unless it is too big or no e-mail.
fn parsed(raw: &[u8]) -> Result<mail_parser::Message<'_>, EmailError> {
    if raw.len() > MAX_EMAIL_BYTES {
        return Err(EmailError::TooLarge { size: raw.len() });
    }
    if !starts_with_a_header(raw) {
        return Err(EmailError::NotMime);
    }
    MessageParser::default()
        .parse(raw)
        .filter(|m| !m.parts.is_empty() && !m.parts[0].headers.is_empty())
        .ok_or(EmailError::NotMime)
}

/// [`parse_email_with_files`] of the message `raw` parsed.
fn message_of(
    raw: &[u8],
    message: &mail_parser::Message,
    mailboxes: &[String],
    envelope_to: Option<&str>,
    (received_at, sender): (DateTime<Utc>, Sender),
) -> Result<(NormalizedMessage, Vec<FileToKeep>), EmailError> {
    let from = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| Some((addr.address()?.trim().to_lowercase(), addr.name())))
        .filter(|(address, _)| is_address(address))
        .ok_or(EmailError::NoFrom)?;
    if let Some(why) = automatic(message, &from.0) {
        return Err(EmailError::Automatic(why));
    }
    let account = mailbox_of(message, mailboxes, envelope_to, Some(&from.0))?;
    let addressed = addressed_to(message);
    let (address, name) = from;
    let direction = match address == account {
        true => Direction::Outbound,
        false => Direction::Inbound,
    };
    if mailboxes.contains(&address) && sender == Sender::Unverified {
        return Err(EmailError::Unauthenticated(address));
    }
    // The brand's own message is to its first other recipient: the customer.
    let recipient = match direction {
        Direction::Outbound => addressed.iter().find(|to| **to != account).cloned(),
        Direction::Inbound => Some(account.clone()),
    };
    let ids = |value: &HeaderValue| -> Vec<String> {
        value
            .as_text_list()
            .map(|list| {
                list.iter()
                    .map(|id| bare(id).to_string())
                    .filter(|id| is_id(id))
                    .take(100)
                    .collect()
            })
            .unwrap_or_default()
    };
    let references = ids(message.references());
    let in_reply_to = ids(message.in_reply_to())
        .into_iter()
        .next()
        .or_else(|| references.last().cloned());
    // Without a Message-ID, the message's own digest: the same bytes delivered again are the
    // same message.
    let external_id = message
        .message_id()
        .map(|id| bare(id).to_string())
        .filter(|id| is_id(id))
        .unwrap_or_else(|| format!("sha256:{}", hex::encode(Sha256::digest(raw))));
    let conversation = references
        .first()
        .cloned()
        .or_else(|| in_reply_to.clone())
        .unwrap_or_else(|| external_id.clone());
    // Without control characters but line ends and tabs: they mean nothing on a ticket, and
    // each takes six bytes in JSON.
    let body: String = message
        .body_text(0)
        .map(|text| text.replace("\r\n", "\n"))
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let (text, quoted) = trim_quoted(&body);
    let (text, quoted) = (
        capped(text, MAX_TEXT_CHARS),
        quoted.map(|q| capped(q, MAX_TEXT_CHARS)),
    );
    // The sender's clock, within reason: a date far off would move the ticket's history.
    let created_at = message
        .date()
        .and_then(|date| DateTime::from_timestamp(date.to_timestamp(), 0))
        .filter(|at| *at >= received_at - DATE_BEFORE && *at <= received_at + DATE_AFTER)
        .unwrap_or(received_at);
    let (attachments, files) = attached(message);
    let html = safe_html(message).filter(|html| {
        text.len() + quoted.as_ref().map_or(0, String::len) + html.len() <= MAX_STORED_BYTES
    });
    // The address the service authenticated is the one sender: with two From fields, or two
    // addresses in one, which it checked is not known.
    let one_sender = message.header_values(mail_parser::HeaderName::From).count() == 1
        && message.from().is_some_and(|from| from.iter().count() == 1);
    let message = NormalizedMessage {
        source: Source::Email,
        account,
        channel: Channel::Private,
        direction,
        external_id,
        in_reply_to,
        thread_id: None,
        conversation_id: Some(conversation),
        recipient_id: recipient,
        author: Author {
            id: address.clone(),
            name: name.map(|n| n.trim().to_string()).filter(|n| !n.is_empty()),
            handle: None,
            email: Some(address),
            followers: None,
            verified_email: sender == Sender::Authenticated && one_sender,
        },
        text,
        attachments,
        created_at,
        callback_url: None,
        found_by: None,
        subject: message
            .subject()
            .map(|s| capped(s.trim().replace(char::is_control, " "), MAX_SUBJECT_CHARS))
            .filter(|s| !s.is_empty()),
        html,
        quoted,
    };
    Ok((message, files))
}

/// The message's HTML part as sent (not one made of its text), made safe to show with
/// `ammonia`: no scripts, styles, images (a remote one tells the sender the mail was read, and
/// from where), forms or frames; links only to `http`, `https` and `mailto`, opened without
/// a referrer. None when it has none, or when what is left is over 64 KB.
fn safe_html(message: &mail_parser::Message) -> Option<String> {
    let part = message
        .html_body
        .first()
        .and_then(|index| message.part(*index))
        .filter(|part| matches!(part.body, mail_parser::PartType::Html(_)))?;
    let html = part.text_contents()?;
    let safe = ammonia::Builder::default()
        .rm_tags(["img"])
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .url_relative(ammonia::UrlRelative::Deny)
        .link_rel(Some("noopener noreferrer nofollow"))
        // Out of the frame it is shown in, into a tab of its own.
        .set_tag_attribute_value("a", "target", "_blank")
        .clean(html)
        .to_string();
    let safe = safe.trim();
    (!safe.is_empty() && safe.len() <= 64 * 1024).then(|| safe.to_string())
}

/// The message's attached files: each listed, the first [`MOST_ATTACHMENTS`] kept (one copy of
/// the same file sent twice).
fn attached(message: &mail_parser::Message) -> (Vec<Attachment>, Vec<FileToKeep>) {
    let mut listed = Vec::new();
    let mut files: Vec<FileToKeep> = Vec::new();
    for part in message.attachments() {
        let bytes = part.contents();
        let sha256 = hex::encode(Sha256::digest(bytes));
        let content_type = part
            .content_type()
            .map(|ct| match ct.subtype() {
                Some(sub) => format!("{}/{sub}", ct.ctype()),
                None => ct.ctype().to_string(),
            })
            .map(|ct| ct.to_ascii_lowercase())
            .filter(|ct| ct.len() <= 127 && ct.bytes().all(|b| b.is_ascii_graphic()))
            .unwrap_or_else(|| "application/octet-stream".into());
        let kept = listed.len() < MOST_ATTACHMENTS;
        if kept && !files.iter().any(|f| f.sha256 == sha256) {
            files.push(FileToKeep {
                sha256: sha256.clone(),
                bytes: bytes.to_vec(),
            });
        }
        listed.push(Attachment {
            kind: match content_type.split('/').next() {
                Some(kind @ ("image" | "video" | "audio")) => kind.to_string(),
                _ => "file".to_string(),
            },
            url: match kept {
                true => attachment_path(&sha256),
                false => String::new(),
            },
            file: Some(AttachedFile {
                name: file_name(part.attachment_name(), &content_type),
                content_type,
                size: bytes.len() as u64,
                sha256,
            }),
        });
    }
    (listed, files)
}

/// A file's name as shown and offered for download: its last path segment, without control
/// characters or quotes, at most 200 characters; `attachment` when it has none.
fn file_name(given: Option<&str>, content_type: &str) -> String {
    let last = given
        .unwrap_or_default()
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    let clean: String = last
        .chars()
        .filter(|c| !c.is_control() && !"\"<>:*?|".contains(*c))
        .take(MAX_FILE_NAME_CHARS)
        .collect();
    match clean.trim().trim_start_matches('.') {
        "" => match content_type.split_once('/') {
            Some((_, sub)) if sub.chars().all(|c| c.is_ascii_alphanumeric()) => {
                format!("attachment.{sub}")
            }
            _ => "attachment".to_string(),
        },
        name => name.to_string(),
    }
}

/// Whom the message is addressed to: its `Delivered-To`, `X-Original-To`, `To` and `Cc`, in
/// that order, lowercase.
fn addressed_to(message: &mail_parser::Message) -> Vec<String> {
    ["Delivered-To", "X-Original-To"]
        .iter()
        .filter_map(|name| message.header_raw(*name))
        .map(|value| bare(value).to_lowercase())
        .chain(
            [message.to(), message.cc()]
                .into_iter()
                .flatten()
                .flat_map(|list| list.iter())
                .filter_map(|addr| addr.address())
                .map(|address| address.trim().to_lowercase()),
        )
        .collect()
}

/// The mailbox a message came to: `envelope_to` when the receiving service says, else the
/// first mailbox it is addressed to, else its sender `from` when that is a mailbox.
fn mailbox_of(
    message: &mail_parser::Message,
    mailboxes: &[String],
    envelope_to: Option<&str>,
    from: Option<&str>,
) -> Result<String, EmailError> {
    let addressed = addressed_to(message);
    match envelope_to {
        Some(to) => Some(to.trim().to_lowercase()).filter(|to| mailboxes.contains(to)),
        None => addressed
            .iter()
            .map(String::as_str)
            .find(|to| mailboxes.iter().any(|m| m == to))
            .or(from.filter(|from| mailboxes.iter().any(|m| m == from)))
            .map(str::to_string),
    }
    .ok_or_else(|| {
        EmailError::NotForUs(match envelope_to {
            Some(to) => format!("delivered to {to}"),
            None => format!("addressed to {}", addressed.join(", ")),
        })
    })
}

/// Whether the message begins with a header field (`Name: value`, RFC 5322 §2.2): what does
/// not is no e-mail, however a lenient parser reads it.
fn starts_with_a_header(raw: &[u8]) -> bool {
    let first = raw.split(|b| *b == b'\n').next().unwrap_or_default();
    match first.iter().position(|b| *b == b':') {
        Some(colon) if colon > 0 => first[..colon].iter().all(|b| (33..=126).contains(b)),
        _ => false,
    }
}

/// Whether `id` can be a message's id: not empty, at most 256 characters, printable.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_ID_CHARS
        && id
            .chars()
            .all(|c| c.is_ascii_graphic() && !"<>".contains(c))
}

/// `text` cut to `most` characters, and to `MAX_TEXT_BYTES` bytes (at a character's
/// boundary): 64 K characters of four bytes each would not fit a queue message.
fn capped(text: String, most: usize) -> String {
    let mut end = match text.char_indices().nth(most) {
        Some((at, _)) => at,
        None => text.len(),
    }
    .min(MAX_TEXT_BYTES);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    match end == text.len() {
        true => text,
        false => text[..end].to_string(),
    }
}

/// Why a message was sent by a machine, if it was: an automatic answer (RFC 3834
/// `Auto-Submitted`, `X-Autoreply`, `Precedence: auto_reply`), or a delivery report (a bounce:
/// `multipart/report`, or from the mailer daemon).
fn automatic(message: &mail_parser::Message, from: &str) -> Option<String> {
    let header = |name: &str| message.header_raw(name).map(|v| v.trim().to_lowercase());
    if let Some(value) = header("Auto-Submitted").filter(|v| v != "no") {
        return Some(format!("Auto-Submitted: {value}"));
    }
    if header("X-Autoreply").is_some() || header("X-Autorespond").is_some() {
        return Some("an autoresponder's header".into());
    }
    if let Some(value) = header("Precedence").filter(|v| v == "auto_reply") {
        return Some(format!("Precedence: {value}"));
    }
    let report = message.content_type().is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct
                .subtype()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
    });
    let daemon = ["mailer-daemon@", "postmaster@"]
        .iter()
        .any(|prefix| from.starts_with(prefix));
    (report || daemon).then(|| "a delivery report".to_string())
}

/// An id or address without its angle brackets and spaces.
fn bare(value: &str) -> &str {
    value
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
}

/// The new text of a reply and what follows it: the quoted history (`On … wrote:`, Outlook's
/// `-----Original Message-----` or `From:`/`Sent:` block, or a last run of `>` lines) and the
/// signature (after a `-- ` line). Nothing is trimmed when nothing would be left.
pub fn trim_quoted(body: &str) -> (String, Option<String>) {
    let lines: Vec<&str> = body.lines().collect();
    // Where the last run of quoted (or blank) lines begins, found once from the end: every
    // line from there on is quoted.
    let mut tail = lines.len();
    while tail > 0 && {
        let line = lines[tail - 1].trim_start();
        line.is_empty() || line.starts_with('>')
    } {
        tail -= 1;
    }
    let starts_quote = |i: usize| {
        let raw = lines[i].trim_end_matches('\r');
        let line = raw.trim();
        let next = lines.get(i + 1).map(|l| l.trim()).unwrap_or("");
        (line.starts_with("On ") && (line.ends_with("wrote:") || next.ends_with("wrote:")))
            || line.starts_with("-----Original Message-----")
            || (line.len() >= 20 && line.bytes().all(|b| b == b'_'))
            || (line.starts_with("From:") && next.starts_with("Sent:"))
            // The signature separator is exactly "-- " (RFC 3676).
            || raw == "-- "
            || (i >= tail && line.starts_with('>'))
    };
    let cut = (0..lines.len()).find(|i| starts_quote(*i));
    match cut {
        Some(at) if lines[..at].iter().any(|l| !l.trim().is_empty()) => {
            let text = lines[..at].join("\n").trim_end().to_string();
            let quoted = lines[at..].join("\n").trim().to_string();
            (text, Some(quoted).filter(|q| !q.is_empty()))
        }
        _ => (body.trim().to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const MAILBOX: &str = "support@acme.example";

    fn mailboxes() -> Vec<String> {
        vec![MAILBOX.to_string()]
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
    }

    const FIRST: &str = "From: \"Ann Lee\" <Ann.Lee@Example.com>\r\n\
To: Acme Support <support@acme.example>\r\n\
Subject: My fibre is down again\r\n\
Date: Thu, 03 Dec 2026 09:00:00 +0000\r\n\
Message-ID: <CAF1@mail.example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Hi, the fibre has been down since Monday.\r\n\
\r\n\
-- \r\n\
Ann Lee\r\n\
Sent from my phone\r\n\
--b1\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<p>Hi, the fibre has been down since <b>Monday</b>.</p>\r\n\
--b1--\r\n";

    #[test]
    fn a_first_message_is_a_private_message_to_the_mailbox_without_its_signature() {
        let message = parse_email(
            FIRST.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.source, Source::Email);
        assert_eq!(message.account, MAILBOX);
        assert_eq!(message.channel, Channel::Private);
        assert_eq!(message.direction, Direction::Inbound);
        assert_eq!(message.external_id, "CAF1@mail.example.com");
        assert_eq!(message.in_reply_to, None);
        assert_eq!(
            message.conversation_id.as_deref(),
            Some("CAF1@mail.example.com")
        );
        assert_eq!(message.author.id, "ann.lee@example.com");
        assert_eq!(message.author.email.as_deref(), Some("ann.lee@example.com"));
        assert_eq!(message.author.name.as_deref(), Some("Ann Lee"));
        assert_eq!(message.text, "Hi, the fibre has been down since Monday.");
        assert_eq!(
            message.quoted.as_deref(),
            Some("-- \nAnn Lee\nSent from my phone")
        );
        assert_eq!(message.subject.as_deref(), Some("My fibre is down again"));
        assert_eq!(
            message.created_at,
            Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).unwrap()
        );
    }

    /// A screenshot (base64), the same screenshot again, and a file whose name climbs paths.
    const WITH_FILES: &str = "From: Ann Lee <ann@example.com>\r\n\
To: support@acme.example\r\n\
Subject: Screenshot of the chat\r\n\
Message-ID: <files@mail.example.com>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"m1\"\r\n\
\r\n\
--m1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Here is what your agent said on X.\r\n\
--m1\r\n\
Content-Type: image/png; name=\"chat.png\"\r\n\
Content-Disposition: attachment; filename=\"chat.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--m1\r\n\
Content-Type: image/png\r\n\
Content-Disposition: attachment; filename=\"again.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
iVBORw0KGgo=\r\n\
--m1\r\n\
Content-Type: Application/PDF\r\n\
Content-Disposition: attachment; filename=\"../../etc/\\\"bill\\\".pdf\"\r\n\
\r\n\
%PDF-1.4 the bill\r\n\
--m1--\r\n";

    #[test]
    fn attached_files_are_listed_and_kept_once_each_under_their_digest() {
        let (message, files) = parse_email_with_files(
            WITH_FILES.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.text, "Here is what your agent said on X.");
        let png = b"\x89PNG\r\n\x1a\n";
        let png_digest = hex::encode(Sha256::digest(png));
        let pdf = b"%PDF-1.4 the bill";
        let pdf_digest = hex::encode(Sha256::digest(pdf));
        let listed: Vec<(&str, &str, &str, &str, u64)> = message
            .attachments
            .iter()
            .map(|a| {
                let file = a.file.as_ref().unwrap();
                (
                    a.kind.as_str(),
                    a.url.as_str(),
                    file.name.as_str(),
                    file.content_type.as_str(),
                    file.size,
                )
            })
            .collect();
        let png_url = format!("/attachments/{png_digest}");
        let pdf_url = format!("/attachments/{pdf_digest}");
        assert_eq!(
            listed,
            vec![
                ("image", png_url.as_str(), "chat.png", "image/png", 8),
                ("image", png_url.as_str(), "again.png", "image/png", 8),
                ("file", pdf_url.as_str(), "bill.pdf", "application/pdf", 17),
            ]
        );
        assert_eq!(
            files,
            vec![
                FileToKeep {
                    sha256: png_digest,
                    bytes: png.to_vec()
                },
                FileToKeep {
                    sha256: pdf_digest,
                    bytes: pdf.to_vec()
                },
            ]
        );
        // A message without attachments lists none: its HTML part is its body.
        let (plain, none) = parse_email_with_files(
            FIRST.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!((plain.attachments, none), (vec![], vec![]));
    }

    #[test]
    fn only_one_sender_the_mail_service_checked_is_a_verified_address() {
        let verified = |raw: &str, sender| {
            parse_email(raw.as_bytes(), &mailboxes(), None, (now(), sender))
                .unwrap()
                .author
                .verified_email
        };
        assert!(verified(FIRST, Sender::Authenticated));
        assert!(
            !verified(FIRST, Sender::Relayed),
            "a relay's checks are unknown"
        );
        assert!(!verified(FIRST, Sender::Unverified));
        let two_fields = FIRST.replacen("From:", "From: mallory@example.net\r\nFrom:", 1);
        assert!(!verified(&two_fields, Sender::Authenticated));
        let two_addresses = FIRST.replacen(
            "From: \"Ann Lee\" <Ann.Lee@Example.com>",
            "From: Ann.Lee@Example.com, mallory@example.net",
            1,
        );
        assert!(!verified(&two_addresses, Sender::Authenticated));
    }

    #[test]
    fn file_names_lose_paths_and_what_could_break_a_header() {
        assert_eq!(
            file_name(Some("C:\\Users\\ann\\bill.pdf"), "application/pdf"),
            "bill.pdf"
        );
        assert_eq!(
            file_name(Some("a\r\nContent-Type: text/html\".x"), "text/plain"),
            "html.x"
        );
        assert_eq!(file_name(Some("..."), "image/png"), "attachment.png");
        assert_eq!(file_name(None, "application/vnd.ms-excel"), "attachment");
        assert_eq!(
            file_name(Some(&"é".repeat(500)), "text/plain")
                .chars()
                .count(),
            200
        );
    }

    #[test]
    fn a_reply_answers_its_in_reply_to_in_the_threads_conversation_without_the_history() {
        let raw = "From: ann.lee@example.com\r\n\
To: support@acme.example\r\n\
Subject: Re: My fibre is down again\r\n\
Date: Thu, 03 Dec 2026 11:00:00 +0100\r\n\
Message-ID: <CAF3@mail.example.com>\r\n\
In-Reply-To: <reply-1@acme.example>\r\n\
References: <CAF1@mail.example.com> <reply-1@acme.example>\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Still down, and I work from home.\r\n\
\r\n\
On Thu, 3 Dec 2026 at 09:30, Acme Support <support@acme.example> wrote:\r\n\
> Sorry about that, we are looking into it.\r\n\
>\r\n\
> > Hi, the fibre has been down since Monday.\r\n";
        let message = parse_email(
            raw.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.in_reply_to.as_deref(), Some("reply-1@acme.example"));
        assert_eq!(
            message.conversation_id.as_deref(),
            Some("CAF1@mail.example.com")
        );
        assert_eq!(message.text, "Still down, and I work from home.");
        assert!(
            message
                .quoted
                .as_deref()
                .unwrap()
                .starts_with("On Thu, 3 Dec 2026 at 09:30, Acme Support")
        );
        assert_eq!(
            message.created_at,
            Utc.with_ymd_and_hms(2026, 12, 3, 10, 0, 0).unwrap()
        );
    }

    #[test]
    fn html_only_mail_is_read_as_text_and_outlook_history_is_cut() {
        let raw = "From: Bob <bob@example.org>\r\n\
To: someone@else.example, Support <SUPPORT@acme.example>\r\n\
Subject: =?utf-8?q?Facture_doubl=C3=A9e?=\r\n\
Message-ID: <outlook-7@example.org>\r\n\
Content-Type: text/html; charset=utf-8\r\n\
\r\n\
<html><body><p>My bill doubled.</p><p>-----Original Message-----</p><p>From: Acme</p></body></html>\r\n";
        let message = parse_email(
            raw.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.account, MAILBOX, "found among the To addresses");
        assert_eq!(message.subject.as_deref(), Some("Facture doublée"));
        assert_eq!(message.text, "My bill doubled.");
        assert!(message.quoted.unwrap().contains("Original Message"));
        assert_eq!(message.created_at, now(), "no Date: when it was received");
    }

    #[test]
    fn the_brands_own_copy_is_outbound_to_the_customer_and_a_missing_id_is_the_digest() {
        let raw = "From: support@acme.example\r\n\
To: ann.lee@example.com\r\n\
Subject: Re: My fibre is down again\r\n\
In-Reply-To: <CAF1@mail.example.com>\r\n\
\r\n\
We are on it.\r\n";
        assert_eq!(
            parse_email(
                raw.as_bytes(),
                &mailboxes(),
                None,
                (now(), Sender::Unverified)
            ),
            Err(EmailError::Unauthenticated(MAILBOX.into())),
            "anyone can write the mailbox in From"
        );
        let message = parse_email(
            raw.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Authenticated),
        )
        .unwrap();
        assert_eq!(message.direction, Direction::Outbound);
        assert_eq!(message.recipient_id.as_deref(), Some("ann.lee@example.com"));
        assert!(
            message.external_id.starts_with("sha256:"),
            "{}",
            message.external_id
        );
        let again = parse_email(
            raw.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Authenticated),
        )
        .unwrap();
        assert_eq!(again.external_id, message.external_id);
    }

    #[test]
    fn what_is_not_mail_for_a_mailbox_is_refused_with_why() {
        assert_eq!(
            parse_email(
                b"just some text",
                &mailboxes(),
                None,
                (now(), Sender::Unverified)
            ),
            Err(EmailError::NotMime)
        );
        assert_eq!(
            parse_email(b"", &mailboxes(), None, (now(), Sender::Unverified)),
            Err(EmailError::NotMime)
        );
        let no_from = "To: support@acme.example\r\nSubject: hi\r\n\r\nhello\r\n";
        assert_eq!(
            parse_email(
                no_from.as_bytes(),
                &mailboxes(),
                None,
                (now(), Sender::Unverified)
            ),
            Err(EmailError::NoFrom)
        );
        let elsewhere = "From: a@b.example\r\nTo: sales@acme.example\r\n\r\nhello\r\n";
        assert!(matches!(
            parse_email(elsewhere.as_bytes(), &mailboxes(), None, (now(), Sender::Unverified)),
            Err(EmailError::NotForUs(to)) if to.contains("sales@acme.example")
        ));
        // The receiving service's recipient decides (a Bcc is in no header).
        let bcc = "From: a@b.example\r\nTo: list@else.example\r\nMessage-ID: <x@b>\r\n\r\nhi\r\n";
        let message = parse_email(
            bcc.as_bytes(),
            &mailboxes(),
            Some(MAILBOX),
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.account, MAILBOX);
        let big = vec![b'a'; MAX_EMAIL_BYTES + 1];
        assert_eq!(
            parse_email(&big, &mailboxes(), None, (now(), Sender::Unverified)),
            Err(EmailError::TooLarge {
                size: MAX_EMAIL_BYTES + 1
            })
        );
    }

    #[test]
    fn the_html_part_is_kept_made_safe_and_only_when_there_is_one() {
        let html = "From: ann@example.com\r\nTo: support@acme.example\r\nMessage-ID: <h1@example.com>\r\n\
             MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"a\"\r\n\r\n\
             --a\r\nContent-Type: text/plain\r\n\r\nMy bill is wrong.\r\n\
             --a\r\nContent-Type: text/html\r\n\r\n<html><head><style>p{color:red}</style>\
             <script>alert(1)</script></head><body><p style=\"color:red\" onclick=\"alert(2)\">My <b>bill</b> is wrong.</p>\
             <img src=\"https://tracker.example/pixel.gif\"><a href=\"javascript:alert(3)\">click</a> \
             <a href=\"https://acme.example/bill\">my bill</a><form action=\"https://evil.example\"><input name=q></form>\
             <iframe src=\"https://evil.example\"></iframe></body></html>\r\n--a--\r\n";
        let message = parse_email(
            html.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.text, "My bill is wrong.");
        assert_eq!(
            message.html.as_deref(),
            Some(
                "<p>My <b>bill</b> is wrong.</p><a target=\"_blank\" rel=\"noopener noreferrer nofollow\">click</a> \
                 <a href=\"https://acme.example/bill\" target=\"_blank\" rel=\"noopener noreferrer nofollow\">my bill</a>"
            )
        );
        // A text and a quote of 4-byte characters are cut to 64 KB each, at a character; beside
        // them a long HTML part is left out: the message must fit a queue message.
        let wide = "\u{1F600}".repeat(45_000);
        let long = html
            .replace(
                "Content-Type: text/plain\r\n\r\nMy bill is wrong.",
                &format!(
                    "Content-Type: text/plain; charset=utf-8\r\n\r\n{wide}\r\n\r\nOn Mon, Acme wrote:\r\n> {wide}"
                ),
            )
            .replace("</body>", &format!("<p>{}</p></body>", "x".repeat(40_000)));
        let message = parse_email(
            long.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.text.len(), 65_536, "16,384 characters of 4 bytes");
        assert_eq!(message.text.chars().count(), 16_384);
        let quoted = message.quoted.as_ref().map_or(0, String::len);
        assert!((65_530..=65_536).contains(&quoted), "{quoted}");
        assert_eq!(message.html, None);
        // A plain mail has no HTML made up for it.
        let plain =
            "From: ann@example.com\r\nTo: support@acme.example\r\n\r\nMy bill <b>is</b> wrong.\r\n";
        let message = parse_email(
            plain.as_bytes(),
            &mailboxes(),
            None,
            (now(), Sender::Unverified),
        )
        .unwrap();
        assert_eq!(message.html, None);
    }

    #[test]
    fn machines_dates_and_sizes_are_not_believed() {
        let parse = |raw: &str| {
            parse_email(
                raw.as_bytes(),
                &mailboxes(),
                None,
                (now(), Sender::Unverified),
            )
        };
        for (headers, says) in [
            (
                "Auto-Submitted: auto-replied\r\n",
                "Auto-Submitted: auto-replied",
            ),
            ("X-Autoreply: yes\r\n", "autoresponder"),
            ("Precedence: auto_reply\r\n", "Precedence"),
            (
                "Content-Type: multipart/report; report-type=delivery-status; boundary=x\r\n",
                "delivery report",
            ),
        ] {
            let raw =
                format!("From: ann@example.com\r\nTo: {MAILBOX}\r\n{headers}\r\nOut of office\r\n");
            assert!(
                matches!(parse(&raw), Err(EmailError::Automatic(why)) if why.contains(says)),
                "{headers}"
            );
        }
        let bounce =
            format!("From: MAILER-DAEMON@mx.example.com\r\nTo: {MAILBOX}\r\n\r\nundeliverable\r\n");
        assert!(matches!(parse(&bounce), Err(EmailError::Automatic(_))));
        let human =
            format!("From: ann@example.com\r\nTo: {MAILBOX}\r\nAuto-Submitted: no\r\n\r\nhi\r\n");
        assert!(parse(&human).is_ok());
        // A Date of 1970 or next year is the time it came.
        for date in [
            "Thu, 01 Jan 1970 00:00:00 +0000",
            "Fri, 03 Dec 2027 09:00:00 +0000",
        ] {
            let raw =
                format!("From: ann@example.com\r\nTo: {MAILBOX}\r\nDate: {date}\r\n\r\nhi\r\n");
            assert_eq!(parse(&raw).unwrap().created_at, now(), "{date}");
        }
        // An address that is not one, an id too long for one: no From, a digest id.
        let odd = format!("From: ann@localhost\r\nTo: {MAILBOX}\r\n\r\nhi\r\n");
        assert_eq!(parse(&odd), Err(EmailError::NoFrom));
        let long_id = format!(
            "From: ann@example.com\r\nTo: {MAILBOX}\r\nMessage-ID: <{}@x.example>\r\nSubject: {}\r\n\r\n{}\r\n",
            "i".repeat(300),
            "Re: ".repeat(2000),
            "word ".repeat(20_000)
        );
        let message = parse(&long_id).unwrap();
        assert!(message.external_id.starts_with("sha256:"));
        assert!(message.text.chars().count() <= MAX_TEXT_CHARS);
        assert!(message.subject.unwrap().chars().count() <= MAX_SUBJECT_CHARS);
    }

    #[test]
    fn trimming_a_long_quote_takes_one_pass() {
        // 200,000 quoted lines and one plain line after them: read once, not once a line.
        let mut body = String::from("New words.\n");
        body.push_str(&"> old\n".repeat(200_000));
        body.push_str("plain tail\n");
        let (text, quoted) = trim_quoted(&body);
        assert!(text.starts_with("New words."));
        assert!(
            text.ends_with("plain tail"),
            "quotes before a plain line stay"
        );
        assert_eq!(quoted, None);
        let mut all_quoted = String::from("New words.\n");
        all_quoted.push_str(&"> old\n".repeat(200_000));
        let (text, quoted) = trim_quoted(&all_quoted);
        assert_eq!(text, "New words.");
        assert_eq!(quoted.unwrap().lines().count(), 200_000);
        // "--" alone is no signature separator; "-- " is.
        assert_eq!(trim_quoted("a\n--\nb").1, None);
        assert_eq!(trim_quoted("a\n-- \nb").1.as_deref(), Some("-- \nb"));
    }

    #[test]
    fn trimming_keeps_a_message_that_is_all_quote() {
        assert_eq!(
            trim_quoted("> only a quote\n> nothing new"),
            ("> only a quote\n> nothing new".to_string(), None)
        );
        assert_eq!(
            trim_quoted("Thanks!\n\n> earlier\ninterleaved answer\n> more"),
            (
                "Thanks!\n\n> earlier\ninterleaved answer".to_string(),
                Some("> more".to_string())
            ),
            "an answer between quotes stays; only the last run of quotes is cut"
        );
    }

    proptest::proptest! {
        /// Nothing a sender writes makes parsing panic.
        #[test]
        fn any_bytes_parse_or_are_refused(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..2048)) {
            let _ = parse_email(&raw, &mailboxes(), None, (now(), Sender::Unverified));
        }

        #[test]
        fn any_headers_and_body_parse_or_are_refused(
            headers in "(From|To|Subject|In-Reply-To|References|Message-ID|Date|Content-Type): [ -~]{0,60}\r\n",
            body in "[ -~\n>]{0,400}",
        ) {
            let raw = format!("{headers}To: support@acme.example\r\n\r\n{body}");
            let _ = parse_email(raw.as_bytes(), &mailboxes(), None, (now(), Sender::Unverified));
        }
    }
}
