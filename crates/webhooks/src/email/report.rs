//! Reports about a message a mailbox sent (`multipart/report`): a delivery status notification
//! (RFC 3464) that says it failed for good, or a complaint in the Abuse Reporting Format
//! (RFC 5965). SES forwards both to the sending mailbox (its feedback forwarding); other mail
//! systems send them to the envelope sender, which is the mailbox too.
//!
//! What is read of one: the `Message-ID` of the message it returns (in a `message/rfc822` or
//! `text/rfc822-headers` part), the recipient it names, and its status or feedback type. A
//! report that returns no `Message-ID`, or tells of a delay or a success, is none of these: it
//! is refused as the automatic message it is.

use super::{EmailError, MAX_ID_CHARS, bare, is_id};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};
use socialcare_domain::mail_feedback::{FeedbackKind, MailFeedback};

/// What of a report's status is kept, for people.
const MAX_DETAIL_CHARS: usize = 500;

/// The report `raw` is, for whichever of `mailboxes` it came to (`envelope_to` when the
/// receiving service says): `None` when it is not a bounce or complaint about a message with
/// a `Message-ID`.
pub fn feedback_of(
    message: &Message,
    mailboxes: &[String],
    envelope_to: Option<&str>,
) -> Result<Option<MailFeedback>, EmailError> {
    let Some(report_type) = message
        .content_type()
        .filter(|ct| {
            ct.ctype().eq_ignore_ascii_case("multipart")
                && ct
                    .subtype()
                    .is_some_and(|s| s.eq_ignore_ascii_case("report"))
        })
        .and_then(|ct| ct.attribute("report-type"))
        .map(|t| t.trim().to_ascii_lowercase())
    else {
        return Ok(None);
    };
    let said = |subtypes: &[&str]| {
        message.parts.iter().find_map(|part| {
            let ct = part.content_type()?;
            let subtype = ct.subtype()?.to_ascii_lowercase();
            (ct.ctype().eq_ignore_ascii_case("message") && subtypes.contains(&subtype.as_str()))
                .then(|| fields(&String::from_utf8_lossy(part.contents())))
        })
    };
    let (kind, recipient, detail) = match report_type.as_str() {
        "delivery-status" => {
            let Some(blocks) = said(&["delivery-status", "global-delivery-status"]) else {
                return Ok(None);
            };
            // The first recipient it failed for, for good: a delay or a success is news, not a
            // bounce.
            let Some(failed) = blocks.iter().skip(1).find(|block| {
                value(block, "action").is_some_and(|a| a.eq_ignore_ascii_case("failed"))
                    && value(block, "status").is_some_and(|s| s.starts_with('5'))
            }) else {
                return Ok(None);
            };
            let status = value(failed, "status").unwrap_or_default();
            let detail = match value(failed, "diagnostic-code") {
                Some(diagnostic) => format!("{status} {diagnostic}"),
                None => status.to_string(),
            };
            let recipient = value(failed, "final-recipient")
                .or_else(|| value(failed, "original-recipient"))
                .map(typed_address);
            (FeedbackKind::Bounce, recipient, detail)
        }
        "feedback-report" => {
            let Some(blocks) = said(&["feedback-report"]) else {
                return Ok(None);
            };
            let report = blocks.first().cloned().unwrap_or_default();
            let feedback_type = value(&report, "feedback-type").unwrap_or("abuse");
            // `not-spam` takes a complaint back; it marks nothing.
            if feedback_type.eq_ignore_ascii_case("not-spam") {
                return Ok(None);
            }
            let recipient = value(&report, "original-rcpt-to").map(typed_address);
            (FeedbackKind::Complaint, recipient, feedback_type.to_string())
        }
        _ => return Ok(None),
    };
    let Some(message_id) = returned_id(message) else {
        return Ok(None);
    };
    let mailbox = super::mailbox_of(message, mailboxes, envelope_to, None)?;
    Ok(Some(MailFeedback {
        kind,
        mailbox,
        message_id,
        recipient: recipient.filter(|r| super::is_address(r)),
        detail: detail
            .replace(char::is_control, " ")
            .chars()
            .take(MAX_DETAIL_CHARS)
            .collect(),
    }))
}

/// The `Message-ID` of the message a report returns, whole or its headers only.
fn returned_id(message: &Message) -> Option<String> {
    message.parts.iter().find_map(|part| {
        let returned = match &part.body {
            PartType::Message(inner) => inner.message_id().map(str::to_string),
            _ => {
                let ct = part.content_type()?;
                let headers_only = ct.ctype().eq_ignore_ascii_case("text")
                    && ct
                        .subtype()
                        .is_some_and(|s| s.eq_ignore_ascii_case("rfc822-headers"))
                    || ct.ctype().eq_ignore_ascii_case("message")
                        && ct.subtype().is_some_and(|s| {
                            s.eq_ignore_ascii_case("rfc822")
                                || s.eq_ignore_ascii_case("global-headers")
                        });
                if !headers_only {
                    return None;
                }
                MessageParser::default()
                    .parse(part.contents())?
                    .message_id()
                    .map(str::to_string)
            }
        }?;
        let id = bare(&returned).to_string();
        (is_id(&id) && id.len() <= MAX_ID_CHARS).then_some(id)
    })
}

/// The field blocks of a `message/delivery-status` or `message/feedback-report` body: each a
/// list of (lowercase name, value), continuation lines unfolded.
fn fields(body: &str) -> Vec<Vec<(String, String)>> {
    let mut blocks: Vec<Vec<(String, String)>> = Vec::new();
    let mut block: Vec<(String, String)> = Vec::new();
    for line in body.lines().map(|l| l.trim_end_matches('\r')) {
        if line.trim().is_empty() {
            if !block.is_empty() {
                blocks.push(std::mem::take(&mut block));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = block.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            block.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    if !block.is_empty() {
        blocks.push(block);
    }
    blocks
}

fn value<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// `rfc822; Ann@Example.com` → `ann@example.com`.
fn typed_address(value: &str) -> String {
    let address = value.split_once(';').map_or(value, |(_, a)| a);
    bare(address).to_lowercase()
}
