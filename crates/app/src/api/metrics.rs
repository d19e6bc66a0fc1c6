//! `GET /v1/metrics/response-times` (agent): the response-time report of a brand account (or all),
//! read from counters kept at write time (a handful of reads, whatever the number of tickets).

use super::{ApiState, Caller, ErrorBody, Store};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use socialcare_domain::access::Role;
use socialcare_domain::report::{Figures, GroupBy, report, totals};
use std::sync::Arc;

/// The longest range one request reads.
const MAX_DAYS: i64 = 366;
/// The range without `from` and `to`: the last 30 days, today included.
const DEFAULT_DAYS: i64 = 30;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct ReportParams {
    /// First UTC day, `YYYY-MM-DD` (tickets opened that day or later); default 29 days before `to`.
    pub from: Option<String>,
    /// Last UTC day, included; default today.
    pub to: Option<String>,
    /// The brand account's platform id (as in the accounts configuration); default every
    /// account the report has counted.
    pub account: Option<String>,
    /// `day` (default), `agent` or `channel`.
    pub group_by: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ResponseTimes {
    /// The account asked for; null for every account.
    pub account: Option<String>,
    /// The accounts the figures are of.
    pub accounts: Vec<String>,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub group_by: GroupBy,
    pub groups: Vec<Figures>,
    /// The whole range, every group together.
    pub totals: Figures,
}

/// `GET /v1/metrics/response-times?from=&to=&account=&group_by=day|agent|channel`: tickets,
/// time to acknowledgement, time to the first human response (median, p90, mean), the shares
/// answered within 1 h and 48 h, SLA breaches and resolution time, from platform timestamps.
/// Without `from`/`to`, the last 30 days; without `account`, every account.
#[utoipa::path(get, path = "/v1/metrics/response-times", tag = "metrics",
    params(ReportParams),
    responses(
        (status = 200, body = ResponseTimes),
        (status = 400, description = "invalid_query, invalid_date, invalid_range, invalid_group_by", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn response_times<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ReportParams>, QueryRejection>,
) -> Result<Json<ResponseTimes>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    Ok(Json(response_times_by(&state, &caller, &params).await?))
}

/// A parameter that was given and is not blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.trim().is_empty())
}

/// The report an agent asks for (the API's and the console's way).
pub async fn response_times_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    params: &ReportParams,
) -> Result<ResponseTimes, ApiError> {
    caller.require(Role::Agent)?;
    // Years far from ours are refused: date arithmetic at chrono's ends would overflow.
    let day = |name: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d")
            .ok()
            .filter(|day| (1970..=9999).contains(&day.year()))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_date",
                    format!("{name} must be a date like 2026-11-23"),
                )
            })
    };
    let to = match given(&params.to) {
        Some(text) => day("to", text)?,
        None => Utc::now().date_naive(),
    };
    let from = match given(&params.from) {
        Some(text) => day("from", text)?,
        None => to - chrono::Duration::days(DEFAULT_DAYS - 1),
    };
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!("from must not be after to, and the range at most {MAX_DAYS} days"),
        ));
    }
    let group_by = match given(&params.group_by).unwrap_or("day") {
        "day" => GroupBy::Day,
        "agent" => GroupBy::Agent,
        "channel" => GroupBy::Channel,
        other => {
            return Err(ApiError::bad_request(
                "invalid_group_by",
                format!("unknown group_by {other:?}; use day, agent or channel"),
            ));
        }
    };
    let account = given(&params.account).map(str::to_string);
    let accounts = match &account {
        Some(account) => vec![account.clone()],
        None => state
            .store
            .report_accounts()
            .await
            .map_err(ApiError::store)?,
    };
    let reads = futures::future::join_all(
        accounts
            .iter()
            .map(|account| state.store.metric_rows(account, group_by, from, to)),
    )
    .await;
    let mut rows = Vec::new();
    for read in reads {
        rows.extend(read.map_err(ApiError::store)?);
    }
    Ok(ResponseTimes {
        account,
        accounts,
        from,
        to,
        group_by,
        totals: totals(&rows),
        groups: report(rows),
    })
}
