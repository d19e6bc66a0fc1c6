//! `GET /report`: the response-time report as charts (first response median and p90 per day,
//! the shares answered within 1 h and 48 h, breaches and satisfaction), its table, and
//! `GET /report.csv` with the same query.

use crate::Console;
use crate::chart;
use crate::format::span;
use crate::inbox::Choice;
use crate::page::{self, Layout, render};
use crate::session::SignedIn;
use askama::Template;
use axum::Extension;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Duration;
use serde::Deserialize;
use socialcare_app::api::{self, ReportParams, ResponseTimes, Store};
use socialcare_domain::report::Figures;
use std::sync::Arc;

#[derive(Debug, Default, Clone, Deserialize)]
pub struct ReportQuery {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    account: String,
}

impl ReportQuery {
    fn params(&self) -> ReportParams {
        let given = |v: &str| Some(v.to_string()).filter(|v| !v.is_empty());
        ReportParams {
            from: given(&self.from),
            to: given(&self.to),
            account: given(&self.account),
            group_by: None,
        }
    }
}

fn duration(seconds: Option<f64>) -> String {
    seconds.map_or_else(
        || "none".into(),
        |s| span(Duration::seconds(s.round() as i64)),
    )
}

fn share(part: Option<f64>) -> String {
    part.map_or_else(|| "none".into(), |p| format!("{:.0} %", p * 100.0))
}

pub struct Summary {
    pub tickets: i64,
    pub opened_by_brand: i64,
    pub median: String,
    pub p90: String,
    pub within_1h: String,
    pub within_48h: String,
    pub breaches: i64,
    pub satisfaction: String,
}

fn summary(f: &Figures) -> Summary {
    Summary {
        tickets: f.tickets,
        opened_by_brand: f.opened_by_brand,
        median: duration(f.first_response.median_seconds),
        p90: duration(f.first_response.p90_seconds),
        within_1h: share(f.answered_within_1h),
        within_48h: share(f.answered_within_48h),
        breaches: f.sla_breaches,
        satisfaction: match f.satisfaction {
            Some(mean) => format!("{mean:.1} / 5 ({} answers)", f.rated),
            None => "no answers".into(),
        },
    }
}

pub struct Day {
    pub day: String,
    pub tickets: i64,
    pub median: String,
    pub p90: String,
    pub within_1h: String,
    pub within_48h: String,
    pub breaches: i64,
}

pub struct ChartView {
    pub title: &'static str,
    pub caption: &'static str,
    pub svg: String,
}

#[derive(Template)]
#[template(path = "report.html")]
struct ReportPage {
    layout: Layout,
    from: String,
    to: String,
    scope: String,
    accounts: Vec<Choice>,
    csv_href: String,
    totals: Summary,
    charts: Vec<ChartView>,
    days: Vec<Day>,
}

/// Every day of the range, with its figures when it had tickets.
fn by_day(report: &ResponseTimes) -> Vec<(String, Option<&Figures>)> {
    let mut days = Vec::new();
    let mut day = Some(report.from);
    while let Some(today) = day.filter(|d| *d <= report.to) {
        let label = today.to_string();
        let figures = report.groups.iter().find(|g| g.group == label);
        days.push((label, figures));
        day = today.succ_opt();
    }
    days
}

fn charts(report: &ResponseTimes) -> Vec<ChartView> {
    let days = by_day(report);
    let labels: Vec<String> = days.iter().map(|(d, _)| d[5..].to_string()).collect();
    let series = |get: fn(&Figures) -> Option<f64>| -> Vec<Option<f64>> {
        days.iter().map(|(_, f)| f.and_then(get)).collect()
    };
    let count_bars = |get: fn(&Figures) -> f64| -> Vec<(String, f64)> {
        days.iter()
            .map(|(d, f)| (d[5..].to_string(), f.map_or(0.0, get)))
            .collect()
    };
    vec![
        ChartView {
            title: "First response, per day",
            caption: "Blue: median; orange: p90; in minutes, from the customer's first message to the brand's first human answer.",
            svg: chart::lines(
                "first response median and p90 per day, minutes",
                &labels,
                &[
                    (
                        "median",
                        series(|f| f.first_response.median_seconds.map(|s| s / 60.0)),
                    ),
                    (
                        "p90",
                        series(|f| f.first_response.p90_seconds.map(|s| s / 60.0)),
                    ),
                ],
                "m",
            ),
        },
        ChartView {
            title: "Answered in time, per day",
            caption: "Blue: the share of answered tickets answered within 1 h; orange: within 48 h.",
            svg: chart::lines(
                "share answered within 1 hour and 48 hours per day",
                &labels,
                &[
                    (
                        "within 1 h",
                        series(|f| f.answered_within_1h.map(|s| s * 100.0)),
                    ),
                    (
                        "within 48 h",
                        series(|f| f.answered_within_48h.map(|s| s * 100.0)),
                    ),
                ],
                "%",
            ),
        },
        ChartView {
            title: "Tickets, per day",
            caption: "New tickets per day.",
            svg: chart::bars(
                "tickets per day",
                &count_bars(|f| f.tickets as f64),
                None,
                None,
            ),
        },
        ChartView {
            title: "SLA breaches, per day",
            caption: "Service-level deadlines passed unmet, by the day their ticket opened.",
            svg: chart::bars(
                "service-level breaches per day",
                &count_bars(|f| f.sla_breaches as f64),
                None,
                None,
            ),
        },
        ChartView {
            title: "Satisfaction, per day",
            caption: "The mean survey score (1 poor to 5 great) of the tickets opened that day.",
            svg: chart::lines(
                "mean satisfaction score per day",
                &labels,
                &[("mean score", series(|f| f.satisfaction))],
                "",
            ),
        },
    ]
}

async fn read<S: Store>(
    console: &Console<S>,
    signed_in: &SignedIn,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<(ReportQuery, ResponseTimes, Vec<String>), Response> {
    let agent = || Some(signed_in.agent());
    let Query(query) = query
        .map_err(|e| page::error(StatusCode::BAD_REQUEST, &e.body_text(), agent(), "/report"))?;
    let report = api::response_times_by(&console.api, &signed_in.caller, &query.params())
        .await
        .map_err(|e| page::api_error(&e, agent(), "/report"))?;
    let every =
        console.api.store.report_accounts().await.map_err(|e| {
            page::api_error(&socialcare_app::error::ApiError::store(e), agent(), "/")
        })?;
    Ok((query, report, every))
}

/// `GET /report?from=&to=&account=`
pub async fn page<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let (query, report, every) = match read(&console, &signed_in, query).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let mut csv = url::form_urlencoded::Serializer::new(String::new());
    csv.append_pair("from", &report.from.to_string());
    csv.append_pair("to", &report.to.to_string());
    if let Some(account) = &report.account {
        csv.append_pair("account", account);
    }
    let days = report
        .groups
        .iter()
        .map(|f| Day {
            day: f.group.clone(),
            tickets: f.tickets,
            median: duration(f.first_response.median_seconds),
            p90: duration(f.first_response.p90_seconds),
            within_1h: share(f.answered_within_1h),
            within_48h: share(f.answered_within_48h),
            breaches: f.sla_breaches,
        })
        .collect();
    let page = ReportPage {
        layout: Layout::new("Response times", Some(signed_in.agent()), "report"),
        from: report.from.to_string(),
        to: report.to.to_string(),
        scope: match &report.account {
            Some(account) => format!("account {account}"),
            None => format!("every account ({})", report.accounts.len()),
        },
        accounts: every
            .iter()
            .map(|a| Choice {
                value: a.clone(),
                label: a.clone(),
                selected: *a == query.account,
            })
            .collect(),
        csv_href: format!("/report.csv?{}", csv.finish()),
        totals: summary(&report.totals),
        charts: charts(&report),
        days,
    };
    render(StatusCode::OK, &page)
}

/// A CSV field: quoted when it holds a separator, a quote or a line break; a leading `=`, `+`,
/// `-` or `@` is neutralised so a spreadsheet never runs it as a formula.
fn field(value: &str) -> String {
    let value = match value.chars().next() {
        Some('=' | '+' | '-' | '@') => format!("'{value}"),
        _ => value.to_string(),
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn number(value: Option<f64>) -> String {
    value.map(|v| format!("{v:.3}")).unwrap_or_default()
}

/// `GET /report.csv?...`: one row per day with tickets, then the totals.
pub async fn csv<S: Store>(
    State(console): State<Arc<Console<S>>>,
    Extension(signed_in): Extension<SignedIn>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Response {
    let (_, report, _) = match read(&console, &signed_in, query).await {
        Ok(read) => read,
        Err(page) => return page,
    };
    let mut out = String::from(
        "day,tickets,first_response_median_seconds,first_response_p90_seconds,answered_within_1h,answered_within_48h,sla_breaches,satisfaction_answers,satisfaction_mean\n",
    );
    for f in report.groups.iter().chain([&report.totals]) {
        let row = [
            field(&f.group),
            f.tickets.to_string(),
            number(f.first_response.median_seconds),
            number(f.first_response.p90_seconds),
            number(f.answered_within_1h),
            number(f.answered_within_48h),
            f.sla_breaches.to_string(),
            f.rated.to_string(),
            number(f.satisfaction),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    let name = format!(
        "attachment; filename=\"response-times-{}-{}.csv\"",
        report.from, report.to
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, name),
        ],
        out,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(field("2026-11-20"), "2026-11-20");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(field("-1+1"), "'-1+1");
    }
}
