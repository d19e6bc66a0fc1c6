//! Triage: what an inbound customer message is (its intent), how it feels (VADER sentiment),
//! which language it is in, and how soon it needs an answer (its priority), with the reasons.
//!
//! Everything is matched on the message's words: lowercased, curly apostrophes straightened,
//! `@handles`, e-mail addresses and links left out, every other character a word boundary
//! (so "wi-fi" reads "wi fi" and "#outage" reads "outage"). A phrase matches whole words only:
//! "fire" is not in "firewall", and "hospital" is not in "hospitals".
//!
//! Intent, the first that fits:
//! 1. **Noise**: nothing left but mentions, links, numbers and emoji; or spam ("follow me",
//!    "giveaway", "check out my", a shared link "… via @brand"); or mostly links (three or
//!    more, and fewer than five words for each).
//! 2. **Praise**: clearly positive (compound >= [`TriageRules::praise`]), a word of thanks or
//!    praise, and no "but", question, request ("please", "help"), problem word or urgent word.
//! 3. **Complaint**: a problem word ("not working", "still", "again", "refund", "error",
//!    "can't", …) or a negative sentiment (compound <= -0.05, VADER's usual cut).
//! 4. **Question**: a question mark, a first word such as "how" or "can", or a request for
//!    help ("please", "help", "can you", …).
//! 5. **Complaint** otherwise: a statement to a care account reports something.
//!
//! Priority, starting at normal:
//! - noise and praise are low;
//! - a complaint or question with a safety word ("emergency", "gas leak", "injured", "911",
//!   "hospital", …) is urgent;
//! - one with another urgent word ("outage", "can't call", "no service", "locked out",
//!   "fraud", "hacked", "charged twice", the customer's own "urgent" or "asap", an account's
//!   extra terms, …) is at least high;
//! - a very negative complaint (compound <= [`TriageRules::negative`]) is at least high;
//! - an author with [`TriageRules::high_reach_followers`] or more is one level up (praise from
//!   them becomes normal; noise stays low whoever sends it), urgent at most.
//!
//! Every rule that applied leaves one short reason ("urgent words: outage",
//! "very negative (-0.81)", "reach: 120000 followers", "praise").
//!
//! Pure and deterministic, and total: no input makes it panic.

use crate::ticket::Priority;
pub use crate::ticket::{Intent, Triage};
use rust_stemmers::{Algorithm, Stemmer};
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;
use vader_sentiment::SentimentIntensityAnalyzer;

mod terms;
use terms::{
    ASKING_MARKERS, CONTRAST_WORDS, IDIOMS, PRAISE_WORDS, PROBLEM_MARKERS, QUESTION_WORDS,
    SAFETY_TERMS, SPAM_MARKERS, STOPWORDS, URGENT_TERMS,
};

/// The knobs of triage. A configuration may leave any of them out.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TriageRules {
    /// An author with this many followers or more raises the priority one level.
    pub high_reach_followers: u64,
    /// A complaint this negative or worse (VADER compound) is at least high.
    pub negative: f64,
    /// A message this positive or better, with a word of thanks or praise, is praise.
    pub praise: f64,
    /// The account's own urgent words or phrases (a product name in an outage, say); each makes
    /// a complaint or question at least high.
    pub extra_urgent_terms: Vec<String>,
}

impl Default for TriageRules {
    fn default() -> Self {
        Self {
            high_reach_followers: 10_000,
            negative: -0.5,
            praise: 0.5,
            extra_urgent_terms: Vec::new(),
        }
    }
}

impl TriageRules {
    /// Refuses thresholds that are not sentiments: a VADER compound is a number from -1 to 1.
    pub fn check(&self) -> Result<(), &'static str> {
        let sentiment = |v: f64| v.is_finite() && (-1.0..=1.0).contains(&v);
        if !sentiment(self.negative) {
            return Err("negative must be a number from -1 to 1");
        }
        if !sentiment(self.praise) {
            return Err("praise must be a number from -1 to 1");
        }
        Ok(())
    }
}

/// Below this compound a message leans negative (VADER's own convention).
const NEGATIVE_LEANING: f64 = -0.05;

/// A message of this many links or more, with fewer than [`WORDS_PER_LINK`] words for each, is
/// spam; a customer's report may quote a few links in its sentences.
const SPAM_LINKS: usize = 3;
const WORDS_PER_LINK: usize = 5;

/// VADER's lexicon is parsed on first use; one analyzer serves every call.
static SENTIMENT: LazyLock<SentimentIntensityAnalyzer<'static>> =
    LazyLock::new(SentimentIntensityAnalyzer::new);

/// Triages one inbound message; `followers` is the author's follower count when known.
pub fn triage(text: &str, followers: Option<u64>, rules: &TriageRules) -> Triage {
    let message = Message::read(text);
    let sentiment = sentiment_of(&message.prose);
    let safety_terms = message.terms(SAFETY_TERMS);
    let mut service_terms = message.terms(URGENT_TERMS);
    for extra in &rules.extra_urgent_terms {
        let phrase = words_of(extra).join(" ");
        if !phrase.is_empty() && message.has(&phrase) && !service_terms.contains(&phrase) {
            service_terms.push(phrase);
        }
    }
    let has_urgent_words = !safety_terms.is_empty() || !service_terms.is_empty();
    let intent = intent_of(&message, sentiment, has_urgent_words, rules);

    let mut priority = Priority::Normal;
    let mut reasons = Vec::new();
    match intent {
        Intent::Noise | Intent::Praise => {
            priority = Priority::Low;
            reasons.push(intent.as_str().to_string());
        }
        Intent::Complaint | Intent::Question => {
            if !safety_terms.is_empty() {
                priority = Priority::Urgent;
                reasons.push(format!("safety words: {}", safety_terms.join(", ")));
            }
            if !service_terms.is_empty() {
                priority = priority.max(Priority::High);
                reasons.push(format!("urgent words: {}", service_terms.join(", ")));
            }
            if intent == Intent::Complaint && sentiment <= rules.negative {
                priority = priority.max(Priority::High);
                reasons.push(format!("very negative ({sentiment:.2})"));
            }
        }
    }
    let reach = followers.filter(|&count| count >= rules.high_reach_followers);
    if let Some(count) = reach.filter(|_| intent != Intent::Noise) {
        priority = priority.raised();
        reasons.push(format!("reach: {count} followers"));
    }

    let mut urgent_terms = safety_terms;
    urgent_terms.extend(service_terms);
    Triage {
        intent,
        sentiment,
        urgent_terms,
        followers,
        language: language_of(&message.prose),
        priority,
        reasons,
    }
}

/// The most key terms kept of one message: a tweet rarely has more, and each is a counter in the
/// window's topic record.
pub const MAX_TOPIC_TERMS: usize = 24;
/// The longest key term kept, in bytes: longer "words" are links, codes or noise, never what an
/// outage is called.
pub const MAX_TERM_BYTES: usize = 24;

/// The normalized key terms of a message, for spike detection: lowercased, with `@handles`,
/// links, numbers, emoji and stopwords left out, English Snowball-stemmed, deduplicated and
/// sorted. "@acme_care my internet is DOWN again!! https://t.co/x" gives ["down", "internet"].
pub fn topic_terms(text: &str) -> Vec<String> {
    let stemmer = Stemmer::create(Algorithm::English);
    let message = Message::read(text);
    let mut terms: Vec<String> = message
        .words
        .iter()
        .filter(|word| word.chars().any(char::is_alphabetic))
        .filter(|word| !STOPWORDS.contains(word.as_str()))
        .map(|word| stemmer.stem(word).into_owned())
        .filter(|term| term.chars().count() > 1 && term.len() <= MAX_TERM_BYTES)
        .collect();
    terms.sort();
    terms.dedup();
    terms.truncate(MAX_TOPIC_TERMS);
    terms
}

/// A message as triage reads it.
struct Message {
    /// The text without handles and links, apostrophes straightened, entities decoded.
    prose: String,
    /// The lowercased words of `prose`.
    words: Vec<String>,
    /// The words joined by single spaces, with a space at both ends, for whole-word matching;
    /// idioms left out.
    padded: String,
    links: usize,
    /// A shared link ("Title https://… via @brand", as share buttons write it).
    shared: bool,
}

impl Message {
    fn read(text: &str) -> Self {
        let text = text
            .replace(['\u{2019}', '\u{2018}', '\u{02bc}'], "'")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"");
        let tokens: Vec<&str> = text.split_whitespace().collect();
        let links = tokens.iter().filter(|token| is_link(token)).count();
        let shared = links > 0
            && matches!(tokens.as_slice(), [.., via, handle]
                if via.eq_ignore_ascii_case("via") && handle.starts_with('@'));
        let mut prose = String::with_capacity(text.len());
        for token in tokens {
            let kept = if is_link(token) {
                ""
            } else if let Some(at) = token.find('@') {
                // A handle or an e-mail address: keep what follows it, such as a "?".
                token[at + 1..].trim_start_matches(|c: char| {
                    c.is_alphanumeric() || matches!(c, '_' | '.' | '-')
                })
            } else {
                token
            };
            if !kept.is_empty() {
                if !prose.is_empty() {
                    prose.push(' ');
                }
                prose.push_str(kept);
            }
        }
        let words = words_of(&prose);
        let mut padded = format!(" {} ", words.join(" "));
        for idiom in IDIOMS {
            padded = padded.replace(&format!(" {idiom} "), " ");
        }
        Self {
            prose,
            words,
            padded,
            links,
            shared,
        }
    }

    /// Whether the message holds `phrase` (lowercase words separated by single spaces).
    fn has(&self, phrase: &str) -> bool {
        self.padded.contains(&format!(" {phrase} "))
    }

    fn has_any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|phrase| self.has(phrase))
    }

    /// The terms of `table` whose phrases the message holds.
    fn terms(&self, table: &[(&str, &[&str])]) -> Vec<String> {
        table
            .iter()
            .filter(|(_, phrases)| self.has_any(phrases))
            .map(|(term, _)| term.to_string())
            .collect()
    }

    fn is_question(&self) -> bool {
        self.prose.contains('?')
            || self
                .words
                .first()
                .is_some_and(|first| QUESTION_WORDS.contains(&first.as_str()))
    }
}

fn intent_of(
    message: &Message,
    sentiment: f64,
    has_urgent_words: bool,
    rules: &TriageRules,
) -> Intent {
    let has_text = message
        .words
        .iter()
        .any(|w| w.chars().any(char::is_alphabetic));
    let mostly_links =
        message.links >= SPAM_LINKS && message.words.len() < message.links * WORDS_PER_LINK;
    if !has_text || message.shared || mostly_links || message.has_any(SPAM_MARKERS) {
        return Intent::Noise;
    }
    let problem = message.has_any(PROBLEM_MARKERS);
    let asking = message.is_question() || message.has_any(ASKING_MARKERS);
    if sentiment >= rules.praise
        && message.has_any(PRAISE_WORDS)
        && !message.has_any(CONTRAST_WORDS)
        && !asking
        && !problem
        && !has_urgent_words
    {
        return Intent::Praise;
    }
    if problem || sentiment <= NEGATIVE_LEANING {
        return Intent::Complaint;
    }
    if asking {
        return Intent::Question;
    }
    Intent::Complaint
}

/// Lowercase words: runs of letters, digits and inner apostrophes.
fn words_of(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .map(|word| word.trim_matches('\''))
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

fn is_link(token: &str) -> bool {
    let token = token.to_ascii_lowercase();
    token.contains("://") || token.starts_with("www.")
}

/// VADER's compound score, rounded to 2 decimals.
fn sentiment_of(prose: &str) -> f64 {
    let scores = SENTIMENT.polarity_scores(prose);
    let score = |name: &str| scores.get(name).copied().unwrap_or(0.0);
    // The Rust port adds the emphasis of "?" and "!" even when no word carries feeling (the
    // original VADER does not), which would make every plain question negative.
    if score("pos") == 0.0 && score("neg") == 0.0 {
        return 0.0;
    }
    let compound = score("compound");
    if compound.is_finite() {
        (compound.clamp(-1.0, 1.0) * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// The ISO 639-1 code of the text's language, when whatlang is sure of it.
fn language_of(prose: &str) -> Option<String> {
    use whatlang::Lang;
    let info = whatlang::detect(prose).filter(|info| info.is_reliable())?;
    let code = match info.lang() {
        Lang::Eng => "en",
        Lang::Spa => "es",
        Lang::Por => "pt",
        Lang::Fra => "fr",
        Lang::Deu => "de",
        Lang::Ita => "it",
        Lang::Nld => "nl",
        Lang::Swe => "sv",
        Lang::Dan => "da",
        Lang::Nob => "nb",
        Lang::Fin => "fi",
        Lang::Pol => "pl",
        Lang::Ces => "cs",
        Lang::Ron => "ro",
        Lang::Hun => "hu",
        Lang::Tur => "tr",
        Lang::Rus => "ru",
        Lang::Ukr => "uk",
        Lang::Ell => "el",
        Lang::Ara => "ar",
        Lang::Heb => "he",
        Lang::Hin => "hi",
        Lang::Ind => "id",
        Lang::Vie => "vi",
        Lang::Tha => "th",
        Lang::Tgl => "tl",
        Lang::Cat => "ca",
        Lang::Jpn => "ja",
        Lang::Kor => "ko",
        Lang::Cmn => "zh",
        // No two-letter code in this list: the three-letter one (ISO 639-3).
        other => other.code(),
    };
    Some(code.to_string())
}

#[cfg(test)]
mod tests;
