//! The customer's answer to the satisfaction survey: a score from 1 (poor) to 5 (great).
//!
//! After the survey went out, a customer's short message on the resolved ticket that carries
//! one score is the answer. A score of 3 or more is recorded without reopening the ticket; a
//! score of 4 or 5 is thanked once with the account's invitation to share the experience
//! (never a demand); a score of 1 or 2 reopens the ticket like any message, so that a person
//! looks again at a problem the customer does not consider solved.

/// Longer messages are conversations, not scores.
const MAX_CHARS: usize = 60;

/// The lowest score that does not reopen the ticket.
pub const SATISFIED: u8 = 3;
/// The lowest score thanked with the invitation.
pub const DELIGHTED: u8 = 4;

/// The score in an answer to the survey, when the answer is one: a short message whose only
/// number is 1 to 5 ("5", "4/5", "4 out of 5", "a 4, thanks!") or that holds one to five stars
/// and no number.
pub fn score_of(text: &str) -> Option<u8> {
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_CHARS {
        return None;
    }
    let lower = text.to_lowercase();
    // "4/5" and "4 out of 5" name the scale, not a second number.
    let without_scale = lower
        .replace("out of 5", " ")
        .replace("/ 5", " ")
        .replace("/5", " ");
    let numbers: Vec<&str> = without_scale
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| !run.is_empty())
        .collect();
    let stars = text.chars().filter(|c| matches!(c, '⭐' | '★')).count();
    match (numbers.as_slice(), stars) {
        ([number], _) => number.parse::<u8>().ok().filter(|n| (1..=5).contains(n)),
        ([], 1..=5) => u8::try_from(stars).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_answer_with_one_score_is_read() {
        for (text, score) in [
            ("5", 5),
            (" 4 ", 4),
            ("4/5", 4),
            ("3 / 5", 3),
            ("2 out of 5", 2),
            ("A 5, thanks!", 5),
            ("1. Still waiting on my refund", 1),
            ("⭐⭐⭐⭐", 4),
            ("★★★★★ great", 5),
        ] {
            assert_eq!(score_of(text), Some(score), "{text:?}");
        }
    }

    #[test]
    fn anything_else_is_not_a_score() {
        for text in [
            "",
            "thanks",
            "0",
            "6",
            "10/10",
            "45",
            "4 or 5",
            "my order 12345 never came",
            "I called 3 times over 2 days and nobody could tell me anything useful, 1",
            "⭐⭐⭐⭐⭐⭐",
        ] {
            assert_eq!(score_of(text), None, "{text:?}");
        }
    }
}
