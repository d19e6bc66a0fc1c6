//! Status updates on incidents, as stored: what an agent said and how far its delivery got.
//! [`crate::updates`] advances them.

use crate::delivery::DeliveryState;
use crate::ids::{IncidentId, TicketId, UpdateId};
use crate::incident::Incident;
use crate::message::Source;
use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

/// How many posts socialcare may make for an account in a time window: the platform's limit
/// for the brand (X: per 15 minutes per user, set it to your API tier's), or less to leave room
/// for the agents' own replies.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pace {
    pub posts: u32,
    pub per_seconds: u32,
}

/// Slices per window: a step posts at most a slice's share, so a burst of posts never uses a
/// whole window's budget in its first seconds.
const SLICES: u32 = 10;
impl Pace {
    /// The default for a platform: X's 100 posts per 15 minutes per user (Pro tier), Meta's
    /// page limits counted per hour, integrators, who set no limit, 10 posts a second, and
    /// e-mail at SES's default rate.
    pub fn default_for(source: Source) -> Self {
        let (posts, per_seconds) = match source {
            Source::X => (100, 15 * 60),
            Source::Facebook | Source::Instagram => (200, 3600),
            Source::Integration => (600, 60),
            // SES's default sending rate out of the sandbox: 14 messages a second.
            Source::Email => (840, 60),
        };
        Self { posts, per_seconds }
    }

    pub fn check(&self) -> Result<(), &'static str> {
        if self.posts < 12 {
            return Err("posts must be at least 12 (a twelfth of them goes out per slice)");
        }
        if !(10..=86_400).contains(&self.per_seconds) {
            return Err("per_seconds must be from 10 to 86400");
        }
        Ok(())
    }

    /// A tenth of the window, rounded up to whole seconds.
    pub fn slice(&self) -> Duration {
        Duration::seconds(i64::from(self.per_seconds.div_ceil(SLICES).max(1)))
    }

    pub fn slice_start(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.duration_trunc(self.slice()).unwrap_or(at)
    }

    /// Posts per slice: a twelfth of the limit. Any window of the platform's length touches at
    /// most eleven slices, and a post may go out in the slice after the one that reserved it,
    /// so twelve slices' worth is the most any window sees.
    pub fn per_slice(&self) -> u32 {
        (self.posts / (SLICES + 2)).max(1)
    }
}

/// What an agent asks to say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRequest {
    pub text: String,
    /// Also post it publicly as the brand account (X, Facebook).
    pub post_publicly: bool,
    /// Resolve the incident, and each ticket after its reply: the text is the closing message.
    pub resolves: bool,
    /// Makes the update unique: the same key again is the same update.
    pub key: String,
    pub author: String,
    pub pace: Pace,
}

/// The one public post of an update.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusPost {
    pub state: DeliveryState,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub attempt_started_at: Option<DateTime<Utc>>,
    pub platform_id: Option<String>,
    pub posted_at: Option<DateTime<Utc>>,
    pub error: Option<String>,
}

/// A status update and how far it has got.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentUpdate {
    pub id: UpdateId,
    pub incident_id: IncidentId,
    pub source: Source,
    pub account: String,
    pub text: String,
    /// The agent who wrote it.
    pub author: String,
    pub resolves: bool,
    pub pace: Pace,
    pub created_at: DateTime<Utc>,
    /// `None` when it is not posted publicly.
    pub public_post: Option<StatusPost>,
    /// Tickets that got the update as a reply (written; the outbox posts them).
    pub answered: u64,
    /// Tickets it could not be written on (closed, or no way to reach the customer).
    pub skipped: u64,
    /// Why the last skipped ticket was skipped.
    pub last_skip: Option<String>,
    /// Where the next step resumes in the incident's tickets (newest first).
    pub cursor: Option<String>,
    /// When every attached ticket had been answered.
    pub finished_at: Option<DateTime<Utc>>,
    pub version: u64,
}

impl IncidentUpdate {
    /// A new update on `incident`, nothing done yet.
    pub fn new(incident: &Incident, request: &UpdateRequest, now: DateTime<Utc>) -> Self {
        let public = request.post_publicly && can_post_publicly(incident.source);
        Self {
            // The same key gives the same id whenever the request is retried.
            id: UpdateId::derive(
                incident.opened_at,
                &format!("{}:{}", incident.id, request.key),
            ),
            incident_id: incident.id.clone(),
            source: incident.source,
            account: incident.account.clone(),
            text: request.text.clone(),
            author: request.author.clone(),
            resolves: request.resolves,
            pace: request.pace,
            created_at: now,
            public_post: public.then_some(StatusPost {
                state: DeliveryState::Pending,
                attempts: 0,
                attempt_started_at: None,
                platform_id: None,
                posted_at: None,
                error: None,
            }),
            answered: 0,
            skipped: 0,
            last_skip: None,
            cursor: None,
            finished_at: None,
            version: 1,
        }
    }

    /// The key of this update's reply on a ticket (reply keys are unique per brand account, so
    /// the ticket is part of it).
    pub(crate) fn reply_key(&self, ticket: &TicketId) -> String {
        format!("update:{}:{ticket}", self.id)
    }
}

/// Whether a brand account on `source` can post text publicly on its own: Instagram posts need
/// an image, and an integrator's system has no public channel.
pub fn can_post_publicly(source: Source) -> bool {
    matches!(source, Source::X | Source::Facebook)
}
