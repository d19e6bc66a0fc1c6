//! Service levels: how long a brand account gives itself to answer and to resolve, counted in
//! its business hours when it has a calendar (an IANA time zone, weekly hours, holidays) and in
//! wall-clock time otherwise.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// When an account's people work.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calendar {
    /// An IANA time zone name, e.g. `Europe/Paris`.
    pub time_zone: String,
    /// Opening hours per weekday (`mon`…`sun`), local time; a day left out is closed.
    pub hours: BTreeMap<Day, Hours>,
    /// Closed dates (local).
    #[serde(default)]
    pub holidays: BTreeSet<NaiveDate>,
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn of(weekday: Weekday) -> Self {
        match weekday {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

/// Open from `open` to `close` the same day, local time.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hours {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00:00"))]
    pub open: NaiveTime,
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "17:00:00"))]
    pub close: NaiveTime,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("unknown time zone {0:?}; use an IANA name such as Europe/Paris")]
    UnknownTimeZone(String),
    #[error("{0:?} closes before it opens")]
    Backwards(Day),
    #[error("a calendar needs opening hours on at least one day")]
    NeverOpen,
}

/// How far ahead a deadline is looked for: a year of holidays cannot hide every open day.
const SEARCH_DAYS: i64 = 400;

impl Calendar {
    pub fn check(&self) -> Result<Tz, CalendarError> {
        let zone: Tz = self
            .time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone(self.time_zone.clone()))?;
        if let Some((day, _)) = self.hours.iter().find(|(_, h)| h.close <= h.open) {
            return Err(CalendarError::Backwards(*day));
        }
        if self.hours.is_empty() {
            return Err(CalendarError::NeverOpen);
        }
        Ok(zone)
    }

    /// The instant `business` of open time after `start`. Waiting outside the hours does not
    /// count: a complaint on Friday evening is due on Monday. A calendar that fails
    /// [`Calendar::check`] counts wall-clock time.
    pub fn add(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        let Ok(zone) = self.check() else {
            return start + business;
        };
        let mut left = business;
        let first_day = start.with_timezone(&zone).date_naive();
        for offset in 0..SEARCH_DAYS {
            let Some(date) = first_day.checked_add_signed(Duration::days(offset)) else {
                break;
            };
            let Some((open, close)) = self.open_on(&zone, date) else {
                continue;
            };
            let from = open.max(start);
            if from >= close {
                continue;
            }
            if from + left <= close {
                return from + left;
            }
            left -= close - from;
        }
        start + business
    }

    /// The UTC instants a date opens and closes, if it is an open day.
    fn open_on(&self, zone: &Tz, date: NaiveDate) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        if self.holidays.contains(&date) {
            return None;
        }
        let hours = self.hours.get(&Day::of(date.weekday()))?;
        // Across a DST change a local time may be missing or doubled: take the earliest.
        let at = |time: NaiveTime| {
            zone.from_local_datetime(&date.and_time(time))
                .earliest()
                .map(|local| local.with_timezone(&Utc))
        };
        Some((at(hours.open)?, at(hours.close)?))
    }
}

/// The targets of one priority, in minutes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Targets {
    /// From the ticket's first message to the brand's first human answer.
    pub first_response_minutes: u32,
    /// From each later customer message to the next answer.
    pub next_response_minutes: u32,
    /// From the first message to resolved.
    pub resolution_minutes: u32,
}

/// What happens when: due times of a ticket under a policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub at: DateTime<Utc>,
    /// When to warn the owner (a share of the way to `at`, in the same time).
    pub warn_at: DateTime<Utc>,
}

impl Targets {
    fn minutes(&self, kind: Measure) -> u32 {
        match kind {
            Measure::FirstResponse => self.first_response_minutes,
            Measure::NextResponse => self.next_response_minutes,
            Measure::Resolution => self.resolution_minutes,
        }
    }
}

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    FirstResponse,
    NextResponse,
    Resolution,
}

impl Measure {
    /// Its name, as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Measure::FirstResponse => "first_response",
            Measure::NextResponse => "next_response",
            Measure::Resolution => "resolution",
        }
    }
}

/// An account's service levels.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Targets by priority (`low`, `normal`, `high`, `urgent`); `normal` is required and used
    /// for a priority left out.
    pub targets: BTreeMap<String, Targets>,
    /// Business hours; without them, targets are wall-clock time.
    #[serde(default)]
    pub calendar: Option<Calendar>,
    /// When to warn, as a percentage of the way to the deadline.
    #[serde(default = "eighty")]
    pub warn_at_percent: u8,
    /// Where warnings and breaches of tickets without a team (or whose team has no
    /// `escalation_url`) are POSTed: a Slack-style incoming webhook or an integrator's URL.
    #[serde(default)]
    pub escalation_url: Option<String>,
    /// What the customer hears while they wait and after; wall-clock time.
    #[serde(default)]
    pub followups: Followups,
}

fn eighty() -> u8 {
    80
}

/// Follow-ups: each is off when its delay is `null`.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Followups {
    /// A ticket `pending_internal` this long: the customer hears once that the brand is still
    /// on it, privately.
    #[serde(default = "a_day")]
    pub still_on_it_after_minutes: Option<u32>,
    #[serde(default = "still_on_it")]
    pub still_on_it_text: String,
    /// A ticket `pending_customer` this long closes.
    #[serde(default = "a_week")]
    pub auto_close_after_minutes: Option<u32>,
    /// This long after a ticket is resolved, the customer gets one satisfaction survey.
    #[serde(default = "an_hour")]
    pub survey_after_minutes: Option<u32>,
    #[serde(default = "survey")]
    pub survey_text: String,
    /// The thanks for a good score (4 or 5), with an invitation to share the experience.
    #[serde(default = "invitation")]
    pub invitation_text: String,
}

impl Default for Followups {
    fn default() -> Self {
        Self {
            still_on_it_after_minutes: a_day(),
            still_on_it_text: still_on_it(),
            auto_close_after_minutes: a_week(),
            survey_after_minutes: an_hour(),
            survey_text: survey(),
            invitation_text: invitation(),
        }
    }
}

fn a_day() -> Option<u32> {
    Some(24 * 60)
}
fn a_week() -> Option<u32> {
    Some(7 * 24 * 60)
}
fn an_hour() -> Option<u32> {
    Some(60)
}
fn still_on_it() -> String {
    "We haven't forgotten you: we're still working on this and will get back to you as soon as we can.".into()
}
fn survey() -> String {
    "Thanks for bearing with us. How did we do? Reply with a number from 1 (poor) to 5 (great)."
        .into()
}
fn invitation() -> String {
    "Thank you, that means a lot to the team. If you feel like sharing your experience, we'd be glad; no pressure at all.".into()
}

/// The minutes as a duration, when set.
pub fn minutes(value: Option<u32>) -> Option<Duration> {
    value.map(|m| Duration::minutes(i64::from(m)))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("targets: `normal` is required")]
    NoNormal,
    #[error("targets: unknown priority {0:?}; use low, normal, high or urgent")]
    UnknownPriority(String),
    #[error("targets: every target must be at least one minute")]
    Zero,
    #[error("warn_at_percent must be 1 to 99")]
    Warn,
    #[error("calendar: {0}")]
    Calendar(#[from] CalendarError),
    #[error("escalation_url must be an https:// URL")]
    EscalationUrl,
    #[error("followups: {0}")]
    Followups(&'static str),
}

pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];

impl Policy {
    pub fn check(&self) -> Result<(), PolicyError> {
        if let Some(unknown) = self
            .targets
            .keys()
            .find(|p| !PRIORITIES.contains(&p.as_str()))
        {
            return Err(PolicyError::UnknownPriority(unknown.clone()));
        }
        if !self.targets.contains_key("normal") {
            return Err(PolicyError::NoNormal);
        }
        let zero = self.targets.values().any(|t| {
            t.first_response_minutes == 0
                || t.next_response_minutes == 0
                || t.resolution_minutes == 0
        });
        if zero {
            return Err(PolicyError::Zero);
        }
        if !(1..=99).contains(&self.warn_at_percent) {
            return Err(PolicyError::Warn);
        }
        if let Some(calendar) = &self.calendar {
            calendar.check()?;
        }
        if let Some(url) = &self.escalation_url
            && !is_https(url)
        {
            return Err(PolicyError::EscalationUrl);
        }
        let f = &self.followups;
        let delays = [
            f.still_on_it_after_minutes,
            f.auto_close_after_minutes,
            f.survey_after_minutes,
        ];
        if delays.contains(&Some(0)) {
            return Err(PolicyError::Followups(
                "a delay must be at least one minute",
            ));
        }
        if [&f.still_on_it_text, &f.survey_text, &f.invitation_text]
            .iter()
            .any(|text| text.trim().is_empty())
        {
            return Err(PolicyError::Followups("a text is empty"));
        }
        Ok(())
    }

    /// When `measure`, started at `from`, is due for a ticket of `priority`.
    pub fn due(&self, priority: &str, measure: Measure, from: DateTime<Utc>) -> Option<Due> {
        let targets = self
            .targets
            .get(priority)
            .or_else(|| self.targets.get("normal"))?;
        let seconds = i64::from(targets.minutes(measure)) * 60;
        // In seconds: 50 % of a minute is 30 s, not a rounded-down zero.
        let warn_seconds = seconds * i64::from(self.warn_at_percent) / 100;
        let add = |seconds: i64| match &self.calendar {
            Some(calendar) => calendar.add(from, Duration::seconds(seconds)),
            None => from + Duration::seconds(seconds),
        };
        Some(Due {
            at: add(seconds),
            warn_at: add(warn_seconds),
        })
    }
}

/// An `https://` URL with a host (escalation targets; `http://` only on loopback, for tests
/// and local runs).
pub fn is_https(url: &str) -> bool {
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"];
    let rest = url
        .strip_prefix("https://")
        .or_else(|| loopback.iter().find(|p| url.starts_with(*p)).map(|_| "x"));
    rest.is_some_and(|host| !host.is_empty() && !url.contains(char::is_whitespace))
}

/// Why a set of policies is refused; the message names the account.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoliciesError {
    #[error("policies: an account id is empty")]
    EmptyAccount,
    #[error("policies.{account}.{error}")]
    Policy { account: String, error: PolicyError },
}

/// Every brand account's policy, by account id: one small document, replaced as a whole.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policies {
    pub policies: BTreeMap<String, Policy>,
}

impl Policies {
    /// Checks every policy; the error names the account.
    pub fn check(&self) -> Result<(), PoliciesError> {
        for (account, policy) in &self.policies {
            if account.trim().is_empty() {
                return Err(PoliciesError::EmptyAccount);
            }
            policy.check().map_err(|error| PoliciesError::Policy {
                account: account.clone(),
                error,
            })?;
        }
        Ok(())
    }

    pub fn of(&self, account: &str) -> Option<&Policy> {
        self.policies.get(account)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paris_office() -> Calendar {
        let nine_to_five = Hours {
            open: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            close: NaiveTime::from_hms_opt(17, 0, 0).unwrap(),
        };
        Calendar {
            time_zone: "Europe/Paris".into(),
            hours: [Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri]
                .into_iter()
                .map(|day| (day, nine_to_five))
                .collect(),
            holidays: BTreeSet::from([NaiveDate::from_ymd_opt(2026, 12, 25).unwrap()]),
        }
    }

    fn utc(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn a_friday_evening_complaint_is_due_on_monday_in_the_accounts_zone() {
        let office = paris_office();
        // Friday 2026-11-20 16:00 Paris (15:00 UTC) + 4 business hours: 1 h on Friday, 3 h on
        // Monday from 09:00 Paris: Monday 12:00 Paris = 11:00 UTC.
        assert_eq!(
            office.add(utc(2026, 11, 20, 15, 0), Duration::hours(4)),
            utc(2026, 11, 23, 11, 0)
        );
        // Saturday counts from Monday's opening.
        assert_eq!(
            office.add(utc(2026, 11, 21, 10, 0), Duration::minutes(30)),
            utc(2026, 11, 23, 8, 30)
        );
        // Before opening on a weekday waits for the opening.
        assert_eq!(
            office.add(utc(2026, 11, 24, 5, 0), Duration::hours(1)),
            utc(2026, 11, 24, 9, 0)
        );
        // Exactly the rest of the day ends at the close.
        assert_eq!(
            office.add(utc(2026, 11, 24, 15, 0), Duration::hours(1)),
            utc(2026, 11, 24, 16, 0)
        );
    }

    #[test]
    fn holidays_and_daylight_saving_are_respected() {
        let office = paris_office();
        // Thursday 24 Dec 16:30 Paris + 1 h: 30 min that day; the 25th is a holiday and the
        // 26th and 27th a weekend, so the rest is Monday 28 Dec until 09:30 Paris (08:30 UTC).
        assert_eq!(
            office.add(utc(2026, 12, 24, 15, 30), Duration::hours(1)),
            utc(2026, 12, 28, 8, 30)
        );
        // Paris leaves summer time on Sunday 25 Oct 2026: Friday 23 Oct 16:00 Paris (14:00
        // UTC, UTC+2) + 2 h is Monday 10:00 Paris, now UTC+1: 09:00 UTC.
        assert_eq!(
            office.add(utc(2026, 10, 23, 14, 0), Duration::hours(2)),
            utc(2026, 10, 26, 9, 0)
        );
    }

    #[test]
    fn a_calendar_is_checked() {
        let mut bad = paris_office();
        bad.time_zone = "Mars/Olympus".into();
        assert_eq!(
            bad.check(),
            Err(CalendarError::UnknownTimeZone("Mars/Olympus".into()))
        );
        let mut backwards = paris_office();
        backwards.hours.insert(
            Day::Sat,
            Hours {
                open: NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
                close: NaiveTime::from_hms_opt(10, 0, 0).unwrap(),
            },
        );
        assert_eq!(backwards.check(), Err(CalendarError::Backwards(Day::Sat)));
        let mut never = paris_office();
        never.hours.clear();
        assert_eq!(never.check(), Err(CalendarError::NeverOpen));
    }

    fn policy(calendar: Option<Calendar>) -> Policy {
        Policy {
            targets: BTreeMap::from([
                (
                    "normal".to_string(),
                    Targets {
                        first_response_minutes: 60,
                        next_response_minutes: 120,
                        resolution_minutes: 24 * 60,
                    },
                ),
                (
                    "urgent".to_string(),
                    Targets {
                        first_response_minutes: 15,
                        next_response_minutes: 30,
                        resolution_minutes: 4 * 60,
                    },
                ),
            ]),
            calendar,
            warn_at_percent: 80,
            escalation_url: None,
            followups: Default::default(),
        }
    }

    #[test]
    fn due_times_by_priority_with_and_without_a_calendar() {
        let wall_clock = policy(None);
        let start = utc(2026, 11, 20, 15, 0);
        assert_eq!(
            wall_clock.due("urgent", Measure::FirstResponse, start),
            Some(Due {
                at: start + Duration::minutes(15),
                warn_at: start + Duration::minutes(12),
            })
        );
        // a priority without targets of its own uses normal's
        assert_eq!(
            wall_clock.due("low", Measure::NextResponse, start),
            Some(Due {
                at: start + Duration::minutes(120),
                warn_at: start + Duration::minutes(96),
            })
        );
        let office = policy(Some(paris_office()));
        // Friday 16:00 Paris + 60 business minutes = 17:00 Paris; + 2 h: Monday 10:00 Paris.
        assert_eq!(
            office
                .due("normal", Measure::FirstResponse, start)
                .unwrap()
                .at,
            utc(2026, 11, 20, 16, 0)
        );
        assert_eq!(
            office.due("normal", Measure::NextResponse, start).unwrap(),
            Due {
                at: utc(2026, 11, 23, 9, 0),
                warn_at: utc(2026, 11, 23, 8, 36),
            }
        );
    }

    #[test]
    fn a_warning_inside_a_minute_keeps_its_seconds() {
        let mut short = policy(None);
        short
            .targets
            .get_mut("normal")
            .unwrap()
            .first_response_minutes = 1;
        short.warn_at_percent = 50;
        let from = utc(2026, 11, 23, 9, 0);
        let due = short.due("normal", Measure::FirstResponse, from).unwrap();
        assert_eq!(due.at, from + Duration::minutes(1));
        assert_eq!(due.warn_at, from + Duration::seconds(30));
        // And on business hours too: 75 % of 15 minutes is 11 min 15 s.
        let mut office = policy(Some(paris_office()));
        office
            .targets
            .get_mut("normal")
            .unwrap()
            .first_response_minutes = 15;
        office.warn_at_percent = 75;
        let monday = utc(2026, 11, 23, 9, 0);
        let due = office
            .due("normal", Measure::FirstResponse, monday)
            .unwrap();
        assert_eq!(due.warn_at - monday, Duration::seconds(11 * 60 + 15));
    }

    #[test]
    fn a_policy_is_checked() {
        assert_eq!(policy(None).check(), Ok(()));
        let mut no_normal = policy(None);
        no_normal.targets.remove("normal");
        assert_eq!(no_normal.check(), Err(PolicyError::NoNormal));
        let mut odd = policy(None);
        odd.targets.insert("critical".into(), odd.targets["normal"]);
        assert_eq!(
            odd.check(),
            Err(PolicyError::UnknownPriority("critical".into()))
        );
        let mut zero = policy(None);
        zero.targets
            .get_mut("normal")
            .unwrap()
            .first_response_minutes = 0;
        assert_eq!(zero.check(), Err(PolicyError::Zero));
        let mut warn = policy(None);
        warn.warn_at_percent = 100;
        assert_eq!(warn.check(), Err(PolicyError::Warn));
        let mut zone = policy(Some(paris_office()));
        zone.calendar.as_mut().unwrap().time_zone = "Nowhere".into();
        assert_eq!(
            zone.check(),
            Err(PolicyError::Calendar(CalendarError::UnknownTimeZone(
                "Nowhere".into()
            )))
        );
    }
}
