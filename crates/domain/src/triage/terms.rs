//! The words and phrases triage looks for, as its matching reads them: lowercased, straight
//! apostrophes, whole words.

use std::collections::HashSet;
use std::sync::LazyLock;

/// Words about someone's safety: a complaint or question with one is urgent.
/// (term reported, phrases that mean it)
pub(super) const SAFETY_TERMS: &[(&str, &[&str])] = &[
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
pub(super) const URGENT_TERMS: &[(&str, &[&str])] = &[
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
pub(super) const IDIOMS: &[&str] = &[
    "down to earth",
    "down the street",
    "down the road",
    "down the line",
    "down with",
    "let me down",
    "let us down",
];

/// Words of a problem being reported: they make a message a complaint.
pub(super) const PROBLEM_MARKERS: &[&str] = &[
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
pub(super) const PRAISE_WORDS: &[&str] = &[
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
pub(super) const ASKING_MARKERS: &[&str] = &[
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
pub(super) const CONTRAST_WORDS: &[&str] = &["but", "however", "although", "though", "tho"];

/// Spam and self-promotion.
pub(super) const SPAM_MARKERS: &[&str] = &[
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

/// First words that make a message a question even without its question mark.
pub(super) const QUESTION_WORDS: &[&str] = &[
    "how", "why", "when", "where", "what", "which", "who", "can", "could", "is", "are", "do",
    "does", "will", "would", "should",
];

/// Words too common to say what a message is about (English; "again" included, "down" not:
/// an outage spike is made of it), and the time and courtesy words of any complaint ("last",
/// "today", "since", "help", "thanks"), which rise with every busy hour.
pub(super) static STOPWORDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
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
