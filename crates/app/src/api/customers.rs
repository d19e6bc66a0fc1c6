//! `GET /v1/customers/{id}` and `POST /v1/customers/{id}/identities`: a customer with every
//! identity and ticket, and linking another identity; the customer's data rights: `GET
//! /v1/customers/{id}/export`, `DELETE /v1/customers/{id}` and the log of erasures.

use super::*;
use socialcare_domain::contacts::Suggestion;
use socialcare_domain::customer::ContactMark;
use socialcare_domain::customers::{MergeError, Merged};
use socialcare_domain::privacy::{self, CustomerExport, ErasureError};
use socialcare_domain::{Erasure, Merge};

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerHistory {
    pub customer: Customer,
    /// The customer's tickets, newest first.
    pub tickets: Vec<Ticket>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerEnvelope {
    pub customer: Customer,
}

pub(super) fn customer_id(raw: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(raw).ok_or_else(|| ApiError::not_found(format!("no customer {raw}")))
}

/// `GET /v1/customers/{id}?limit=&cursor=`: the profile with every identity, and the
/// customer's tickets, newest first.
#[utoipa::path(get, path = "/v1/customers/{id}", tag = "customers",
    params(
        ("id" = String, Path),
        ("limit" = Option<u32>, Query), ("cursor" = Option<String>, Query),
    ),
    responses((status = 200, body = CustomerHistory), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn customer_history<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<CustomerHistory>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(&id)?;
    let Query(params) =
        params.map_err(|e| ApiError::bad_request("invalid_query", e.body_text()))?;
    let query = TicketQuery {
        status: None,
        owner: None,
        ..params.into_query()?
    };
    let customer = CustomerStore::get_customer(&state.store, &id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))?;
    let page = state
        .store
        .customer_tickets(&id, &query)
        .await
        .map_err(ApiError::store)?;
    Ok(Json(CustomerHistory {
        customer,
        tickets: page.items,
        next_cursor: page.next.map(|cursor| cursor.encode()),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewIdentity {
    pub source: Source,
    pub account: String,
    pub user_id: String,
    pub handle: Option<String>,
}

/// `POST /v1/customers/{id}/identities`: links another identity (an X account, a page-scoped
/// id, an e-mail or CRM id) to the customer.
#[utoipa::path(post, path = "/v1/customers/{id}/identities", tag = "customers",
    params(("id" = String, Path)), request_body = NewIdentity,
    responses(
        (status = 200, body = CustomerEnvelope),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, description = "identity_taken", body = ErrorBody),
        (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn link_identity<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<CustomerEnvelope>, ApiError> {
    caller.require(Role::Integrator)?;
    customer_id(&id)?;
    let request: NewIdentity = parse(&body)?;
    let customer = link_identity_by(&state, &caller, &id, request).await?;
    Ok(Json(CustomerEnvelope { customer }))
}

/// Links another identity to customer `id` (the API's and the console's way).
pub async fn link_identity_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    request: NewIdentity,
) -> Result<Customer, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(id)?;
    if request.account.trim().is_empty() || request.user_id.trim().is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_identity",
            "account and user_id must not be empty",
        ));
    }
    // Mailboxes and senders are matched in lowercase, as mail is read.
    let lowercase = |text: String| match request.source {
        socialcare_domain::Source::Email => text.trim().to_lowercase(),
        _ => text,
    };
    let identity = Identity {
        source: request.source,
        account: lowercase(request.account),
        user_id: lowercase(request.user_id),
        handle: request.handle,
    };
    let customer =
        socialcare_domain::customers::link_identity(&state.store, &id, identity, Utc::now())
            .await
            .map_err(|e| match e {
                LinkError::NotFound(_) => ApiError::not_found(e.to_string()),
                LinkError::Taken(_) => {
                    ApiError::new(StatusCode::CONFLICT, "identity_taken", e.to_string())
                }
                LinkError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
                LinkError::Store(e) => ApiError::store(e),
            })?;
    Ok(customer)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct MergeRequest {
    /// The customer to merge into this one: their identities and tickets move here, and they
    /// are gone.
    pub customer_id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MergeEnvelope {
    pub merge: Merge,
    /// The customer with everything of both.
    pub customer: Customer,
}

/// `POST /v1/customers/{id}/merge` (agent): the customer in the body is the same person as
/// this one; their identities, tickets and history move here. Asking again answers the same
/// record.
#[utoipa::path(post, path = "/v1/customers/{id}/merge", tag = "customers",
    params(("id" = String, Path)), request_body = MergeRequest,
    responses(
        (status = 200, body = MergeEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
        (status = 409, description = "merged_elsewhere (the other customer went to a third), busy", body = ErrorBody),
        (status = 422, description = "same_customer", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn merge_customer<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MergeEnvelope>, ApiError> {
    caller.require(Role::Agent)?;
    customer_id(&id)?;
    let request: MergeRequest = parse(&body)?;
    let merged = merge_customer_by(&state, &caller, &id, &request.customer_id).await?;
    Ok(Json(MergeEnvelope {
        merge: merged.merge,
        customer: merged.customer,
    }))
}

/// Merges customer `other` into `id` (the API's and the console's way).
pub async fn merge_customer_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
    other: &str,
) -> Result<Merged, ApiError> {
    caller.require(Role::Agent)?;
    let id = customer_id(id)?;
    let other = customer_id(other.trim())?;
    socialcare_domain::customers::merge_customers(
        &state.store,
        &id,
        &other,
        &caller.name,
        Utc::now(),
    )
    .await
    .map_err(|e| match e {
        MergeError::NotFound(_) => ApiError::not_found(e.to_string()),
        MergeError::Same => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "same_customer",
            e.to_string(),
        ),
        MergeError::MergedElsewhere { .. } => {
            ApiError::new(StatusCode::CONFLICT, "merged_elsewhere", e.to_string())
        }
        MergeError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
        MergeError::Store(e) => ApiError::store(e),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestionsEnvelope {
    /// Other customers who gave a contact this one gave, the likeliest first.
    pub suggestions: Vec<Suggestion>,
}

/// `GET /v1/customers/{id}/suggestions`: the customers who are possibly the same person, each
/// with the contact both gave (an e-mail address, a phone number, an order number) and the
/// ticket where they gave it; merge one with `POST /v1/customers/{id}/merge`.
#[utoipa::path(get, path = "/v1/customers/{id}/suggestions", tag = "customers",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = SuggestionsEnvelope),
        (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn customer_suggestions<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<SuggestionsEnvelope>, ApiError> {
    let suggestions = suggestions_by(&state, &caller, &id).await?;
    Ok(Json(SuggestionsEnvelope { suggestions }))
}

/// The customers possibly the same person as customer `id` (the API's and the console's way).
pub async fn suggestions_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Vec<Suggestion>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(id)?;
    if CustomerStore::get_customer(&state.store, &id)
        .await
        .map_err(ApiError::store)?
        .is_none()
    {
        return Err(ApiError::not_found(format!("no customer {id}")));
    }
    socialcare_domain::contacts::suggestions(&state.store, &id)
        .await
        .map_err(ApiError::store)
}

/// The marks of the customer's e-mail addresses (each bounced, or its owner complained): mail
/// to them is not sent. For the console's ticket page.
pub async fn marks_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Vec<ContactMark>, ApiError> {
    caller.require(Role::Integrator)?;
    let id = customer_id(id)?;
    let Some(customer) = CustomerStore::get_customer(&state.store, &id)
        .await
        .map_err(ApiError::store)?
    else {
        return Err(ApiError::not_found(format!("no customer {id}")));
    };
    let mut marks = Vec::new();
    for address in socialcare_domain::privacy::mail_addresses(&customer) {
        if let Some(mark) = state
            .store
            .contact_marks(&address)
            .await
            .map_err(ApiError::store)?
            .in_force()
        {
            marks.push(mark);
        }
    }
    Ok(marks)
}

/// `GET /v1/customers/{id}/export` (admin): everything socialcare holds about the customer,
/// as one document (a data subject's access request).
#[utoipa::path(get, path = "/v1/customers/{id}/export", tag = "customers",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = CustomerExport),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn export_customer<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<CustomerExport>, ApiError> {
    export_customer_by(&state, &caller, &id).await.map(Json)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureEnvelope {
    pub erasure: Erasure,
}

/// `DELETE /v1/customers/{id}` (admin): erases the customer (their identities, the texts and
/// attachments of their messages, their tickets' subjects and notes) and answers the record
/// of it. Asking again answers the same record; an erasure cut short is finished.
#[utoipa::path(delete, path = "/v1/customers/{id}", tag = "customers",
    params(("id" = String, Path)),
    responses(
        (status = 200, body = ErasureEnvelope),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "busy", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn erase_customer<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Json<ErasureEnvelope>, ApiError> {
    let erasure = erase_customer_by(&state, &caller, &id).await?;
    Ok(Json(ErasureEnvelope { erasure }))
}

/// Erases customer `id` (the API's and the console's way).
pub async fn erase_customer_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<Erasure, ApiError> {
    caller.require(Role::Admin)?;
    let id = customer_id(id)?;
    privacy::erase_customer(&state.store, &id, &caller.name, Utc::now())
        .await
        .map_err(|e| match e {
            ErasureError::NotFound(_) => ApiError::not_found(e.to_string()),
            ErasureError::Contention => ApiError::new(StatusCode::CONFLICT, "busy", e.to_string()),
            ErasureError::Store(e) => ApiError::store(e),
        })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureList {
    /// The latest asked first.
    pub erasures: Vec<Erasure>,
}

/// `GET /v1/erasures` (admin): the audit log of erasures: who asked, when, how much.
#[utoipa::path(get, path = "/v1/erasures", tag = "customers",
    responses(
        (status = 200, body = ErasureList),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn list_erasures<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<ErasureList>, ApiError> {
    caller.require(Role::Admin)?;
    let erasures = state.store.list_erasures().await.map_err(ApiError::store)?;
    Ok(Json(ErasureList { erasures }))
}

/// The export of customer `id` (the API's and the console's way).
pub async fn export_customer_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<CustomerExport, ApiError> {
    caller.require(Role::Admin)?;
    let id = customer_id(id)?;
    privacy::export_customer(&state.store, &id, Utc::now())
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no customer {id}")))
}
