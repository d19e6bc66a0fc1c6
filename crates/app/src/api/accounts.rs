//! `/v1/accounts`, `/v1/teams` and `/v1/configuration/changes` (admin): the brand accounts
//! with their settings and the teams, kept as one versioned document. Every change is checked
//! whole before it is stored (the same checks and messages as an imported file), is a new
//! version in the caller's name, and is in force in every function within a minute.

use super::{ApiState, Caller, ErrorBody, Store};
use crate::accounts::{Account, AccountsDocument, Platform};
use crate::configuration::{self, ChangeError};
use crate::connect::{self, HealthView, NewToken, TokenView};
use crate::error::ApiError;
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use socialcare_domain::access::Role;
use socialcare_domain::configuration::ConfigurationChange;
use socialcare_domain::ownership::Team;
use socialcare_domain::search::SearchState;
use socialcare_webhooks::payload::parse;
use std::sync::Arc;
use utoipa::ToSchema;

/// `{"accounts": [...]}`, in the order they were added.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<Account>,
}

/// `{"teams": [...]}`, in the order they were added.
#[derive(Debug, Serialize, ToSchema)]
pub struct TeamList {
    pub teams: Vec<Team>,
}

/// `{"changes": [...]}`, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeList {
    pub changes: Vec<ConfigurationChange>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangesParams {
    limit: Option<usize>,
}

/// An edit's own refusal.
type Refusal = ApiError;

fn change_failed(e: ChangeError<Refusal>) -> ApiError {
    match e {
        ChangeError::Edit(refusal) => refusal,
        ChangeError::Invalid(error) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_configuration",
            error.to_string(),
        ),
        ChangeError::Store(e) => ApiError::store(e),
        ChangeError::Busy => ApiError::new(
            StatusCode::CONFLICT,
            "contention",
            "the configuration kept changing; try again",
        ),
    }
}

/// The document as stored now (not as cached): what an admin edits.
pub async fn stored_document<S: Store>(state: &ApiState<S>) -> Result<AccountsDocument, ApiError> {
    match state.store.configuration().await.map_err(ApiError::store)? {
        None => Ok(AccountsDocument::default()),
        Some(stored) => serde_json::from_str(&stored.document).map_err(|e| {
            ApiError::unavailable(
                "unreadable_configuration",
                format!("version {}: {e}", stored.version),
            )
        }),
    }
}

/// One change of the configuration in `caller`'s name (an admin's): the document it made, or
/// the refusal in the API's words.
pub(crate) async fn change<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    summary: &str,
    edit: impl Fn(&mut AccountsDocument) -> Result<(), Refusal>,
) -> Result<AccountsDocument, ApiError> {
    caller.require(Role::Admin)?;
    let (_, configuration) = configuration::change(
        &state.store,
        &state.configuration,
        &caller.name,
        summary,
        Utc::now(),
        edit,
    )
    .await
    .map_err(change_failed)?;
    Ok(configuration.document.clone())
}

fn platform_of(name: &str) -> Result<Platform, ApiError> {
    Platform::named(name).ok_or_else(|| {
        ApiError::not_found(format!("no platform {name:?}: x, facebook or instagram"))
    })
}

fn no_account(platform: Platform, id: &str) -> ApiError {
    ApiError::not_found(format!("no {} account {id}", platform.as_str()))
}

fn no_team(name: &str) -> ApiError {
    ApiError::not_found(format!("no team {name:?}"))
}

/// A body's fields filled from the path where it leaves them out; a body that names other
/// ones is refused.
fn with_path_fields<T: serde::de::DeserializeOwned>(
    body: &[u8],
    fields: &[(&str, &str)],
) -> Result<T, ApiError> {
    let mut value: Value = parse(body)?;
    let Some(object) = value.as_object_mut() else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "the body must be a JSON object",
        ));
    };
    for (field, in_path) in fields {
        match object.get(*field) {
            None => {
                object.insert(field.to_string(), Value::String(in_path.to_string()));
            }
            Some(Value::String(given)) if given == in_path => {}
            Some(given) => {
                return Err(ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "path_mismatch",
                    format!("{field} is {in_path:?} in the path but {given} in the body"),
                ));
            }
        }
    }
    serde_json::from_value(value).map_err(|e| ApiError::bad_request("invalid_body", e.to_string()))
}

/// An admin adds an account; 409 when it is configured already.
pub async fn create_account_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    account: Account,
) -> Result<Account, ApiError> {
    let summary = format!("added {} account {}", account.platform.as_str(), account.id);
    let (platform, id) = (account.platform, account.id.clone());
    let document = change(state, caller, &summary, |document| {
        if document.account(platform, &id).is_some() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "account_exists",
                format!("{} account {id} is configured already", platform.as_str()),
            ));
        }
        document.accounts.push(account.clone());
        Ok(())
    })
    .await?;
    found_account(&document, platform, &id)
}

/// An admin replaces an account's settings, or adds it; whether it was added.
pub async fn put_account_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    account: Account,
) -> Result<(bool, Account), ApiError> {
    let (platform, id) = (account.platform, account.id.clone());
    let before = stored_document(state).await?;
    let existed = before.account(platform, &id).is_some();
    let verb = if existed { "changed" } else { "added" };
    let summary = format!("{verb} {} account {id}", platform.as_str());
    let document = change(state, caller, &summary, |document| {
        match document.account(platform, &id) {
            Some(at) => document.accounts[at] = account.clone(),
            None => document.accounts.push(account.clone()),
        }
        Ok(())
    })
    .await?;
    Ok((!existed, found_account(&document, platform, &id)?))
}

/// An admin removes an account: its webhooks are dropped from then on and its token is
/// forgotten (its tickets stay).
pub async fn delete_account_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    // The token first: a removal that fails half-way and is asked again leaves no token
    // behind for an account added again later.
    state
        .store
        .delete_token(platform.source(), id)
        .await
        .map_err(ApiError::store)?;
    let summary = format!("removed {} account {id}", platform.as_str());
    change(state, caller, &summary, |document| {
        let at = document
            .account(platform, id)
            .ok_or_else(|| no_account(platform, id))?;
        document.accounts.remove(at);
        Ok(())
    })
    .await?;
    Ok(())
}

/// An admin replaces a team, or adds it; whether it was added.
pub async fn put_team_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    team: Team,
) -> Result<(bool, Team), ApiError> {
    let name = team.name.clone();
    let existed = stored_document(state).await?.team(&name).is_some();
    let verb = if existed { "changed" } else { "added" };
    let document = change(state, caller, &format!("{verb} team {name}"), |document| {
        match document.team(&name) {
            Some(at) => document.teams[at] = team.clone(),
            None => document.teams.push(team.clone()),
        }
        Ok(())
    })
    .await?;
    let team = document
        .team(&name)
        .map(|at| document.teams[at].clone())
        .ok_or_else(|| no_team(&name))?;
    Ok((!existed, team))
}

/// An admin removes a team; refused while another team escalates to it.
pub async fn delete_team_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    name: &str,
) -> Result<(), ApiError> {
    change(state, caller, &format!("removed team {name}"), |document| {
        let at = document.team(name).ok_or_else(|| no_team(name))?;
        document.teams.remove(at);
        Ok(())
    })
    .await?;
    Ok(())
}

fn found_account(
    document: &AccountsDocument,
    platform: Platform,
    id: &str,
) -> Result<Account, ApiError> {
    document
        .account(platform, id)
        .map(|at| document.accounts[at].clone())
        .ok_or_else(|| no_account(platform, id))
}

/// `GET /v1/accounts` (admin): every brand account with its settings.
#[utoipa::path(get, path = "/v1/accounts", tag = "configuration",
    responses((status = 200, body = AccountList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_accounts<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<AccountList>, ApiError> {
    caller.require(Role::Admin)?;
    let accounts = stored_document(&state).await?.accounts;
    Ok(Json(AccountList { accounts }))
}

/// `POST /v1/accounts` (admin): adds a brand account (`platform`, `id`, optional `handle`,
/// `name`, `acknowledgement`, `triage`, `spikes`, `pace`, `answer_praise_and_noise`,
/// `retention_days`, `listening`, `link_same_email`).
#[utoipa::path(post, path = "/v1/accounts", tag = "configuration", request_body = Account,
    responses(
        (status = 201, body = Account),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "account_exists", body = ErrorBody),
        (status = 422, description = "invalid_configuration, in the words of the configuration's checks", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn create_account<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    caller.require(Role::Admin)?;
    let account: Account = parse(&body)?;
    let account = create_account_by(&state, &caller, account).await?;
    Ok((StatusCode::CREATED, Json(account)))
}

/// `GET /v1/accounts/{platform}/{id}` (admin).
#[utoipa::path(get, path = "/v1/accounts/{platform}/{id}", tag = "configuration",
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses((status = 200, body = Account), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_account<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<Json<Account>, ApiError> {
    caller.require(Role::Admin)?;
    let platform = platform_of(&platform)?;
    let document = stored_document(&state).await?;
    Ok(Json(found_account(&document, platform, &id)?))
}

/// `PUT /v1/accounts/{platform}/{id}` (admin): replaces the account's settings (201 when it
/// adds it). `platform` and `id` may be left out of the body.
#[utoipa::path(put, path = "/v1/accounts/{platform}/{id}", tag = "configuration", request_body = Account,
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses(
        (status = 200, body = Account), (status = 201, body = Account),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_configuration or path_mismatch", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn put_account<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<(StatusCode, Json<Account>), ApiError> {
    caller.require(Role::Admin)?;
    platform_of(&platform)?;
    let account: Account = with_path_fields(&body, &[("platform", &platform), ("id", &id)])?;
    let (added, account) = put_account_by(&state, &caller, account).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(account)))
}

/// `DELETE /v1/accounts/{platform}/{id}` (admin): its webhooks are dropped from then on; its
/// tickets stay.
#[utoipa::path(delete, path = "/v1/accounts/{platform}/{id}", tag = "configuration",
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn delete_account<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let platform = platform_of(&platform)?;
    delete_account_by(&state, &caller, platform, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/teams` (admin): every team.
#[utoipa::path(get, path = "/v1/teams", tag = "configuration",
    responses((status = 200, body = TeamList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_teams<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TeamList>, ApiError> {
    caller.require(Role::Admin)?;
    let teams = stored_document(&state).await?.teams;
    Ok(Json(TeamList { teams }))
}

/// `GET /v1/teams/{name}` (admin).
#[utoipa::path(get, path = "/v1/teams/{name}", tag = "configuration",
    params(("name" = String, Path)),
    responses((status = 200, body = Team), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_team<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<Team>, ApiError> {
    caller.require(Role::Admin)?;
    let document = stored_document(&state).await?;
    let at = document.team(&name).ok_or_else(|| no_team(&name))?;
    Ok(Json(document.teams[at].clone()))
}

/// `PUT /v1/teams/{name}` (admin): replaces the team (201 when it adds it): `members` (agents
/// by the names of their keys, in round-robin order), `lead`, `escalation_url`,
/// `escalates_to`. `name` may be left out of the body.
#[utoipa::path(put, path = "/v1/teams/{name}", tag = "configuration", request_body = Team,
    params(("name" = String, Path)),
    responses(
        (status = 200, body = Team), (status = 201, body = Team),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, description = "invalid_configuration or path_mismatch", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn put_team<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Team>), ApiError> {
    caller.require(Role::Admin)?;
    let team: Team = with_path_fields(&body, &[("name", &name)])?;
    let (added, team) = put_team_by(&state, &caller, team).await?;
    let status = if added {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(team)))
}

/// `DELETE /v1/teams/{name}` (admin); 422 while another team escalates to it. Tickets it
/// owns keep its name until they are assigned again.
#[utoipa::path(delete, path = "/v1/teams/{name}", tag = "configuration",
    params(("name" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn delete_team<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    delete_team_by(&state, &caller, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/configuration/changes?limit=` (admin): who changed the accounts and teams, what
/// and when, newest first (at most `limit`, default 50, up to 500).
#[utoipa::path(get, path = "/v1/configuration/changes", tag = "configuration",
    params(("limit" = Option<usize>, Query)),
    responses((status = 200, body = ChangeList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_changes<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ChangesParams>, QueryRejection>,
) -> Result<Json<ChangeList>, ApiError> {
    caller.require(Role::Admin)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let limit = params.limit.unwrap_or(50).clamp(1, 500);
    let changes = state
        .store
        .configuration_changes(limit)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(ChangeList { changes }))
}

/// `PUT /v1/accounts/{platform}/{id}/token` (admin): sets the account's token by hand (X:
/// `access_token` and `access_token_secret`; Facebook: `page_token`; Instagram: `page_token`
/// and the `page_id` of its Facebook page), checked with the platform first, stored sealed.
/// The answer says whether one is set, never what it is.
#[utoipa::path(put, path = "/v1/accounts/{platform}/{id}/token", tag = "configuration", request_body = NewToken,
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses(
        (status = 200, body = TokenView),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "platform_refused, in the platform's words", body = ErrorBody),
        (status = 502, description = "platform_failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn put_token<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<TokenView>, ApiError> {
    caller.require(Role::Admin)?;
    let platform = platform_of(&platform)?;
    let token: NewToken = parse(&body)?;
    Ok(Json(
        connect::set_token_by(&state, &caller, platform, &id, token).await?,
    ))
}

/// `DELETE /v1/accounts/{platform}/{id}/token` (admin): replies for the account fail until a
/// token is connected again.
#[utoipa::path(delete, path = "/v1/accounts/{platform}/{id}/token", tag = "configuration",
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn delete_token<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let platform = platform_of(&platform)?;
    connect::delete_token_by(&state, &caller, platform, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /v1/accounts/{platform}/{id}/searches` (admin): each of the account's search queries
/// with how far it has read, what it found and ticketed, what it heard and did not ticket
/// (counted by intent, the latest kept), and when it polls next or why it waits.
#[utoipa::path(get, path = "/v1/accounts/{platform}/{id}/searches", tag = "configuration",
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses((status = 200, body = Vec<SearchState>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_searches<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<Json<Vec<SearchState>>, ApiError> {
    let platform = platform_of(&platform)?;
    Ok(Json(searches_by(&state, &caller, platform, &id).await?))
}

/// The states of the account's configured searches, in the order they are configured (a
/// query never polled yet has a state at version 0).
pub async fn searches_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    platform: Platform,
    id: &str,
) -> Result<Vec<SearchState>, ApiError> {
    caller.require(Role::Admin)?;
    let document = crate::api::stored_document(state).await?;
    let Some(at) = document.account(platform, id) else {
        return Err(ApiError::not_found(format!(
            "no {} account {id}",
            platform.as_str()
        )));
    };
    let queries = document.accounts[at]
        .listening
        .as_ref()
        .map(|listening| listening.queries.clone())
        .unwrap_or_default();
    let source = platform.source();
    let read = queries
        .iter()
        .map(|query| state.store.search_state(source, id, query));
    let states = futures::future::try_join_all(read)
        .await
        .map_err(ApiError::store)?;
    Ok(queries
        .iter()
        .zip(states)
        .map(|(query, stored)| stored.unwrap_or_else(|| SearchState::new(source, id, query)))
        .collect())
}

/// `GET /v1/accounts/{platform}/{id}/health` (admin): last webhook received, last successful
/// post, whether the token is set and not refused since, the rate-limit headroom, whether the
/// platform delivers the account's events.
#[utoipa::path(get, path = "/v1/accounts/{platform}/{id}/health", tag = "configuration",
    params(("platform" = String, Path, description = "x, facebook or instagram"), ("id" = String, Path)),
    responses((status = 200, body = HealthView), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn get_health<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path((platform, id)): Path<(String, String)>,
) -> Result<Json<HealthView>, ApiError> {
    let platform = platform_of(&platform)?;
    Ok(Json(
        connect::health_by(&state, &caller, platform, &id).await?,
    ))
}
