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
use std::collections::HashSet;
use std::sync::LazyLock;
use vader_sentiment::SentimentIntensityAnalyzer;

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

/// Below this compound a message leans negative (VADER's own convention).
const NEGATIVE_LEANING: f64 = -0.05;

/// Words about someone's safety: a complaint or question with one is urgent.
/// (term reported, phrases that mean it)
const SAFETY_TERMS: &[(&str, &[&str])] = &[
    ("emergency", &["emergency", "emergencies"]),
    (
        "safety",
        &["safety", "unsafe", "fire hazard", "safety hazard"],
    ),
    (
        "fire",
        &[
            "caught fire",
            "catch fire",
            "caught on fire",
            "burst into flames",
        ],
    ),
    ("explosion", &["exploded", "explosion"]),
    (
        "gas leak",
        &[
            "gas leak",
            "gas leaking",
            "smell gas",
            "smell of gas",
            "carbon monoxide",
        ],
    ),
    (
        "injured",
        &[
            "injured",
            "injury",
            "injuries",
            "electrocuted",
            "electric shock",
        ],
    ),
    ("911", &["911"]),
    // The singular only: "in the hospital" is about a person, "needed in hospitals" (price
    // gouging of masks, common in the fixtures) is not.
    ("hospital", &["hospital", "ambulance"]),
    ("self-harm", &["suicidal", "kill myself", "self harm"]),
];

/// Words about a service the customer cannot use or money at risk: at least high.
const URGENT_TERMS: &[(&str, &[&str])] = &[
    ("outage", &["outage", "outages"]),
    // The customer's own word for it.
    ("urgent", &["urgent", "urgently", "asap"]),
    // "down" alone is too often "shut down", "calm down" or "hold down the shift key".
    (
        "down",
        &[
            "is down",
            "are down",
            "was down",
            "were down",
            "been down",
            "being down",
            "went down",
            "goes down",
            "going down",
            "are you down",
            "server down",
            "servers down",
            "service down",
            "services down",
            "site down",
            "website down",
        ],
    ),
    (
        "can't call",
        &[
            "can't call",
            "cant call",
            "cannot call",
            "can not call",
            "unable to call",
            "can't make calls",
            "can't make a call",
        ],
    ),
    (
        "no service",
        &[
            "no service",
            "no cell service",
            "no phone service",
            "service loss",
            "loss of service",
            "lost service",
        ],
    ),
    ("no signal", &["no signal", "no reception"]),
    (
        "no internet",
        &["no internet", "no wifi", "no wi fi", "no connection"],
    ),
    (
        "not working",
        &[
            "not working",
            "isn't working",
            "isnt working",
            "aren't working",
            "stopped working",
            "doesn't work",
            "doesnt work",
            "does not work",
            "don't work",
            "won't work",
        ],
    ),
    ("stranded", &["stranded"]),
    (
        "cancelled flight",
        &[
            "cancelled flight",
            "canceled flight",
            "cancelled my flight",
            "canceled my flight",
            "flight cancelled",
            "flight canceled",
            "flight was cancelled",
            "flight was canceled",
            "flight got cancelled",
            "flight got canceled",
        ],
    ),
    ("locked out", &["locked out"]),
    (
        "fraud",
        &[
            "fraud",
            "fraudulent",
            "unauthorized charge",
            "unauthorised charge",
        ],
    ),
    ("hacked", &["hacked", "hacker", "hackers"]),
    (
        "charged twice",
        &[
            "charged twice",
            "charged me twice",
            "double charged",
            "double charge",
            "charged two times",
        ],
    ),
];

/// Sayings left out before urgent words are looked for: "down to earth" is no outage.
const IDIOMS: &[&str] = &[
    "down to earth",
    "down the street",
    "down the road",
    "down the line",
    "down with",
    "let me down",
    "let us down",
];

/// Words of a problem being reported: they make a message a complaint.
const PROBLEM_MARKERS: &[&str] = &[
    "not working",
    "isn't working",
    "doesn't work",
    "don't work",
    "didn't work",
    "won't work",
    "stopped working",
    "broken",
    "broke",
    "error",
    "crash",
    "crashes",
    "crashed",
    "crashing",
    "bug",
    "glitch",
    "issue",
    "issues",
    "problem",
    "problems",
    "still",
    "again",
    "refund",
    "waiting",
    "waited",
    "no one",
    "nobody",
    "terrible",
    "awful",
    "worst",
    "horrible",
    "ridiculous",
    "unacceptable",
    "disappointed",
    "frustrating",
    "trouble",
    "difficulties",
    "can't",
    "cant",
    "cannot",
    "can not",
    "unable",
    "won't",
    "wont",
    "never received",
    "never got",
    "didn't receive",
    "didn't get",
    "haven't received",
    "not received",
    "missing",
    "lost",
    "stuck",
    "locked",
    "hacked",
    "scam",
];

/// Words of thanks or praise; with a clearly positive sentiment they make praise.
const PRAISE_WORDS: &[&str] = &[
    "thanks",
    "thank you",
    "thx",
    "love",
    "loving",
    "great",
    "awesome",
    "amazing",
    "excellent",
    "fantastic",
    "wonderful",
    "best",
    "appreciate",
    "kudos",
    "shout out",
    "shoutout",
    "props",
];

/// Words of a request for help: with no problem word, such a message is a question.
const ASKING_MARKERS: &[&str] = &[
    "please",
    "pls",
    "plz",
    "kindly",
    "help",
    "assist",
    "assistance",
    "i need",
    "we need",
    "i want",
    "we want",
    "would like",
    "can you",
    "could you",
    "would you",
    "you should",
    "dm",
    "contact",
];

/// Words that turn thanks into a "but": "I love the app, but …" is no praise.
const CONTRAST_WORDS: &[&str] = &["but", "however", "although", "though", "tho"];

/// Spam and self-promotion.
const SPAM_MARKERS: &[&str] = &[
    "follow me",
    "follow back",
    "followback",
    "giveaway",
    "check out my",
    "sub4sub",
    "f4f",
    "watch now",
    "shop now",
    "buy now",
    "click here",
];

/// A message of this many links or more, with fewer than [`WORDS_PER_LINK`] words for each, is
/// spam; a customer's report may quote a few links in its sentences.
const SPAM_LINKS: usize = 3;
const WORDS_PER_LINK: usize = 5;

/// First words that make a message a question even without its question mark.
const QUESTION_WORDS: &[&str] = &[
    "how", "why", "when", "where", "what", "which", "who", "can", "could", "is", "are", "do",
    "does", "will", "would", "should",
];

/// Words too common to say what a message is about (English; "again" included, "down" not:
/// an outage spike is made of it), and the time and courtesy words of any complaint ("last",
/// "today", "since", "help", "thanks"), which rise with every busy hour.
static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    "a about above after again against ain't all am an and any are aren't as at be because \
     been before being below between both but by can can't cannot could couldn't did didn't do \
     does doesn't doing don't during each even ever every few for from further get got had hadn't \
     has hasn't have haven't having he her here hers herself hey hi him himself his how i i'd \
     i'll i'm i've if in into is isn't it it's its itself just let like me more most my myself no \
     nor not now of off on once only or other our ours ourselves out over own please pls same she \
     should so some still such than that that's the their theirs them themselves then there \
     there's these they they're this those through to too u under until up very was wasn't we \
     we're were weren't what what's when where which while who whom why will with won't would you \
     you're your yours yourself yourselves \
     ago already also anyone anything back day days hello help hour hours know last minute \
     minutes month need ok okay one really someone something since thank thanks time today try \
     tried trying want week yet yesterday"
        .split_whitespace()
        .collect()
});

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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn triage_of(text: &str) -> Triage {
        triage(text, None, &TriageRules::default())
    }

    #[test]
    fn an_outage_complaint_is_high() {
        let t = triage_of(
            "@acme_care there's an outage in my area AGAIN, nothing loads. 3rd time this week",
        );
        assert_eq!(t.intent, Intent::Complaint);
        assert_eq!(t.priority, Priority::High);
        assert_eq!(t.urgent_terms, vec!["outage"]);
        assert_eq!(t.reasons, vec!["urgent words: outage"]);
        assert_eq!(t.language.as_deref(), Some("en"));
        assert_eq!(t.followers, None);
    }

    #[test]
    fn a_gas_leak_is_urgent() {
        let t = triage_of(
            "@acme_energy I can smell gas in the hallway, is there a gas leak on our street?",
        );
        assert_eq!(t.priority, Priority::Urgent);
        assert_eq!(t.urgent_terms, vec!["gas leak"]);
        assert_eq!(t.reasons, vec!["safety words: gas leak"]);
    }

    #[test]
    fn thanks_are_praise_and_low() {
        let t = triage_of("Thanks @acme, great service!");
        assert_eq!(t.intent, Intent::Praise);
        assert_eq!(t.priority, Priority::Low);
        assert!(t.sentiment >= 0.5, "{}", t.sentiment);
        assert!(t.urgent_terms.is_empty());
        assert_eq!(t.reasons, vec!["praise"]);
    }

    #[test]
    fn thanks_with_a_request_or_a_but_are_no_praise() {
        assert_eq!(
            triage_of("@acme please help me reset my password, thanks!").intent,
            Intent::Question
        );
        assert_eq!(
            triage_of("I love @acme but my order never arrived").intent,
            Intent::Complaint
        );
    }

    #[test]
    fn a_plain_question_is_normal() {
        let t = triage_of("@acme how do I change the address on my account?");
        assert_eq!(t.intent, Intent::Question);
        assert_eq!(t.priority, Priority::Normal);
        // No word carries feeling, so the question mark does not make it negative.
        assert_eq!(t.sentiment, 0.0);
        assert!(t.urgent_terms.is_empty());
        assert!(t.reasons.is_empty());
    }

    #[test]
    fn a_question_that_reports_a_problem_is_a_complaint() {
        assert_eq!(
            triage_of("@acme why can't I log in?").intent,
            Intent::Complaint
        );
    }

    #[test]
    fn spam_and_empty_messages_are_noise() {
        for text in [
            "Follow me for a free iPhone giveaway!!! https://spam.example/x",
            "Vintage teapot, hand painted https://ebay.us/abc via @eBay",
            "https://a.example/1 https://b.example/2 https://c.example/3 wow",
            "@acme @acme_care 🙂🙂 https://t.co/x",
            "",
            "   ",
            "12 34!!",
        ] {
            let t = triage_of(text);
            assert_eq!(t.intent, Intent::Noise, "{text:?}");
            assert_eq!(t.priority, Priority::Low, "{text:?}");
            assert_eq!(t.reasons, vec!["noise"], "{text:?}");
        }
    }

    #[test]
    fn a_report_quoting_a_few_links_is_no_spam() {
        let t = triage_of(
            "a phishing site pretending to be our bank is hosted by you at http://a.example, \
             the same page is on http://b.example and http://c.example and you ignore our reports",
        );
        assert_ne!(t.intent, Intent::Noise);
    }

    #[test]
    fn reach_raises_one_level() {
        let rules = TriageRules::default();
        let text = "@acme how do I change the address on my account?";
        let t = triage(text, Some(120_000), &rules);
        assert_eq!(t.priority, Priority::High);
        assert_eq!(t.followers, Some(120_000));
        assert_eq!(t.reasons, vec!["reach: 120000 followers"]);

        assert_eq!(triage(text, Some(9_999), &rules).priority, Priority::Normal);
        assert_eq!(
            triage("Thanks @acme, great service!", Some(50_000), &rules).priority,
            Priority::Normal
        );
        assert_eq!(
            triage("follow me for a giveaway", Some(50_000), &rules).priority,
            Priority::Low
        );
        let gas = "gas leak in our building, please send someone";
        assert_eq!(triage(gas, Some(50_000), &rules).priority, Priority::Urgent);
    }

    #[test]
    fn a_very_negative_complaint_is_high() {
        let t =
            triage_of("@acme this is the worst, most useless and disgusting service. I hate you");
        assert_eq!(t.intent, Intent::Complaint);
        assert!(t.sentiment <= -0.5, "{}", t.sentiment);
        assert_eq!(t.priority, Priority::High);
        assert_eq!(
            t.reasons,
            vec![format!("very negative ({:.2})", t.sentiment)]
        );
    }

    #[test]
    fn spanish_is_told() {
        let t = triage_of(
            "@acme_care Hola, mi internet no funciona desde ayer y nadie me responde a los mensajes. \
             ¿Pueden ayudarme por favor? Estoy muy cansada de esperar.",
        );
        assert_eq!(t.language.as_deref(), Some("es"));
    }

    #[test]
    fn curly_apostrophes_read_as_straight_ones() {
        let t = triage_of("I can’t call anyone and there’s no signal at home");
        assert_eq!(t.urgent_terms, vec!["can't call", "no signal"]);
        assert_eq!(t.priority, Priority::High);
    }

    #[test]
    fn ambiguous_words_do_not_raise() {
        for text in [
            "Your new store manager is so down to earth, he was down the street helping people",
            "Why does the app shut down when I hold down the shift key?",
            "Watching my shows on Fire TV, the firewall settings page is confusing",
            "Masks are needed in hospitals, not on resale sites",
        ] {
            let t = triage_of(text);
            assert!(t.urgent_terms.is_empty(), "{text:?}: {:?}", t.urgent_terms);
        }
        assert_eq!(
            triage_of("are the servers down?").urgent_terms,
            vec!["down"]
        );
    }

    #[test]
    fn an_account_adds_its_own_urgent_words() {
        let rules = TriageRules {
            extra_urgent_terms: vec!["Checkout".into(), "pay-by-link".into()],
            ..TriageRules::default()
        };
        let t = triage(
            "the checkout page will not load, pay by link fails too",
            None,
            &rules,
        );
        assert_eq!(t.urgent_terms, vec!["checkout", "pay by link"]);
        assert_eq!(t.priority, Priority::High);
    }

    #[test]
    fn rules_may_leave_anything_out() {
        let rules: TriageRules = serde_json::from_str("{}").unwrap();
        assert_eq!(rules, TriageRules::default());
        let rules: TriageRules = serde_json::from_str(r#"{"negative": -0.3}"#).unwrap();
        assert_eq!(rules.negative, -0.3);
        assert_eq!(rules.high_reach_followers, 10_000);
        assert!(serde_json::from_str::<TriageRules>(r#"{"negatve": -0.3}"#).is_err());
    }

    #[test]
    fn intent_is_snake_case() {
        assert_eq!(
            serde_json::to_string(&Intent::Complaint).unwrap(),
            r#""complaint""#
        );
        assert_eq!(Intent::Noise.as_str(), "noise");
    }

    /// Issue 14: a long message of long words once gave terms of any length and number.
    #[test]
    fn topic_terms_are_bounded_in_length_and_number() {
        let long = "x".repeat(MAX_TERM_BYTES + 1);
        let words: Vec<String> = (0..40)
            .map(|i| {
                format!(
                    "word{}",
                    "abcdefghijklmnopqrstuvwxyz"
                        .chars()
                        .nth(i % 26)
                        .unwrap()
                        .to_string()
                        .repeat(1 + i / 26)
                )
            })
            .collect();
        let text = format!("internet {long} {}", words.join(" "));
        let terms = topic_terms(&text);
        assert_eq!(terms.len(), MAX_TOPIC_TERMS);
        assert!(terms.iter().all(|t| t.len() <= MAX_TERM_BYTES), "{terms:?}");
        assert!(!terms.contains(&long));
        assert!(topic_terms(&"é".repeat(13)).is_empty());
    }

    #[test]
    fn topic_terms_are_stemmed_key_words() {
        assert_eq!(
            topic_terms("@acme_care my internet is DOWN again!! https://t.co/x"),
            vec!["down", "internet"]
        );
        assert_eq!(
            topic_terms("Outages everywhere!!! My phone has no signal since 9am #outage 😡"),
            vec!["9am", "everywher", "outag", "phone", "signal"]
        );
        // Time and courtesy words are in every complaint: never a topic.
        assert_eq!(
            topic_terms("Help! My app crashed again since last week, thanks for nothing"),
            vec!["app", "crash", "noth"]
        );
        assert_eq!(
            topic_terms("@acme 🙂 123 https://t.co/x"),
            Vec::<String>::new()
        );
        assert_eq!(topic_terms(""), Vec::<String>::new());
    }

    #[test]
    fn ten_kilobytes_are_fine() {
        let text = "my internet is down again 😡 @acme https://x.example/y ¿qué? ".repeat(200);
        assert!(text.len() > 10_000);
        let t = triage_of(&text);
        assert_eq!(t.urgent_terms, vec!["down"]);
        assert_eq!(topic_terms(&text), vec!["down", "internet", "qué"]);
    }

    proptest! {
        #[test]
        fn never_panics(text in any::<String>(), followers in any::<Option<u64>>()) {
            let t = triage(&text, followers, &TriageRules::default());
            prop_assert!((-1.0..=1.0).contains(&t.sentiment));
            let _ = topic_terms(&text);
        }

        #[test]
        fn never_panics_on_words_of_care(
            words in proptest::collection::vec(
                prop_oneof![
                    Just("down"), Just("can't"), Just("call"), Just("?"), Just("!!!"), Just("@acme"),
                    Just("https://t.co/x"), Just("via"), Just("’"), Just("😡"), Just("great"),
                    Just("not"), Just("gas"), Just("leak"), Just("thanks"), Just("but"), Just("ñ"),
                ],
                0..40,
            )
        ) {
            let text = words.join(" ");
            let _ = triage(&text, None, &TriageRules::default());
            let _ = topic_terms(&text);
        }
    }
}
