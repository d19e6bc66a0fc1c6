//! `POST/GET /v1/api-keys`, `DELETE /v1/api-keys/{id}` (admin): keys with a role, shown once,
//! kept as hashes.

use super::*;

/// What the API shows of a key: never its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: chrono::DateTime<Utc>,
    pub revoked_at: Option<chrono::DateTime<Utc>>,
    /// The key itself: only in the answer that creates it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl KeyView {
    fn of(key: &ApiKey) -> Self {
        Self {
            id: key.id.clone(),
            name: key.name.clone(),
            role: key.role,
            created_at: key.created_at,
            revoked_at: key.revoked_at,
            key: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    pub api_keys: Vec<KeyView>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewKey {
    pub name: String,
    pub role: Role,
}

/// `POST /v1/api-keys` `{"name": "sally", "role": "agent"}` (admin): the key is in the answer,
/// once; only its hash is stored.
#[utoipa::path(post, path = "/v1/api-keys", tag = "api keys", request_body = NewKey,
    responses(
        (status = 201, body = KeyView),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn create_key<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    body: Bytes,
) -> Result<(StatusCode, Json<KeyView>), ApiError> {
    caller.require(Role::Admin)?;
    let request: NewKey = parse(&body)?;
    Ok((
        StatusCode::CREATED,
        Json(create_key_by(&state, &caller, &request).await?),
    ))
}

/// An admin makes a key; the answer holds it, the only time it is shown.
pub async fn create_key_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    request: &NewKey,
) -> Result<KeyView, ApiError> {
    caller.require(Role::Admin)?;
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_key",
            "name: must be 1 to 100 characters",
        ));
    }
    let mut random = [0u8; 32];
    getrandom::fill(&mut random).map_err(|e| ApiError::unavailable("no_randomness", e))?;
    let secret = format!("sc_{}", hex::encode(random));
    let key = ApiKey::new(&secret, name, request.role, Utc::now());
    state.store.create_key(&key).await.map_err(|e| match e {
        CommitError::Store(e) => ApiError::store(e),
        other => ApiError::unavailable("key_not_created", other),
    })?;
    Ok(KeyView {
        key: Some(secret),
        ..KeyView::of(&key)
    })
}

/// `GET /v1/api-keys` (admin).
#[utoipa::path(get, path = "/v1/api-keys", tag = "api keys",
    responses((status = 200, body = KeyList), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)),
    security(("bearer" = [])))]
pub(super) async fn list_keys<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<KeyList>, ApiError> {
    caller.require(Role::Admin)?;
    let keys = state.store.list_keys().await.map_err(ApiError::store)?;
    Ok(Json(KeyList {
        api_keys: keys.iter().map(KeyView::of).collect(),
    }))
}

/// `DELETE /v1/api-keys/{id}` (admin): the key stops working at once; its record stays.
#[utoipa::path(delete, path = "/v1/api-keys/{id}", tag = "api keys",
    params(("id" = String, Path)),
    responses(
        (status = 204, description = "revoked"),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(super) async fn revoke_key<S: Store>(
    State(state): State<Arc<ApiState<S>>>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    revoke_key_by(&state, &caller, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An admin revokes key `id`: it stops working at once (and so do its console sessions).
pub async fn revoke_key_by<S: Store>(
    state: &ApiState<S>,
    caller: &Caller,
    id: &str,
) -> Result<(), ApiError> {
    caller.require(Role::Admin)?;
    let key = state
        .store
        .get_key(id)
        .await
        .map_err(ApiError::store)?
        .ok_or_else(|| ApiError::not_found(format!("no API key {id}")))?;
    if key.revoked_at.is_none() {
        let revoked = ApiKey {
            revoked_at: Some(Utc::now()),
            ..key
        };
        state
            .store
            .put_key(&revoked)
            .await
            .map_err(ApiError::store)?;
    }
    Ok(())
}
