//! The ticket routes: the list, one ticket with a page of its messages, its trail, status
//! changes, notes and assignment.

use super::*;

#[derive(Debug, Deserialize)]
pub(super) struct ListParams {
    status: Option<String>,
    owner: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

impl ListParams {
    pub(super) fn into_query(self) -> Result<TicketQuery, ApiError> {
        let status = self
            .status
            .map(|raw| raw.parse::<TicketStatus>())
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))?;
        let limit = match self.limit {
            None => TicketQuery::DEFAULT_LIMIT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=TicketQuery::MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!(
                            "limit must be a number from 1 to {}",
                            TicketQuery::MAX_LIMIT
                        ),
                    )
                })?,
        };
        let after = self
            .cursor
            .map(|raw| Cursor::decode(&raw))
            .transpose()
            .map_err(|e| ApiError::bad_request("invalid_cursor", e.to_string()))?;
        let owner = self.owner.filter(|owner| !owner.trim().is_empty());
        Ok(TicketQuery {
            status,
            owner,
            limit,
            after,
        })
    }
}

/// A page of tickets, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TicketEnvelope {
    pub ticket: Ticket,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventList {
    /// Oldest first.
    pub events: Vec<TicketEvent>,
    /// Continues the events; absent on the last page.
    pub next_cursor: Option<String>,
}

pub(super) fn ticket_id(raw: &str) -> Result<TicketId, ApiError> {
    TicketId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no ticket {raw}")))
}

pub(super) fn command_failed(e: CommandError) -> ApiError {
    match e {
        CommandError::NotFound(id) => ApiError::not_found(format!("no ticket {id}")),
        CommandError::Invalid(refused) => ApiError::new(
            StatusCode::CONFLICT,
            "invalid_transition",
            refused.to_string(),
        ),
        CommandError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        CommandError::Store(e) => ApiError::store(e),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusChange {
    /// open, pending_customer, pending_internal, resolved or closed
    status: String,
}

/// `POST /v1/tickets/{id}/status` `{"status": "resolved"}`: the lifecycle's transitions only.
#[utoipa::path(post, path = "/v1/tickets/{id}/status", tag = "tickets",
    params(("id" = String, Path)), request_body = StatusChange,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 400, description = "invalid_status", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "invalid_transition", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn change_status<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TicketEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    ticket_id(&id)?;
    let request: StatusChange = parse(&body)?;
    let ticket = change_status_by(&state, &caller, &id, &request.status).await?;
    Ok(Json(TicketEnvelope { ticket }))
}

/// An agent moves ticket `id` to `status` (the API's and the console's way).
pub async fn change_status_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    status: &str,
) -> Result<Ticket, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    let next = status
        .parse::<TicketStatus>()
        .map_err(|e| ApiError::bad_request("invalid_status", e.to_string()))?;
    let changed = lifecycle::change_status(&state.store, &id, next, caller.actor(), Utc::now())
        .await
        .map_err(command_failed)?;
    crate::metrics::report(&changed.samples);
    Ok(changed.ticket)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PriorityChange {
    /// low, normal, high or urgent
    priority: String,
}

/// `POST /v1/tickets/{id}/priority` `{"priority": "urgent"}` (agent): the deadlines already
/// running stay; later ones follow the new priority.
#[utoipa::path(post, path = "/v1/tickets/{id}/priority", tag = "tickets",
    params(("id" = String, Path)), request_body = PriorityChange,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 400, description = "invalid_priority", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn change_priority<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TicketEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    ticket_id(&id)?;
    let request: PriorityChange = parse(&body)?;
    let ticket = change_priority_by(&state, &caller, &id, &request.priority).await?;
    Ok(Json(TicketEnvelope { ticket }))
}

/// An agent sets the priority of ticket `id`.
pub async fn change_priority_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    priority: &str,
) -> Result<Ticket, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    let next = priority
        .parse::<socialcare_domain::Priority>()
        .map_err(|e| ApiError::bad_request("invalid_priority", e.to_string()))?;
    lifecycle::change_priority(&state.store, &id, next, caller.actor(), Utc::now())
        .await
        .map_err(command_failed)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewNote {
    text: String,
}

pub(super) const MAX_NOTE_CHARS: usize = 10_000;

/// `POST /v1/tickets/{id}/notes` `{"text": "..."}`: an internal note on the ticket's trail.
#[utoipa::path(post, path = "/v1/tickets/{id}/notes", tag = "tickets",
    params(("id" = String, Path)), request_body = NewNote,
    responses(
        (status = 201, body = TicketEvent),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, description = "invalid_note", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn add_note<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TicketEvent>), ApiError> {
    caller.require(Role::Agent)?;
    ticket_id(&id)?;
    let note: NewNote = parse(&body)?;
    let event = add_note_by(&state, &caller, &id, &note.text).await?;
    Ok((StatusCode::CREATED, Json(event)))
}

/// An agent writes an internal note on ticket `id`.
pub async fn add_note_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    text: &str,
) -> Result<TicketEvent, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_NOTE_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_note",
            "text: must be 1 to 10000 characters",
        ));
    }
    lifecycle::add_note(&state.store, &id, text, caller.actor(), Utc::now())
        .await
        .map_err(command_failed)
}

/// `GET /v1/tickets/{id}/events?limit=&cursor=`: a page of the audit trail, oldest first.
#[utoipa::path(get, path = "/v1/tickets/{id}/events", tag = "tickets",
    params(("id" = String, Path), PageParams),
    responses(
        (status = 200, body = EventList),
        (status = 400, description = "invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn ticket_events<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<EventList>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = ticket_id(&id)?;
    let (limit, after) = PageParams::read(params)?;
    if state
        .store
        .get_ticket(&id)
        .await
        .map_err(ApiError::store)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no ticket {id}")));
    }
    let events = state
        .store
        .ticket_events_page(&id, after.as_deref(), limit)
        .await
        .map_err(ApiError::store)?;
    let next_cursor = next_cursor(
        events.len() == limit as usize,
        events.last().map(TicketEvent::sort_key),
    );
    Ok(Json(EventList {
        events,
        next_cursor,
    }))
}

/// `GET /v1/tickets?status=&owner=&limit=&cursor=`: newest first.
#[utoipa::path(get, path = "/v1/tickets", tag = "tickets",
    params(
        ("status" = Option<String>, Query, description = "open, pending_customer, pending_internal, resolved or closed"),
        ("owner" = Option<String>, Query, description = "an agent's name"),
        ("limit" = Option<u32>, Query, description = "1 to 200, default 50"),
        ("cursor" = Option<String>, Query, description = "next_cursor of the previous page"),
    ),
    responses(
        (status = 200, body = TicketList),
        (status = 400, description = "invalid_status, invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn list_tickets<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<TicketList>, ApiError> {
    caller.require(Role::Integrator)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = params.into_query()?;
    let page = state
        .store
        .list_tickets(&query)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(TicketList {
        tickets: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

/// A page of a ticket's messages or events: `limit` 1 to 200 (default 100), `cursor` the
/// `next_cursor` of the page before.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub(crate) struct PageParams {
    limit: Option<String>,
    cursor: Option<String>,
}

pub(super) const PAGE_DEFAULT: u32 = 100;

pub(super) const PAGE_MAX: u32 = 200;

impl PageParams {
    /// The limit and the sort key to continue after.
    fn read(
        params: Result<Query<Self>, QueryRejection>,
    ) -> Result<(u32, Option<String>), ApiError> {
        let Query(params) =
            params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
        let limit = match params.limit {
            None => PAGE_DEFAULT,
            Some(raw) => raw
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=PAGE_MAX).contains(n))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_limit",
                        format!("limit must be a number from 1 to {PAGE_MAX}"),
                    )
                })?,
        };
        let bad = || {
            ApiError::bad_request(
                "invalid_cursor",
                "the cursor is not one this API handed out",
            )
        };
        let after = params
            .cursor
            .map(|raw| {
                use base64::Engine;
                let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(raw)
                    .map_err(|_| bad())?;
                // A sort key this API handed out: a time, then ids.
                String::from_utf8(bytes)
                    .ok()
                    .filter(|key| {
                        key.len() <= 200
                            && key.split_once('#').is_some_and(|(time, rest)| {
                                !rest.is_empty()
                                    && chrono::DateTime::parse_from_rfc3339(time).is_ok()
                            })
                    })
                    .ok_or_else(bad)
            })
            .transpose()?;
        Ok((limit, after))
    }
}

/// Lambda answers at most 6 MB; a page stops before its messages pass this many bytes of JSON.
pub(super) const PAGE_BUDGET_BYTES: usize = 4 * 1024 * 1024;

/// How many of `messages` fit in [`PAGE_BUDGET_BYTES`]; at least one, so a page always moves on.
pub(super) fn within_budget(messages: &[socialcare_domain::Message]) -> usize {
    let mut used = 0;
    for (index, message) in messages.iter().enumerate() {
        used += serde_json::to_vec(message)
            .map(|json| json.len())
            .unwrap_or(0);
        if used > PAGE_BUDGET_BYTES && index > 0 {
            return index;
        }
    }
    messages.len()
}

/// The cursor that continues after `sort_key`, when the page was full.
pub(super) fn next_cursor(full: bool, sort_key: Option<String>) -> Option<String> {
    use base64::Engine;
    sort_key
        .filter(|_| full)
        .map(|key| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key))
}

/// A ticket with its customer and a page of its messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    pub ticket: Ticket,
    pub customer: Option<Customer>,
    /// Oldest first, by platform time.
    pub messages: Vec<socialcare_domain::Message>,
    /// Continues the messages; absent on the last page.
    pub next_cursor: Option<String>,
}

/// `GET /v1/tickets/{id}?limit=&cursor=`: the ticket with its customer and a page of its
/// messages, oldest first.
#[utoipa::path(get, path = "/v1/tickets/{id}", tag = "tickets",
    params(("id" = String, Path), PageParams),
    responses(
        (status = 200, body = TicketPage),
        (status = 400, description = "invalid_limit, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn ticket_detail<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<TicketPage>, ApiError> {
    caller.require(Role::Integrator)?;
    let ticket_id = ticket_id(&id)?;
    let (limit, after) = PageParams::read(params)?;
    let ticket = state
        .store
        .get_ticket(&ticket_id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no ticket {id}")))?;
    let customer = state
        .store
        .get_customer(&ticket.customer_id)
        .await
        .map_err(ApiError::store)?;
    let mut messages = state
        .store
        .ticket_messages(&ticket_id, after.as_deref(), limit)
        .await
        .map_err(ApiError::store)?;
    let cut = within_budget(&messages);
    let full = messages.len() == limit as usize || cut < messages.len();
    messages.truncate(cut);
    let next_cursor = next_cursor(
        full,
        messages.last().map(socialcare_domain::Message::sort_key),
    );
    Ok(Json(TicketPage {
        ticket,
        customer,
        messages,
        next_cursor,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignRequest {
    agent: Option<String>,
    team: Option<String>,
}

/// `POST /v1/tickets/{id}/assign` `{"agent": "tim"}`, `{"team": "support"}` or both (agent):
/// a team alone gives the ticket to its next active member, round-robin.
#[utoipa::path(post, path = "/v1/tickets/{id}/assign", tag = "tickets",
    params(("id" = String, Path)), request_body = AssignRequest,
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "nobody_active", body = ErrorBody),
        (status = 422, description = "unknown_agent, unknown_team, invalid_assignment", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn assign<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<TicketEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    ticket_id(&id)?;
    let request: AssignRequest = parse(&body)?;
    let assignment = Assignment {
        agent: request.agent,
        team: request.team,
    };
    let ticket = assign_by(&state, &caller, &id, &assignment).await?;
    Ok(Json(TicketEnvelope { ticket }))
}

/// An agent gives ticket `id` to an agent, a team, or both.
pub async fn assign_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    assignment: &Assignment,
) -> Result<Ticket, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    ownership::assign(
        &state.store,
        &id,
        assignment,
        &state.teams().await,
        caller.actor(),
        Utc::now(),
    )
    .await
    .map_err(assign_failed)
}

fn assign_failed(e: AssignError) -> ApiError {
    match e {
        AssignError::UnknownAgent(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_agent",
            e.to_string(),
        ),
        AssignError::UnknownTeam(_) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown_team",
            e.to_string(),
        ),
        AssignError::Empty => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_assignment",
            e.to_string(),
        ),
        AssignError::NobodyActive(_) => {
            ApiError::new(StatusCode::CONFLICT, "nobody_active", e.to_string())
        }
        AssignError::Command(e) => command_failed(e),
    }
}

/// `POST /v1/tickets/{id}/unassign` (agent): no owner and no team; the ticket is back in the
/// unassigned queue.
#[utoipa::path(post, path = "/v1/tickets/{id}/unassign", tag = "tickets",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = TicketEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn unassign<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<TicketEnvelope>, ApiError> {
    let ticket = unassign_by(&state, &caller, &id).await?;
    Ok(Json(TicketEnvelope { ticket }))
}

/// An agent gives ticket `id` back to the queue.
pub async fn unassign_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Ticket, ApiError> {
    caller.require(Role::Agent)?;
    let id = ticket_id(id)?;
    ownership::unassign(&state.store, &id, caller.actor(), Utc::now())
        .await
        .map_err(assign_failed)
}
