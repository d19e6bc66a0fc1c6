//! What a burst is made of: which kinds of message, how many duplicates and replies, and the
//! small random generator that picks them (seedable, so a run can be repeated).

use anyhow::Context;

/// A kind of customer message, and the webhook that carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// A tweet mentioning the brand (X Account Activity `tweet_create_events`).
    XMention,
    /// A DM to the brand (X Account Activity `direct_message_events`).
    XDirectMessage,
    /// A comment on one of the brand's posts (Meta `page`, `feed` change).
    FacebookComment,
    /// A Messenger message to the page (Meta `page`, `messaging`).
    Messenger,
    /// A comment on the brand's media (Meta `instagram`, `comments` change).
    InstagramComment,
    /// An Instagram DM (Meta `instagram`, `messaging`).
    InstagramDirectMessage,
    /// An integrator's event (`/webhooks/generic`).
    Integration,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::XMention => "x_mention",
            Kind::XDirectMessage => "x_dm",
            Kind::FacebookComment => "facebook_comment",
            Kind::Messenger => "messenger",
            Kind::InstagramComment => "instagram_comment",
            Kind::InstagramDirectMessage => "instagram_dm",
            Kind::Integration => "integration",
        }
    }

    /// Whether a follow-up can name the message it answers: X DMs carry no `in_reply_to`.
    pub fn threads_replies(self) -> bool {
        self != Kind::XDirectMessage
    }

    pub fn platform(self) -> Platform {
        match self {
            Kind::XMention | Kind::XDirectMessage => Platform::X,
            Kind::FacebookComment
            | Kind::Messenger
            | Kind::InstagramComment
            | Kind::InstagramDirectMessage => Platform::Meta,
            Kind::Integration => Platform::Integration,
        }
    }

    /// The share of each kind in a burst, as weights.
    const MIX: [(Kind, u64); 7] = [
        (Kind::XMention, 3),
        (Kind::XDirectMessage, 2),
        (Kind::FacebookComment, 2),
        (Kind::Messenger, 2),
        (Kind::InstagramComment, 1),
        (Kind::InstagramDirectMessage, 1),
        (Kind::Integration, 2),
    ];
}

/// The webhook endpoints, each with its own secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    X,
    Meta,
    Integration,
}

/// The kinds a burst sends, weighted: only those of the platforms it has secrets for.
#[derive(Debug, Clone)]
pub struct Mix {
    weighted: Vec<(Kind, u64)>,
    total: u64,
}

impl Mix {
    pub fn of(enabled: impl Fn(Platform) -> bool) -> Self {
        let weighted: Vec<(Kind, u64)> = Kind::MIX
            .into_iter()
            .filter(|(kind, _)| enabled(kind.platform()))
            .collect();
        let total = weighted.iter().map(|(_, weight)| weight).sum();
        Self { weighted, total }
    }

    pub fn kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.weighted.iter().map(|(kind, _)| *kind)
    }

    pub fn pick(&self, rng: &mut Rng) -> Kind {
        let mut ticket = rng.below(self.total.max(1));
        for (kind, weight) in &self.weighted {
            if ticket < *weight {
                return *kind;
            }
            ticket -= weight;
        }
        // Only reached with an empty mix, which `Mix::of` callers rule out (the integration
        // webhook is always on).
        Kind::Integration
    }
}

/// How many sends of each sort a burst makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub originals: u64,
    pub replies: u64,
    pub duplicates: u64,
}

impl Budget {
    /// `duplicates` is a share of all sends, `replies` a share of the unique messages.
    pub fn new(messages: u64, duplicates: f64, replies: f64) -> anyhow::Result<Self> {
        for (name, share) in [("--duplicates", duplicates), ("--replies", replies)] {
            anyhow::ensure!(
                (0.0..1.0).contains(&share),
                "{name} is a share from 0 up to (not including) 1, not {share}"
            );
        }
        let duplicates = (messages as f64 * duplicates).round() as u64;
        let unique = messages - duplicates.min(messages);
        let replies = (unique as f64 * replies).round() as u64;
        Ok(Self {
            originals: unique - replies,
            replies,
            duplicates,
        })
    }

    pub fn remaining(&self) -> u64 {
        self.originals + self.replies + self.duplicates
    }
}

/// What the next send is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Original,
    Reply,
    Duplicate,
}

impl Budget {
    /// Draws the next sort in proportion to what is left, so that the sorts are spread over
    /// the burst. `can_reply` and `can_duplicate` say whether there is something to answer or
    /// re-send yet; when not, the draw falls back to an original. `None`: nothing can be sent
    /// now (the burst is over when [`Budget::remaining`] is 0, else wait for a send to finish).
    pub fn draw(&mut self, rng: &mut Rng, can_reply: bool, can_duplicate: bool) -> Option<Sort> {
        let total = self.remaining();
        if total == 0 {
            return None;
        }
        let ticket = rng.below(total);
        let mut sort = if ticket < self.originals {
            Sort::Original
        } else if ticket < self.originals + self.replies {
            Sort::Reply
        } else {
            Sort::Duplicate
        };
        if (sort == Sort::Reply && !can_reply) || (sort == Sort::Duplicate && !can_duplicate) {
            sort = match self.originals {
                0 => return None,
                _ => Sort::Original,
            };
        }
        match sort {
            Sort::Original => self.originals -= 1,
            Sort::Reply => self.replies -= 1,
            Sort::Duplicate => self.duplicates -= 1,
        }
        Some(sort)
    }
}

/// splitmix64: small, fast and good enough to pick customers and kinds; no cryptography here.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Self(seed)
    }

    pub fn from_entropy() -> anyhow::Result<Self> {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("reading a random seed")?;
        Ok(Self(u64::from_le_bytes(bytes)))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0); the modulo bias is negligible for our small `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        match items.len() {
            0 => None,
            len => items.get(self.below(len as u64) as usize),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_adds_up() {
        let budget = Budget::new(10_000, 0.1, 0.2).unwrap();
        assert_eq!(budget.duplicates, 1_000);
        assert_eq!(budget.replies, 1_800);
        assert_eq!(budget.originals, 7_200);
        assert!(Budget::new(10, 1.0, 0.0).is_err());
        assert!(Budget::new(10, 0.0, -0.1).is_err());
    }

    #[test]
    fn draws_spend_the_budget_exactly() {
        let mut budget = Budget::new(1_000, 0.1, 0.2).unwrap();
        let mut rng = Rng::seeded(7);
        let (mut originals, mut replies, mut duplicates) = (0, 0, 0);
        // Nothing to answer or re-send for the first draws.
        for i in 0.. {
            match budget.draw(&mut rng, i > 10, i > 10) {
                Some(Sort::Original) => originals += 1,
                Some(Sort::Reply) => replies += 1,
                Some(Sort::Duplicate) => duplicates += 1,
                None => break,
            }
        }
        assert_eq!((originals, replies, duplicates), (720, 180, 100));
    }

    #[test]
    fn the_mix_leaves_out_platforms_without_secrets() {
        let mix = Mix::of(|platform| platform == Platform::Integration);
        let mut rng = Rng::seeded(1);
        for _ in 0..100 {
            assert_eq!(mix.pick(&mut rng), Kind::Integration);
        }
        let all = Mix::of(|_| true);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..1_000 {
            seen.insert(all.pick(&mut rng));
        }
        assert_eq!(seen.len(), 7);
    }
}
