//! `GET /v1/metrics/response-times` (agent): the response-time report of one brand account,
//! read from counters kept at write time (a handful of reads, whatever the number of tickets).

use super::{ApiState, Caller, ErrorBody, Store};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use socialcare_domain::access::Role;
use socialcare_domain::report::{Figures, GroupBy, report};
use std::sync::Arc;

/// The longest range one request reads.
const MAX_DAYS: i64 = 366;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(super) struct ReportParams {
    /// First UTC day, `YYYY-MM-DD` (tickets opened that day or later).
    from: String,
    /// Last UTC day, included.
    to: String,
    /// The brand account's platform id (as in the accounts configuration).
    account: String,
    /// `day` (default), `agent` or `channel`.
    group_by: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct ResponseTimes {
    account: String,
    from: NaiveDate,
    to: NaiveDate,
    group_by: GroupBy,
    groups: Vec<Figures>,
}

/// `GET /v1/metrics/response-times?from=&to=&account=&group_by=day|agent|channel`: tickets,
/// time to acknowledgement, time to the first human response (median, p90, mean), the shares
/// answered within 1 h and 48 h, SLA breaches and resolution time, from platform timestamps.
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
    caller.require(Role::Agent)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let day = |name: &str, text: &str| {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            ApiError::bad_request(
                "invalid_date",
                format!("{name} must be a date like 2026-11-23"),
            )
        })
    };
    let (from, to) = (day("from", &params.from)?, day("to", &params.to)?);
    if to < from || (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::bad_request(
            "invalid_range",
            format!("from must not be after to, and the range at most {MAX_DAYS} days"),
        ));
    }
    let group_by = match params.group_by.as_deref().unwrap_or("day") {
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
    let rows = state
        .store
        .metric_rows(&params.account, group_by, from, to)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(ResponseTimes {
        account: params.account,
        from,
        to,
        group_by,
        groups: report(rows),
    }))
}
